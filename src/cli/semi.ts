// `semi`: semi-supervised M2 on MNIST with N labels.
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { join } from "node:path";
import { loadMnist } from "../data/mnist.js";
import { takeRows } from "../data/rows.js";
import { SemiSupervisedVAE } from "../m2.js";
import { gridPng } from "../pictures/image.js";
import { SeededRandom } from "../util/random.js";
import { log, usageError, type Args } from "./args.js";

/** `semi`: M2 on MNIST with N labels; test accuracy, a conditional generation picture, the model. */
export async function semiSupervised(args: Args): Promise<void> {
  const o = args.semi!;
  const ds = await loadMnist(args.data);
  const pool = args.trainSize ? takeRows(ds.train, args.trainSize) : ds.train;
  const test = args.testSize ? takeRows(ds.test, args.testSize) : ds.test;
  const D = pool.cols, C = 10;
  if (o.labels % C !== 0 || o.labels > pool.rows / 2) usageError(`--labels must be a multiple of ${C} and at most half the training digits; got ${o.labels}`);
  // N/10 labelled digits per class, in a seeded random order; every other training digit is unlabelled
  const order = new SeededRandom(args.seed, 21).permutation(pool.rows);
  const per = new Array(C).fill(0), picked: number[] = [];
  for (const i of order) if (picked.length < o.labels && per[ds.trainLabels[i]] < o.labels / C) per[ds.trainLabels[i]]++, picked.push(i);
  const isLabelled = new Uint8Array(pool.rows);
  for (const i of picked) isLabelled[i] = 1;
  const xl = new Float32Array(picked.length * D), xu = new Float32Array((pool.rows - picked.length) * D);
  picked.forEach((i, j) => xl.set(pool.data.subarray(i * D, (i + 1) * D), j * D));
  let u = 0;
  for (let i = 0; i < pool.rows; i++) if (!isLabelled[i]) xu.set(pool.data.subarray(i * D, (i + 1) * D), D * u++);
  const m = await SemiSupervisedVAE.create({ inputDim: D, classes: C, latentDim: o.latent, hidden: o.hidden, seed: args.seed, build: args.build });
  log(args, `vae-wasm semi: M2, ${D}-${o.hidden.join("-")}-${o.latent} (${m.parameterCount.toLocaleString("en")} parameters), ${picked.length} labelled / ` +
    `${u} unlabelled training digits, ${o.tau ? `Gumbel-softmax y (τ = ${o.tau})` : "y enumerated"}, α ${o.alpha}, batch ${o.batchSize}, ${args.epochs} epochs`);
  const testLabels = ds.testLabels.subarray(0, test.rows);
  const t0 = performance.now();
  const history = await m.fit({ x: xl, labels: Array.from(picked, (i) => ds.trainLabels[i]) }, { data: xu, rows: u, cols: D }, {
    epochs: args.epochs, batchSize: o.batchSize, learningRate: args.lr, alpha: o.alpha, binarize: o.binarize,
    ...(o.labelledWeight !== undefined ? { labelledWeight: o.labelledWeight } : {}),
    ...(o.tau ? { gumbelSoftmax: { temperature: o.tau } } : {}), validation: { x: test, labels: testLabels },
    onEpochEnd: (r) => log(args, `epoch ${r.epoch}/${args.epochs}: loss ${r.loss.toFixed(2)}, unlabelled −U ${r.unlabelledLoss.toFixed(2)}, ` +
      `test accuracy ${(100 * r.accuracy!).toFixed(2)} % (${r.seconds.toFixed(1)} s)`),
  });
  const accuracy = history[history.length - 1].accuracy!;
  mkdirSync(args.outDir, { recursive: true });
  // conditional generation: rows share z ~ N(0, I), columns are the classes 0…9
  const rows = 8, z = new Float32Array(rows * C * o.latent), rng = new SeededRandom(args.seed, 3);
  for (let r = 0; r < rows; r++) {
    const zr = Array.from({ length: o.latent }, () => rng.normal());
    for (let y = 0; y < C; y++) z.set(zr, (r * C + y) * o.latent);
  }
  const picture = join(args.outDir, "m2-generation.png");
  const side = Math.round(Math.sqrt(D));
  writeFileAtomicSync(picture, gridPng(m.generate(z, Array.from({ length: rows * C }, (_, i) => i % C)), rows * C, { width: side, height: side, columns: C }));
  const file = args.out ?? "m2.safetensors";
  writeFileAtomicSync(file, m.save());
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({ labels: picked.length, unlabelled: u, config: m.config, alpha: o.alpha, gumbelSoftmax: o.tau || null,
      labelledWeight: o.labelledWeight ?? picked.length / u,
      epochs: args.epochs, history, testAccuracy: accuracy, testImages: test.rows, seconds, files: [picture, file] }) + "\n");
  } else {
    process.stdout.write(`test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.rows} test digits with ${picked.length} labels; wrote ${picture}, ${file}\n`);
  }
  m.dispose();
}
