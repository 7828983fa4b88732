// M1+M2 with 100 labels (Kingma et al. 2014, sec. 3.2 "stacked"): a VAE (M1, 784-600-600-50,
// Bernoulli, trained without labels on the first 50,000 training digits) gives every digit a
// posterior q(z1|x); M2 with a Gaussian decoder (learned variance per value) is trained on z1
// with 100 labels. Chosen on VALIDATION digits (the last 10,000 training digits, never trained
// on); the test accuracy is reported, not used to choose. The labelled digits are those of
// bench/m2-recipe.mjs and `vae-wasm semi` for the same seed.
//   node bench/m1m2-recipe.mjs SETTING[,SETTING…] [EPOCHS=30] [THREADS=2] [SEED=1] [M1_EPOCHS=100]   (after npm run build)
// M1 is trained once per (M1_EPOCHS, SEED) and kept in M1M2_CACHE (default $TMPDIR/vae-wasm-m1m2);
// its time is listed with every run that used it. Finished runs are kept in
// bench/results/m1m2-runs/ and not run again; bench/results/m1m2-recipe.md is written from them.
// The features (LatentFeatures): the units M1 uses (the variance over the data of their posterior
// means above 0.01, Burda et al.'s "active units"), each standardised by the mean and standard
// deviation of its posterior means over the 50,000 digits.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { LatentFeatures, loadMnist, SemiSupervisedVAE, VAE } from "../dist/src/index.js";
import { SeededRandom } from "../dist/src/util/random.js";
import { describeCpu } from "./cpu.mjs";

/** The learning rate 1e-3 falling one decade over a run of E epochs. */
const decade = (E) => (e) => 1e-3 * 0.1 ** (e / E);

/**
 * Every setting: its description, M2's options, its fit options, and its features: 'mean' (M1's
 * posterior means) or 'sample' (a fresh z1 ~ q(z1|x) of every unlabelled and labelled digit each
 * epoch; validation and test digits are classified by their means).
 */
export const SETTINGS = {
  mean: { what: "z1 = M1's posterior mean; M2's defaults (α 50), lr decade", features: "mean", fit: {} },
  sample: { what: "z1 ~ q(z1|x) drawn afresh each epoch; M2's defaults (α 50), lr decade", features: "sample", fit: {} },
  "mean-a10": { what: "z1 = M1's posterior mean; α 10, lr decade", features: "mean", fit: { alpha: 10 } },
  "mean-a200": { what: "z1 = M1's posterior mean; α 200, lr decade", features: "mean", fit: { alpha: 200 } },
  "mean-fixed": { what: "z1 = M1's posterior mean; Gaussian variance fixed at 1, lr decade", features: "mean", create: { likelihood: "gaussian" }, fit: {} },
};

const names = (process.argv[2] ?? "").split(",").filter(Boolean);
for (const n of names) if (!SETTINGS[n]) throw new Error(`m1m2-recipe: unknown setting '${n}' (one of ${Object.keys(SETTINGS).join(", ")})`);
const [epochs, threads, seed, m1Epochs] = [30, 2, 1, 100].map((d, i) => Number(process.argv[3 + i] ?? d));
const kept = "bench/results/m1m2-runs";
mkdirSync(kept, { recursive: true });

const { train, trainLabels, test, testLabels } = await loadMnist();
const D = 784, NT = 50_000, NL = 100, Z1 = 50;

// M1: trained once, kept
const cache = process.env.M1M2_CACHE ?? `${tmpdir()}/vae-wasm-m1m2`;
mkdirSync(cache, { recursive: true });
const m1File = `${cache}/m1-${m1Epochs}-epochs-seed-${seed}.safetensors`, m1Info = m1File.replace(/safetensors$/, "json");
let m1;
if (existsSync(m1File) && existsSync(m1Info)) {
  m1 = await VAE.load(readFileSync(m1File), { threads });
} else {
  m1 = await VAE.create({ inputDim: D, hidden: [600, 600], latentDim: Z1, seed, threads });
  const t0 = Date.now();
  const h = await m1.fit({ data: train.data.subarray(0, NT * D), rows: NT, cols: D }, {
    epochs: m1Epochs, binarize: true, learningRate: decade(m1Epochs),
    onEpochEnd: (r) => console.log(`M1 epoch ${r.epoch}: loss ${r.loss.toFixed(2)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`),
  });
  writeFileSync(m1File, m1.save());
  writeFileSync(m1Info, JSON.stringify({ seconds: (Date.now() - t0) / 1000, threads, loss: h[h.length - 1].loss }));
}
const m1Run = JSON.parse(readFileSync(m1Info, "utf8"));

// the features: M1's active units, standardised over the first 50,000 training digits (LatentFeatures);
// 'sample' draws z1 ~ q(z1|x) of the same units with the same standardisation
const trainX = { data: train.data, rows: 60_000, cols: D };
const lf = LatentFeatures.fit(m1, { data: train.data.subarray(0, NT * D), rows: NT, cols: D });
const A = lf.dim;
const meansTrain = lf.transform(trainX), meansTest = lf.transform(test);
const { logvar: logvarTrain } = m1.encode(trainX);
m1.dispose();
console.log(`M1 (${m1Epochs} epochs, loss ${m1Run.loss.toFixed(2)}): ${A} active units of ${Z1}`);
/** The features of training rows `idx`: their means, or one draw keyed by (seed, draw). */
const features = (idx, draw = -1) => {
  const out = new Float32Array(idx.length * A);
  const rng = draw >= 0 ? new SeededRandom(seed, 1000 + draw) : null;
  idx.forEach((i, r) => {
    for (let a = 0; a < A; a++) {
      out[r * A + a] = meansTrain[i * A + a] + (rng ? (Math.exp(0.5 * logvarTrain[i * Z1 + lf.units[a]]) * rng.normal()) / lf.std[a] : 0);
    }
  });
  return out;
};

