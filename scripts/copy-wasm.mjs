// Copies build/*.wasm next to the compiled bindings (dist/build), where bindings/load.ts looks
// for them relative to its own URL in both the source tree and dist/.
import { cpSync, mkdirSync, readdirSync } from "node:fs";

mkdirSync("dist/build", { recursive: true });
for (const f of readdirSync("build")) if (f.endsWith(".wasm")) cpSync(`build/${f}`, `dist/build/${f}`);
