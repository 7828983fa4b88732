#!/usr/bin/env node
// vae-wasm command line: train on MNIST (or IDX files), evaluate, and write pictures.
// Progress goes to stderr; results to stdout (one JSON object with --json). The commands are
// in src/cli/.
import { main } from "./cli/main.js";

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`vae-wasm: ${e.message}\n`);
  process.exit(1);
});
