// `semi`: semi-supervised M2 with N labels, on MNIST or a labelled CSV of your own; with
// --features VAE, Kingma et al.'s M1+M2 (M2 on the active units of a trained VAE's posterior).
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { join } from "node:path";
import { checkBernoulliRange, cliData } from "./data.js";
import { SemiSupervisedVAE } from "../m2.js";
import { LatentFeatures } from "../m2/features.js";
import { VAE } from "../vae.js";
import type { Matrix } from "../util/validate.js";
import { gridPng } from "../pictures/image.js";
import { SeededRandom } from "../util/random.js";
import { learningRateOf, log, readModel, usageError, type Args } from "./args.js";

/** `semi`: M2 with N labels; test accuracy, a conditional generation picture (image rows), the model. */
export async function semiSupervised(args: Args): Promise<void> {
  const o = args.semi!;
  const data = await cliData(args);
  const pool = data.train, test = data.test;
  if (!data.trainLabels || !data.testLabels) usageError(`semi needs class labels: give the CSV column that holds them with --label-column C`);
  const trainLabels = data.trainLabels;
  // M1+M2: the VAE of --features maps every row to its standardised active units
  let m1: VAE | null = null, lf: LatentFeatures | null = null;
  if (o.features !== undefined) {
    if (args.binarizeGiven) usageError("--binarize applies to M2 on pixels; with --features M2 learns from real-valued features (binarize when training the VAE)");
    m1 = await VAE.load(readModel(o.features), { build: args.build, threads: args.threads });
    if (m1.config.inputDim !== pool.cols) usageError(`--features ${o.features} is a VAE of ${m1.config.inputDim} inputs; ${data.name} has ${pool.cols} columns`);
    checkBernoulliRange(data.name, [pool, test], m1.config.likelihood.type);
    lf = LatentFeatures.fit(m1, pool);
    log(args, `vae-wasm semi: features of ${o.features}: ${lf.dim} active units of its ${m1.config.latentDim}, standardised over the ${pool.rows} training rows`);
  } else {
    checkBernoulliRange(data.name, [pool, test], "bernoulli");
  }
  const featuresOf = (m: Matrix): Matrix => (lf ? { data: lf.transform(m), rows: m.rows, cols: lf.dim } : m);
  const train = featuresOf(pool), testX = featuresOf(test), D = train.cols;
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
  picked.forEach((i, j) => xl.set(train.data.subarray(i * D, (i + 1) * D), j * D));
  let u = 0;
  for (let i = 0; i < pool.rows; i++) if (!isLabelled[i]) xu.set(train.data.subarray(i * D, (i + 1) * D), D * u++);
  const m = await SemiSupervisedVAE.create({
    inputDim: D, classes: C, latentDim: o.latent, hidden: o.hidden, seed: args.seed, build: args.build, threads: args.threads,
    ...(lf ? { likelihood: { type: "gaussian", learnVariance: true } } : {}),
  });
  const lrEnd = args.lrEnd;
  log(args, `vae-wasm semi: M2${lf ? " (Gaussian decoder, on the VAE's features)" : ""}, ${D}-${o.hidden.join("-")}-${o.latent} (${m.parameterCount.toLocaleString("en")} parameters, ${m.threads} thread${m.threads > 1 ? "s" : ""}), ${picked.length} labelled / ` +
    `${u} unlabelled training rows, ${o.tau ? `Gumbel-softmax y (τ = ${o.tau})` : "y enumerated"}, α ${o.alpha}${args.beta !== 1 ? `, β ${args.beta}` : ""}, batch ${o.batchSize}, ${args.epochs} epochs` +
    `${lrEnd !== undefined ? `, lr ${args.lr} → ${lrEnd}` : ""}`);
  const testLabels = Array.from({ length: test.rows }, (_, i) => data.testLabels![i]);
  const t0 = performance.now();
  const history = await m.fit({ x: xl, labels: Array.from(picked, (i) => trainLabels[i]) }, { data: xu, rows: u, cols: D }, {
    epochs: args.epochs, batchSize: o.batchSize, alpha: o.alpha, binarize: !lf && o.binarize,
    learningRate: learningRateOf(args),
    ...(o.labelledWeight !== undefined ? { labelledWeight: o.labelledWeight } : {}), ...(args.beta !== 1 ? { beta: args.beta } : {}),
    ...(o.tau ? { gumbelSoftmax: { temperature: o.tau } } : {}), validation: { x: testX, labels: testLabels },
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
    // (M1+M2: M2 generates features, the VAE's decoder turns them into images)
    const generated = m.generateByClass(rows, args.seed);
    writeFileAtomicSync(picture, gridPng(m1 && lf ? m1.decode({ data: lf.inverse(generated), rows: rows * C, cols: m1.config.latentDim }) : generated, rows * C,
      { width: image[1], height: image[0], columns: C, channels: image[2] === 3 ? 3 : 1 }));
  }
  const file = args.out ?? "m2.safetensors";
  writeFileAtomicSync(file, m.save());
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({ labels: picked.length, unlabelled: u, config: m.config, alpha: o.alpha, gumbelSoftmax: o.tau || null,
      labelledWeight: o.labelledWeight ?? 1, beta: args.beta, features: o.features ?? null, activeUnits: lf ? Array.from(lf.units) : null,
      learningRate: args.lr, learningRateEnd: lrEnd ?? args.lr, epochs: args.epochs, history, testAccuracy: accuracy, testImages: test.rows, seconds, files: image ? [picture, file] : [file] }) + "\n");
  } else {
    process.stdout.write(`test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.rows} test rows with ${picked.length} labels; wrote ${image ? `${picture}, ` : ""}${file}` +
      `${lf ? ` (an M2 of ${o.features}'s features: LatentFeatures.fit(vae, the training rows) gives them)` : ""}\n`);
  }
  m.dispose();
  m1?.dispose();
}
