// Builds every .wasm variant from the one AssemblyScript source (see asconfig.json targets).
import { main } from "assemblyscript/asc";

const targets = process.argv.slice(2).length ? process.argv.slice(2) : ["simd", "relaxed", "scalar", "simd-shared", "relaxed-shared", "scalar-shared"];
for (const target of targets) {
  const { error, stderr } = await main(["assembly/index.ts", "--config", "asconfig.json", "--target", target]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: target '${target}' failed: ${error.message}`);
    process.exit(1);
  }
}
console.log(`build-wasm: built ${targets.join(", ")}`);
