// The M2 recipe with 100 labels (Kingma et al. 2014; Pyro's SS-VAE tutorial): one run per named
// setting, chosen on VALIDATION digits — the last 10,000 of MNIST's 60,000 training digits,
// never trained on — so the test set judges only the setting picked. Every run: 100 labelled
// digits (10 per class, seeded as `vae-wasm semi` picks them, from the first 50,000), the other
// 49,900 of those unlabelled, dynamic binarization, on THREADS threads; validation accuracy after
// every epoch, test accuracy at the end (reported, not used to choose). Each finished run is kept
// in bench/results/m2-recipe-runs/ and not run again (a run stopped early is kept there as
// *.stopped.json with the epochs it finished, listed as stopped; running it again starts over);
// bench/results/m2-recipe.md is written from all kept runs. With M2_RECIPE_MODELS=DIR each trained
// model and its conditional-generation picture are written to DIR too.
//   node bench/m2-recipe.mjs SETTING[,SETTING…] [EPOCHS=10] [THREADS=2] [SEED=1]   (after npm run build)
// Settings (name: what differs from the library's defaults, which are α 50, labelled weight 1,
// lr 1e-3, β1 0.9, batch 100 + 100, hidden [500], latent 50):
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadMnist, SemiSupervisedVAE } from "../dist/src/index.js";
import { SeededRandom } from "../dist/src/util/random.js";
import { gridPng } from "../dist/src/pictures/image.js";
import { describeCpu } from "./cpu.mjs";

/** The learning rate 1e-3 falling one decade over a run of E epochs. */
const decade = (E) => (e) => 1e-3 * 0.1 ** (e / E);

/** Every setting: its description and the fit options it sets. */
export const SETTINGS = {
  defaults: { what: "the library's defaults", fit: {} },
  "lw-share": { what: "labelled weight N_l/N_u (Kingma et al.'s J^α weighting)", fit: { labelledWeight: 100 / 49_900 } },
  "lw0.1": { what: "labelled weight 0.1", fit: { labelledWeight: 0.1 } },
  a200: { what: "α 200", fit: { alpha: 200 } },
  a10: { what: "α 10", fit: { alpha: 10 } },
  decay: { what: "lr 1e-3 decaying ×0.95 an epoch", fit: { learningRate: (e) => 1e-3 * 0.95 ** e } },
  "pyro-adam": { what: "Adam lr 4.2e-4, β1 0.95 (Pyro's)", fit: { learningRate: 4.2e-4, betas: [0.95, 0.999] } },
  lb10: { what: "10 labelled digits a step", fit: { labelledBatchSize: 10 } },
  z10: { what: "latent dimension 10", create: { latentDim: 10 }, fit: {} },
  z20: { what: "latent dimension 20", create: { latentDim: 20 }, fit: {} },
  tanh: { what: "tanh hidden units", create: { activation: "tanh" }, fit: {} },
  "beta1.5": { what: "β 1.5 on z's KL", fit: { beta: 1.5 } },
  beta2: { what: "β 2 on z's KL", fit: { beta: 2 } },
  beta3: { what: "β 3 on z's KL", fit: { beta: 3 } },
  // schedules over the whole run: fit(epochs) gives the options for a run of that many epochs
  decade: { what: "lr 1e-3 falling one decade over the run (×0.1^(epoch/epochs))", fit: (E) => ({ learningRate: decade(E) }) },
  "beta2-decade": { what: "β 2 on z's KL; lr as decade", fit: (E) => ({ beta: 2, learningRate: decade(E) }) },
  "beta3-decade": { what: "β 3 on z's KL; lr as decade", fit: (E) => ({ beta: 3, learningRate: decade(E) }) },
  "gumbel-decade": { what: "y of unlabelled digits one Gumbel-softmax sample (τ 0.5); lr as decade", fit: (E) => ({ gumbelSoftmax: { temperature: 0.5 }, learningRate: decade(E) }) },
};

const fitOf = (name, epochs) => (typeof SETTINGS[name].fit === "function" ? SETTINGS[name].fit(epochs) : SETTINGS[name].fit);

const names = (process.argv[2] ?? "").split(",").filter(Boolean);
for (const n of names) if (!SETTINGS[n]) throw new Error(`m2-recipe: unknown setting '${n}' (one of ${Object.keys(SETTINGS).join(", ")})`);
const [epochs, threads, seed] = [10, 2, 1].map((d, i) => Number(process.argv[3 + i] ?? d));
const kept = "bench/results/m2-recipe-runs";
mkdirSync(kept, { recursive: true });

const { train, trainLabels, test, testLabels } = await loadMnist();
const D = 784, NT = 50_000, NL = 100;
// the labelled digits: as `vae-wasm semi` picks them (src/cli/semi.ts), among the first 50,000
const order = new SeededRandom(seed, 21).permutation(NT);
const per = new Array(10).fill(0), picked = [];
for (const i of order) if (picked.length < NL && per[trainLabels[i]] < NL / 10) per[trainLabels[i]]++, picked.push(i);
const isLabelled = new Uint8Array(NT);
for (const i of picked) isLabelled[i] = 1;
const xl = new Float32Array(NL * D), xu = new Float32Array((NT - NL) * D);
picked.forEach((i, j) => xl.set(train.data.subarray(i * D, (i + 1) * D), j * D));
let u = 0;
for (let i = 0; i < NT; i++) if (!isLabelled[i]) xu.set(train.data.subarray(i * D, (i + 1) * D), D * u++);
const val = { data: train.data.subarray(NT * D), rows: 60_000 - NT, cols: D }, valLabels = Array.from(trainLabels.subarray(NT));

