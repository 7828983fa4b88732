// `semi`: semi-supervised M2 with N labels, on MNIST or a labelled CSV of your own.
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { join } from "node:path";
import { checkBernoulliRange, cliData } from "./data.js";
import { SemiSupervisedVAE } from "../m2.js";
import { gridPng } from "../pictures/image.js";
import { SeededRandom } from "../util/random.js";
import { log, usageError, type Args } from "./args.js";

/** `semi`: M2 with N labels; test accuracy, a conditional generation picture (image rows), the model. */
export async function semiSupervised(args: Args): Promise<void> {
  const o = args.semi!;
  const data = await cliData(args);
  const pool = data.train, test = data.test;
  if (!data.trainLabels || !data.testLabels) usageError(`semi needs class labels: give the CSV column that holds them with --label-column C`);
  const trainLabels = data.trainLabels, D = pool.cols;
  checkBernoulliRange(data.name, [pool, test], "bernoulli");
  let C = 0;
  for (const ls of [trainLabels, data.testLabels]) for (let i = 0; i < ls.length; i++) C = Math.max(C, ls[i] + 1);
  if (C < 2) usageError(`semi needs at least 2 classes; the labels of ${data.name} are all 0`);
  if (o.labels % C !== 0 || o.labels > pool.rows / 2) usageError(`--labels must be a multiple of the ${C} classes and at most half the ${pool.rows} training rows; got ${o.labels}`);
  // N/C labelled rows per class, in a seeded random order; every other training row is unlabelled
  const order = new SeededRandom(args.seed, 21).permutation(pool.rows);
  const per = new Array(C).fill(0), picked: number[] = [];
  for (const i of order) if (picked.length < o.labels && per[trainLabels[i]] < o.labels / C) per[trainLabels[i]]++, picked.push(i);
  const short = per.findIndex((n) => n < o.labels / C);
  if (short >= 0) usageError(`--labels ${o.labels} needs ${o.labels / C} training rows of each class; class ${short} has ${per[short]}`);
  const isLabelled = new Uint8Array(pool.rows);
  for (const i of picked) isLabelled[i] = 1;
  const xl = new Float32Array(picked.length * D), xu = new Float32Array((pool.rows - picked.length) * D);
  picked.forEach((i, j) => xl.set(pool.data.subarray(i * D, (i + 1) * D), j * D));
  let u = 0;
  for (let i = 0; i < pool.rows; i++) if (!isLabelled[i]) xu.set(pool.data.subarray(i * D, (i + 1) * D), D * u++);
  const m = await SemiSupervisedVAE.create({ inputDim: D, classes: C, latentDim: o.latent, hidden: o.hidden, seed: args.seed, build: args.build, threads: args.threads });
  log(args, `vae-wasm semi: M2, ${D}-${o.hidden.join("-")}-${o.latent} (${m.parameterCount.toLocaleString("en")} parameters, ${m.threads} thread${m.threads > 1 ? "s" : ""}), ${picked.length} labelled / ` +
    `${u} unlabelled training rows, ${o.tau ? `Gumbel-softmax y (τ = ${o.tau})` : "y enumerated"}, α ${o.alpha}${args.beta !== 1 ? `, β ${args.beta}` : ""}, batch ${o.batchSize}, ${args.epochs} epochs`);
  const testLabels = Array.from({ length: test.rows }, (_, i) => data.testLabels![i]);
  const t0 = performance.now();
  const history = await m.fit({ x: xl, labels: Array.from(picked, (i) => trainLabels[i]) }, { data: xu, rows: u, cols: D }, {
    epochs: args.epochs, batchSize: o.batchSize, learningRate: args.lr, alpha: o.alpha, binarize: o.binarize,
    ...(o.labelledWeight !== undefined ? { labelledWeight: o.labelledWeight } : {}), ...(args.beta !== 1 ? { beta: args.beta } : {}),
    ...(o.tau ? { gumbelSoftmax: { temperature: o.tau } } : {}), validation: { x: test, labels: testLabels },
    onEpochEnd: (r) => log(args, `epoch ${r.epoch}/${args.epochs}: loss ${r.loss.toFixed(2)}, unlabelled −U ${r.unlabelledLoss.toFixed(2)}, ` +
      `test accuracy ${(100 * r.accuracy!).toFixed(2)} % (${r.seconds.toFixed(1)} s)`),
  });
  const accuracy = history[history.length - 1].accuracy!;
  mkdirSync(args.outDir, { recursive: true });
  // conditional generation: rows share z ~ N(0, I), columns are the classes
  const picture = join(args.outDir, "m2-generation.png");
  const image = data.image;
  if (image) {
    const rows = 8;
    writeFileAtomicSync(picture, gridPng(m.generateByClass(rows, args.seed), rows * C,
      { width: image[1], height: image[0], columns: C, channels: image[2] === 3 ? 3 : 1 }));
  }
  const file = args.out ?? "m2.safetensors";
  writeFileAtomicSync(file, m.save());
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({ labels: picked.length, unlabelled: u, config: m.config, alpha: o.alpha, gumbelSoftmax: o.tau || null,
      labelledWeight: o.labelledWeight ?? 1, beta: args.beta,
      epochs: args.epochs, history, testAccuracy: accuracy, testImages: test.rows, seconds, files: image ? [picture, file] : [file] }) + "\n");
  } else {
    process.stdout.write(`test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.rows} test rows with ${picked.length} labels; wrote ${image ? `${picture}, ` : ""}${file}\n`);
  }
  m.dispose();
}