// the labelled digits: as bench/m2-recipe.mjs and `vae-wasm semi` pick them
const order = new SeededRandom(seed, 21).permutation(NT);
const per = new Array(10).fill(0), picked = [];
for (const i of order) if (picked.length < NL && per[trainLabels[i]] < NL / 10) per[trainLabels[i]]++, picked.push(i);
const isLabelled = new Uint8Array(NT);
for (const i of picked) isLabelled[i] = 1;
const unlabelledIdx = [...Array(NT).keys()].filter((i) => !isLabelled[i]);
const labels = Array.from(picked, (i) => trainLabels[i]);
const valIdx = Array.from({ length: 60_000 - NT }, (_, i) => NT + i);
const val = { data: features(valIdx), rows: valIdx.length, cols: A }, valLabels = Array.from(trainLabels.subarray(NT));
const testX = { data: meansTest, rows: 10_000, cols: A };

for (const name of names) {
  const file = `${kept}/${name}-${epochs}-epochs-seed-${seed}-m1-${m1Epochs}.json`;
  if (existsSync(file)) {
    console.log(`${name}: kept from an earlier sitting (${file})`);
    continue;
  }
  const s = SETTINGS[name];
  const m = await SemiSupervisedVAE.create({ inputDim: A, seed, threads, likelihood: { type: "gaussian", learnVariance: true }, ...s.create });
  const t0 = Date.now();
  const validation = [];
  const lr = decade(epochs);
  // one fit a epoch: 'sample' draws new features each time (Adam's state goes on across fits)
  let xl = features(picked), xu = features(unlabelledIdx);
  for (let e = 0; e < epochs; e++) {
    if (s.features === "sample") xl = features(picked, 2 * e), xu = features(unlabelledIdx, 2 * e + 1);
    const [r] = await m.fit({ x: xl, labels }, { data: xu, rows: unlabelledIdx.length, cols: A }, {
      epochs: 1, learningRate: lr(e), ...s.fit, validation: { x: val, labels: valLabels },
    });
    validation.push(r.accuracy);
    console.log(`${name} epoch ${e + 1}: validation ${(100 * r.accuracy).toFixed(2)} % (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const seconds = (Date.now() - t0) / 1000;
  const testAccuracy = m.accuracy(testX, Array.from(testLabels));
  writeFileSync(file, JSON.stringify({ name, what: s.what, epochs, seed, threads, m1Epochs, m1Seconds: m1Run.seconds, m1Threads: m1Run.threads,
    m1Loss: m1Run.loss, active: A, seconds, testAccuracy, validation }));
  console.log(`${name}: validation ${(100 * validation[validation.length - 1]).toFixed(2)} %, test ${(100 * testAccuracy).toFixed(2)} % in ${(seconds / 60).toFixed(1)} min (+ M1 ${(m1Run.seconds / 60).toFixed(1)} min)`);
  m.dispose();
}

const runs = readdirSync(kept).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(`${kept}/${f}`, "utf8")))
  .sort((a, b) => a.m1Epochs - b.m1Epochs || a.epochs - b.epochs || a.name.localeCompare(b.name) || a.seed - b.seed);
const pct = (v) => `${(100 * v).toFixed(2)} %`;
const md = `# M1+M2 with 100 labels

\`node bench/m1m2-recipe.mjs SETTING[,SETTING…] [EPOCHS] [THREADS] [SEED] [M1_EPOCHS]\` (after \`npm run build\`):
M1 is a VAE (784-600-600-50, relu, Bernoulli, dynamic binarization, batch 128, lr 1e-3 falling one
decade over its epochs) trained without labels on the first 50,000 training digits; M2 (A-500-50, relu,
Gaussian decoder with a learned variance per value, y enumerated, batch 100 unlabelled + 100
labelled) is trained on the standardised active units of M1's posterior, with the 100 labelled
digits of \`bench/m2-recipe.mjs\` (10 per class, same seed) and the other 49,900. Settings are
compared on the **validation** digits (the last 10,000 training digits, never trained on); the
test accuracy is listed but not used to choose. Host: ${describeCpu()}.

| setting | M1 epochs (time) | active units | M2 epochs | seed | validation (last) | by epoch | test | M2 time |
| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |
${runs.map((r) => `| ${r.name}: ${r.what} | ${r.m1Epochs} (${(r.m1Seconds / 60).toFixed(1)} min, ${r.m1Threads} threads) | ${r.active} | ${r.epochs} | ${r.seed} | ${pct(r.validation[r.validation.length - 1])} | ${r.validation.map((v) => (100 * v).toFixed(1)).join(", ")} | ${pct(r.testAccuracy)} | ${(r.seconds / 60).toFixed(1)} min (${r.threads} threads) |`).join("\n")}

Wall times are on a machine that may have been shared with other jobs.
`;
const mdFile = "bench/results/m1m2-recipe.md";
const previous = existsSync(mdFile) ? readFileSync(mdFile, "utf8") : "";
const reading = previous.indexOf("\n## Reading");
writeFileSync(mdFile, md + (reading >= 0 ? previous.slice(reading) : ""));
console.log(`wrote ${mdFile}`);
