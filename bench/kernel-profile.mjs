// Where one thread's step goes, kernel by kernel: every WebAssembly kernel the model calls is
// wrapped in a timer (~1 µs of overhead a call, tens of calls a step), and the step's time is
// printed beside the sum of its kernels' times. For deciding what "less work" can win: the GEMMs'
// share, and what remains.
//   node bench/kernel-profile.mjs [vae|iwae|m2] [dense|mnist|binarized] [build]     (after npm run build)
// dense: the benchmark's synthetic grey levels (no zeros); mnist: the first MNIST training digits
// (grey levels, ~81 % zeros); binarized: those digits thresholded at 0.5. M2 always trains on
// binarized digits (100 labelled + 100 unlabelled a step, y enumerated).
import { loadMnist, SemiSupervisedVAE, VAE } from "../dist/src/index.js";
import { modelOf } from "../dist/src/model/internals.js";
import { benchInput } from "../dist/bench/models.js";
import { describeCpu } from "./cpu.mjs";
import { m2Batches } from "./m2-data.mjs";

const [model = "vae", input = "dense", build = "simd"] = process.argv.slice(2);
const D = 784;
const STEPS = model === "m2" ? 20 : 200;

/** Replaces rt.k by a copy whose functions add their time to `tot` (the exports object itself is frozen). */
function wrap(rt) {
  const tot = new Map(), k = {};
  for (const name in rt.k) {
    const f = rt.k[name];
    k[name] = typeof f !== "function" ? f : (...a) => {
      const t = performance.now();
      const r = f(...a);
      const e = tot.get(name) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t;
      e.calls++;
      tot.set(name, e);
      return r;
    };
  }
  rt.k = k;
  return tot;
}

/** The first `rows` rows of the chosen input (the benchmark's synthetic grey levels, or digits). */
async function inputRows(rows) {
  if (input === "dense") return benchInput().slice(0, rows * D);
  const x = (await loadMnist()).train.data.slice(0, rows * D);
  if (input === "binarized") for (let i = 0; i < x.length; i++) x[i] = x[i] > 0.5 ? 1 : 0;
  return x;
}

let tot, run;
if (model === "m2") {
  const { labelled, unlabelled } = m2Batches(await loadMnist(), STEPS);
  const m = await SemiSupervisedVAE.create({ seed: 1, threads: 1, build });
  await m.fit(labelled, unlabelled, { epochs: 1, batchSize: 100, binarize: true });
  tot = wrap(m.obj.rt);
  run = () => m.fit(labelled, unlabelled, { epochs: 1, batchSize: 100, binarize: true });
} else {
  const iwae = model === "iwae";
  const x = await inputRows(iwae ? 20 : 100);
  const vae = await VAE.create(iwae
    ? { inputDim: D, hidden: [200, 200], latentDim: 50, activation: "tanh", seed: 1, build }
    : { inputDim: D, hidden: [400], latentDim: 20, seed: 1, build });
  const step = iwae ? { estimator: "iwae", samples: 5, adamEps: 1e-4 } : {};
  for (let s = 0; s < 30; s++) vae.trainStep(x, step);
  tot = wrap(modelOf(vae).runner.rt);
  run = () => { for (let s = 0; s < STEPS; s++) vae.trainStep(x, step); };
}
const t0 = performance.now();
await run();
const stepMs = (performance.now() - t0) / STEPS;
const name = { vae: "784-400-20 VAE, batch 100", iwae: "784-200-200-50 IWAE k=5, batch 20", m2: "M2 784-500-50, 100 + 100 binarized digits" }[model];
console.log(`one thread's step by kernel — ${name}, ${model === "m2" ? "binarized MNIST" : input} input, ${build} build — ${describeCpu()}`);
console.log("   " + "kernel".padEnd(24) + "ms/step".padStart(9) + "share".padStart(8) + "calls/step".padStart(12));
let sum = 0;
for (const [kernel, e] of [...tot].sort((a, b) => b[1].ms - a[1].ms)) {
  const ms = e.ms / STEPS;
  sum += ms;
  if (ms >= 0.005) console.log("   " + kernel.padEnd(24) + ms.toFixed(3).padStart(9) + `${((100 * ms) / stepMs).toFixed(1)} %`.padStart(8) + (e.calls / STEPS).toFixed(1).padStart(12));
}
console.log(`   step ${stepMs.toFixed(3)} ms, of which kernels ${sum.toFixed(3)} ms (the rest: JavaScript around them; kernels under 5 µs a step not listed)`);
