// `traverse` and `interpolate`: pictures of a saved model's latent space. The traversal has a
// row per latent dimension, most used first, each led by a marker tile (green: active, red:
// inactive); the interpolation has two rows per pair of test rows (linear, then spherical), each
// from the first row to the second with the rows themselves at the ends.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomicSync } from "../files/atomic.js";
import { gridPng } from "../pictures/image.js";
import { VAE } from "../vae.js";
import { readModel, usageError, type Args } from "./args.js";
import { cliData } from "./data.js";
import { imageGrid } from "./pictures.js";

/** Rows of a model's outputs as RGB tiles (grey levels repeated). */
function rgb(rows: Float32Array, channels: 1 | 3): Float32Array {
  if (channels === 3) return rows;
  const out = new Float32Array(rows.length * 3);
  for (let i = 0; i < rows.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = rows[i];
  return out;
}

export async function explore(args: Args, what: "traverse" | "interpolate"): Promise<void> {
  const bytes = readModel(args.model!);
  const vae = await VAE.load(bytes, { build: args.build });
  const D = vae.config.inputDim;
  const shape = imageGrid(what, bytes, D);
  const tile = 3 * shape.width * shape.height; // (RGB)
  const data = await cliData({ ...args, testSize: args.testSize ?? 1000 }, true);
  const x = data.test;
  const file = args.out ?? join(args.outDir, `${what === "traverse" ? "traverse" : "interpolate"}.png`);
  mkdirSync(dirname(file) || ".", { recursive: true });
  let tiles: Float32Array, columns: number, legend: string;
  if (what === "traverse") {
    if (args.row >= x.rows) usageError(`--row ${args.row}: the test data has ${x.rows} rows`);
    const t = vae.traversal(x, { row: args.row, steps: args.steps ?? 9 });
    columns = t.values.length + 1;
    const images = rgb(t.images, shape.channels);
    tiles = new Float32Array(t.dims.length * columns * tile);
    t.dims.forEach((d, r) => {
      const marker = tiles.subarray(r * columns * tile, (r * columns + 1) * tile);
      for (let p = 0; p < marker.length; p += 3) marker.set(d.active ? [0.2, 0.7, 0.3] : [0.85, 0.15, 0.15], p);
      tiles.set(images.subarray(r * (columns - 1) * tile, (r + 1) * (columns - 1) * tile), (r * columns + 1) * tile);
    });
    legend = `rows: latent dimensions by KL, most used first (marker green: active, red: inactive, activity Var E[z|x] ≤ 0.01)\n` +
      t.dims.map((d) => `  z${d.dim}: KL ${d.kl.toFixed(3)} nats, activity ${d.activity.toFixed(3)}${d.active ? "" : "  (inactive)"}`).join("\n") +
      `\ncolumns: z = ${t.values.map((v) => v.toFixed(2)).join(", ")} (N(0, 1) quantiles), the other dimensions at test row ${args.row}'s code`;
  } else {
    const pairs = Math.min(args.count ?? 4, Math.floor(x.rows / 2));
    if (pairs < 1) usageError("interpolate needs at least 2 test rows");
    const steps = args.steps ?? 10;
    columns = steps + 2;
    tiles = new Float32Array(2 * pairs * columns * tile);
    for (let i = 0; i < pairs; i++) {
      const a = x.data.subarray(2 * i * D, (2 * i + 1) * D), b = x.data.subarray((2 * i + 1) * D, (2 * i + 2) * D);
      (["linear", "spherical"] as const).forEach((path, k) => {
        const row = (2 * i + k) * columns * tile;
        tiles.set(rgb(a, shape.channels), row);
        tiles.set(rgb(vae.interpolate(a, b, { steps, path }), shape.channels), row + tile);
        tiles.set(rgb(b, shape.channels), row + (columns - 1) * tile);
      });
    }
    legend = `rows: ${pairs} pairs of test rows (0–1, 2–3, …), each as a linear then a spherical path of ${steps} decoded points between their codes, the rows themselves at the ends`;
  }
  writeFileAtomicSync(file, gridPng(tiles, tiles.length / tile, { width: shape.width, height: shape.height, columns, channels: 3 }));
  process.stdout.write(`${legend}\nwrote ${file}\n`);
  vae.dispose();
}
