// Trains the same small model a few steps with 2 threads and with 1, and reports both runs.
import { VAE } from "../../dist/src/index.js";
import { poolRuns } from "../../dist/src/model/internals.js";

const warnings = [];
const warn = console.warn;
console.warn = (...args) => {
  warnings.push(args.join(" "));
  warn(...args);
};

// big enough that passes go to the workers (not kept inline as "small work")
const D = 200, B = 24, N = 240;
const data = new Float32Array(N * D);
for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 4294967296;

async function run(threads) {
  const vae = await VAE.create({ inputDim: D, latentDim: 5, hidden: [256], activation: "tanh", seed: 9, threads });
  const losses = [];
  for (let s = 0; s < 40; s++) {
    const start = (s * B) % (N - B);
    losses.push(vae.trainStep(data.subarray(start * D, (start + B) * D), { estimator: "dreg", samples: 3, binarize: true }));
  }
  const out = { threads: vae.threads, build: vae.build, poolRuns: poolRuns(vae), losses, weights: Array.from(vae.stateDict()["decoder.out.weight"]) };
  vae.dispose();
  return out;
}

try {
  const two = await run(2);
  const one = await run(1);
  postMessage({ crossOriginIsolated: self.crossOriginIsolated, two, one, warnings });
} catch (e) {
  postMessage({ error: String(e && e.stack ? e.stack : e), warnings });
}
