// `sample` and `reconstruct`: PNG grids from a saved model.
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { dirname, join } from "node:path";
import { decodeSafetensors } from "../files/safetensors.js";
import { cliData } from "./data.js";
import { takeRows } from "../data/rows.js";
import { gridPng, pairsGrid } from "../pictures/image.js";
import { VAE } from "../vae.js";
import { readModel, type Args } from "./args.js";

/**
 * `sample` and `reconstruct`: a PNG grid from a saved model. A row's image shape comes from the
 * model file (what train saw: a folder of PNGs' [H, W] or [H, W, 3]), else a square grey image.
 */
export async function pictures(args: Args, what: "sample" | "reconstruct"): Promise<void> {
  const bytes = readModel(args.model!);
  const vae = await VAE.load(bytes, { build: args.build });
  const D = vae.config.inputDim;
  const grid = { ...imageGrid(what, bytes, D), columns: 8 };
  const file = args.out ?? join(args.outDir, `${what === "sample" ? "samples" : "reconstructions"}.png`);
  mkdirSync(dirname(file) || ".", { recursive: true });
  if (what === "sample") {
    const n = args.count ?? 64;
    writeFileAtomicSync(file, gridPng(vae.sample(n, { seed: args.seed }), n, grid));
  } else {
    const n = args.count ?? 32;
    const inputs = takeRows((await cliData(args, true)).test, n).data;
    const pairs = pairsGrid(inputs, vae.reconstruct(inputs), n, 8, D);
    writeFileAtomicSync(file, gridPng(pairs, pairs.length / D, grid));
  }
  process.stdout.write(`wrote ${file}\n`);
  vae.dispose();
}

/** The tile size and channels of a model's rows as pictures; an error when they are not images. */
export function imageGrid(what: string, modelBytes: Uint8Array, D: number): { width: number; height: number; channels: 1 | 3 } {
  const stored = decodeSafetensors(modelBytes).metadata.image;
  if (stored !== undefined) {
    let s: number[] | null = null;
    try {
      s = JSON.parse(stored) as number[];
    } catch {
      // (a damaged entry: fall back to the square guess)
    }
    if (Array.isArray(s) && s[0] * s[1] * (s[2] ?? 1) === D) return { height: s[0], width: s[1], channels: s[2] === 3 ? 3 : 1 };
  }
  const side = Math.round(Math.sqrt(D));
  if (side * side !== D) {
    throw new Error(`${what}: the model's rows (${D} values) are not square grey images, and its file does not say their shape ` +
      "(models trained by the CLI on a folder of PNG images do)");
  }
  return { width: side, height: side, channels: 1 };
}
