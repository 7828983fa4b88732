// Checkpoints on the command line: where `train` writes them, when, and the flags of the run a
// checkpoint continues (kept in its metadata under `cli`).
import { readFileSync } from "node:fs";
import { decodeSafetensors } from "../files/safetensors.js";
import type { VAE } from "../vae.js";
import { writeFileAtomicSync } from "../files/atomic.js";
import { runFlags, usageError } from "./args.js";

/** The metadata key of the command line's flags in a checkpoint the CLI writes. */
const CLI_KEY = "cli";

/** The flags of the run a checkpoint file continues. */
export function checkpointFlags(path: string): string[] {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    usageError(`--resume: cannot read '${path}': ${(e as Error).message}`);
  }
  const { metadata } = decodeSafetensors(bytes, `--resume ${path}`);
  if (metadata.checkpoint === undefined) {
    usageError(`--resume: '${path}' is a model file, not a checkpoint (it holds no optimizer state); train a new run, or load it with eval/sample`);
  }
  if (metadata[CLI_KEY] === undefined) return [];
  let flags: unknown;
  try {
    flags = JSON.parse(metadata[CLI_KEY]);
  } catch {
    flags = null;
  }
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === "string")) usageError(`--resume: '${path}' has a damaged '${CLI_KEY}' metadata entry (the run's flags)`);
  return flags as string[];
}

/** Where a run's checkpoints go: --checkpoint, or (on Ctrl-C only) beside the model file. */
export function checkpointPath(given: string | undefined, modelFile: string): string {
  return given ?? modelFile.replace(/(\.safetensors)?$/, ".checkpoint.safetensors");
}

/** Writes the model's checkpoint (atomically) with the run's flags. */
export function writeCheckpoint(vae: VAE, file: string, argv: string[]): void {
  writeFileAtomicSync(file, vae.checkpoint({ metadata: { [CLI_KEY]: JSON.stringify(runFlags(argv)) } }));
}