for (const name of names) {
  const file = `${kept}/${name}-${epochs}-epochs-seed-${seed}.json`;
  if (existsSync(file)) {
    console.log(`${name}: kept from an earlier sitting (${file})`);
    continue;
  }
  const stopped = file.replace(/\.json$/, ".stopped.json"), partial = [];
  const m = await SemiSupervisedVAE.create({ seed, threads, ...SETTINGS[name].create });
  const t0 = Date.now();
  const history = await m.fit({ x: xl, labels: Array.from(picked, (i) => trainLabels[i]) }, { data: xu, rows: u, cols: D }, {
    epochs, binarize: true, ...fitOf(name, epochs), validation: { x: val, labels: valLabels },
    onEpochEnd: (r) => {
      console.log(`${name} epoch ${r.epoch}: validation ${(100 * r.accuracy).toFixed(2)} % (${r.seconds.toFixed(0)} s)`);
      // a run stopped before its last epoch stays in the table as "stopped" with what it reached
      partial.push(r.accuracy);
      writeFileSync(stopped, JSON.stringify({ name, what: SETTINGS[name].what, epochs, seed, threads, seconds: (Date.now() - t0) / 1000,
        testAccuracy: null, stoppedAfter: partial.length, validation: partial, loss: [] }));
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  const testAccuracy = m.accuracy(test, Array.from(testLabels));
  rmSync(stopped, { force: true });
  writeFileSync(file, JSON.stringify({ name, what: SETTINGS[name].what, epochs, seed, threads, seconds, testAccuracy,
    validation: history.map((h) => h.accuracy), loss: history.map((h) => h.loss) }));
  console.log(`${name}: validation ${(100 * history[history.length - 1].accuracy).toFixed(2)} %, test ${(100 * testAccuracy).toFixed(2)} % in ${(seconds / 60).toFixed(1)} min`);
  // M2_RECIPE_MODELS=DIR keeps each trained model (DIR/NAME-EPOCHS-epochs-seed-SEED.safetensors), e.g. for
  // the conditional-generation picture (bench/m2-generation.py)
  if (process.env.M2_RECIPE_MODELS) {
    mkdirSync(process.env.M2_RECIPE_MODELS, { recursive: true });
    const base = `${process.env.M2_RECIPE_MODELS}/${name}-${epochs}-epochs-seed-${seed}`;
    writeFileSync(`${base}.safetensors`, m.save());
    // the CLI's picture (src/cli/semi.ts): 8 rows, each one z ~ N(0, I) decoded with y = 0…9
    writeFileSync(`${base}.png`, gridPng(m.generateByClass(8, seed), 80, { width: 28, height: 28, columns: 10, channels: 1 }));
  }
  m.dispose();
}

const runs = readdirSync(kept).filter((f) => f.endsWith(".json")).map((f) => JSON.parse(readFileSync(`${kept}/${f}`, "utf8")))
  .sort((a, b) => a.epochs - b.epochs || a.name.localeCompare(b.name) || a.seed - b.seed);
const cpu = describeCpu();
const md = `# The M2 recipe with 100 labels

\`node bench/m2-recipe.mjs SETTING[,SETTING…] [EPOCHS] [THREADS] [SEED]\` (after \`npm run build\`): M2 (784-500-50,
relu, Bernoulli decoder, y enumerated), 100 labelled digits (10 per class) and 49,900 unlabelled
from the first 50,000 training digits, dynamic binarization, batch 100 unlabelled + 100 labelled
a step unless said. Settings are compared on the **validation** digits (the last 10,000 training
digits, never trained on); the test accuracy (10,000 test digits) is listed but not used to
choose. The library's defaults: α 50, labelled weight 1, Adam lr 1e-3, β1 0.9. Host: ${cpu}.

| setting | epochs | seed | validation accuracy (last) | by epoch | test accuracy | wall time |
| --- | ---: | ---: | ---: | --- | ---: | ---: |
${runs.map((r) => `| ${r.name}: ${r.what} | ${r.stoppedAfter ? `${r.stoppedAfter} (of ${r.epochs}, stopped)` : r.epochs} | ${r.seed} | ${(100 * r.validation[r.validation.length - 1]).toFixed(2)} % | ${r.validation.map((v) => (100 * v).toFixed(1)).join(", ")} | ${r.testAccuracy === null ? "–" : `${(100 * r.testAccuracy).toFixed(2)} %`} | ${(r.seconds / 60).toFixed(1)} min (${r.threads} thread${r.threads === 1 ? "" : "s"}) |`).join("\n")}

Wall times are on a machine that may have been shared with other jobs.
`;
// the hand-written reading of the table (from "## Reading" on) survives a rewrite
const out = "bench/results/m2-recipe.md", previous = existsSync(out) ? readFileSync(out, "utf8") : "";
const reading = previous.indexOf("\n## Reading");
writeFileSync(out, reading < 0 ? md : md + previous.slice(reading));
console.log(md);
