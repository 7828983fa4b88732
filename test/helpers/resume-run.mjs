// Training runs that stop and go on (for test/system/resume.test.ts): the same named run is
// trained uninterrupted, or stopped after a given number of steps with a checkpoint written, or
// resumed from a checkpoint — each in whichever process calls it. As a script:
//   node resume-run.mjs resume NAME THREADS CHECKPOINT   → prints {steps, weights (hex), history}
import { readFileSync } from "node:fs";
import { SemiSupervisedVAE, VAE } from "../../dist/src/index.js";

const D = 24, N = 90;
const data = new Float32Array(N * D);
for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 4294967296;
const labels = Int32Array.from({ length: 20 }, (_, i) => i % 3);

/** The runs: a model, its fit options (3 epochs of 6 steps), and whether it is M2. */
export const RUNS = {
  analytic: { model: { hidden: [16], latentDim: 3 }, fit: { estimator: "analytic", binarize: true, beta: 2, klWarmup: 10 } },
  "dreg K=5": { model: { hidden: [16], latentDim: 3 }, fit: { estimator: "dreg", samples: 5 } },
  "IAF flow": { model: { hidden: [16], latentDim: 3, flow: { type: "iaf", length: 2 } }, fit: { estimator: "td", learningRate: 3e-3 } },
  categorical: {
    model: { hidden: [16], latent: { type: "categorical", variables: 3, categories: 4 } },
    fit: { estimator: "analytic", straightThrough: true, temperature: (_e, step) => Math.max(0.5, Math.exp(-0.05 * step)) },
  },
  M2: { m2: true, model: { hidden: [16], latentDim: 3, classes: 3 }, fit: { labelledBatchSize: 7, alpha: 5 } },
};
const EPOCHS = 3, BATCH = 16;

async function create(name, threads) {
  const r = RUNS[name];
  return r.m2 ? SemiSupervisedVAE.create({ inputDim: D, seed: 5, ...r.model })
    : VAE.create({ inputDim: D, seed: 5, threads, ...r.model });
}

function fitArgs(name, extra) {
  const r = RUNS[name];
  // (a schedule is a function: a resumed run is given it again, as a user would)
  const fnOpts = Object.fromEntries(Object.entries(r.fit).filter(([, v]) => typeof v === "function"));
  return r.m2 ? [{ x: data.subarray(0, 20 * D), labels }, data, { ...extra }] : [data, { ...fnOpts, ...extra }];
}

/** What a run ends with: its step count, every weight's bits, and the epochs' losses. */
function outcome(model, history) {
  const dict = model.stateDict();
  const weights = Object.keys(dict).sort().map((k) => Buffer.from(dict[k].buffer, dict[k].byteOffset, dict[k].byteLength).toString("hex")).join("|");
  return { steps: model.stepCount, weights, history: history.map((h) => h.loss) };
}

/** The run without a stop. */
export async function uninterrupted(name, threads) {
  const m = await create(name, threads);
  const [a, b, c] = fitArgs(name, { ...RUNS[name].fit, epochs: EPOCHS, batchSize: BATCH });
  const history = await (RUNS[name].m2 ? m.fit(a, b, c) : m.fit(a, b));
  const out = outcome(m, history);
  m.dispose();
  return out;
}

/** The run stopped (aborted) after `steps` steps: its checkpoint. */
export async function stopped(name, threads, steps) {
  const m = await create(name, threads);
  const ac = new AbortController();
  let bytes = null, taken = 0;
  const take = () => {
    if (++taken === steps) {
      bytes = m.checkpoint();
      ac.abort();
    }
  };
  const extra = { ...RUNS[name].fit, epochs: EPOCHS, batchSize: BATCH, signal: ac.signal };
  try {
    const [a, b, c] = fitArgs(name, { ...extra, onProgress: take });
    await (RUNS[name].m2 ? m.fit(a, b, c) : m.fit(a, b));
  } catch (e) {
    if (e.name !== "AbortError") throw e;
  }
  m.dispose();
  return bytes;
}

/** The run resumed from a checkpoint and trained to its end. */
export async function resumed(name, threads, bytes) {
  const r = RUNS[name];
  const m = r.m2 ? await SemiSupervisedVAE.resume(bytes) : await VAE.resume(bytes, { threads });
  const [a, b, c] = fitArgs(name, {});
  const history = await (r.m2 ? m.fit(a, b, c) : m.fit(a, b));
  const out = outcome(m, history);
  out.threads = m.threads ?? 1;
  m.dispose();
  return out;
}

if (process.argv[2] === "resume") {
  const [, , , name, threads, file] = process.argv;
  process.stdout.write(JSON.stringify(await resumed(name, Number(threads), readFileSync(file))) + "\n");
}
