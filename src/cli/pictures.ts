// `sample` and `reconstruct`: PNG grids from a saved model.
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { dirname, join } from "node:path";
import { loadMnist } from "../data/mnist.js";
import { takeRows } from "../data/rows.js";
import { gridPng, pairsGrid } from "../pictures/image.js";
import { VAE } from "../vae.js";
import { readModel, type Args } from "./args.js";

/** `sample` and `reconstruct`: a PNG grid from a saved model (28×28 images when D = 784). */
export async function pictures(args: Args, what: "sample" | "reconstruct"): Promise<void> {
  const vae = await VAE.load(readModel(args.model!), { build: args.build });
  const D = vae.config.inputDim, side = Math.round(Math.sqrt(D));
  if (side * side !== D) throw new Error(`${what}: the model's input size ${D} is not a square image`);
  const file = args.out ?? join(args.outDir, `${what === "sample" ? "samples" : "reconstructions"}.png`);
  mkdirSync(dirname(file) || ".", { recursive: true });
  const grid = { width: side, height: side, columns: 8 };
  if (what === "sample") {
    const n = args.count ?? 64;
    writeFileAtomicSync(file, gridPng(vae.sample(n, { seed: args.seed }), n, grid));
  } else {
    const n = args.count ?? 32;
    const ds = await loadMnist(args.data);
    const inputs = takeRows(ds.test, n).data;
    const pairs = pairsGrid(inputs, vae.reconstruct(inputs), n, 8, D);
    writeFileAtomicSync(file, gridPng(pairs, pairs.length / D, grid));
  }
  process.stdout.write(`wrote ${file}\n`);
  vae.dispose();
}
