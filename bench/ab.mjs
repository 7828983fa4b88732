// Two builds of vae-wasm in one process, in alternating blocks: the training steps of sections 1
// and 2 (VAE 784-400-20 batch 100; IWAE 784-200-200-50 K = 5 batch 20) on the simd and relaxed
// builds, 1 and 2 threads. Prints the median per-round time ratio B/A and whether both trained
// to the same bits. For changes whose effect is smaller than the VM's drift between processes:
//   git worktree add /tmp/a <commit> && (cd /tmp/a && npm ci && npm run build)
//   npm run build && node bench/ab.mjs /tmp/a . [rounds] [--mnist] [--only NAME] [--m2]
// --mnist: the same steps on the first MNIST training digits (grey levels, ~81 % zeros: the
// sparse first layer runs) instead of the synthetic dense grey levels; --only: the models whose
// name contains NAME; --m2: the M2 step instead (784-500-50, 100 labelled + 100 unlabelled
// binarized digits a step, y enumerated, 10 steps a round, 1 and 2 threads).
import v8 from "node:v8";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { m2Batches } from "./m2-data.mjs";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const flags = process.argv.slice(2);
const only = flags.includes("--only") ? flags[flags.indexOf("--only") + 1] : null;
const [dirA, dirB, roundsArg] = flags.filter((f, i) => !f.startsWith("--") && flags[i - 1] !== "--only");
if (!dirA || !dirB) {
  console.error("usage: node bench/ab.mjs REPO_A REPO_B [rounds] [--mnist] [--only NAME] [--m2]   (each built: REPO/dist/src/index.js)");
  process.exit(2);
}
const load = (dir) => import(pathToFileURL(resolve(dir, "dist/src/index.js")).href);
const A = await load(dirA), B = await load(dirB);
const rounds = Number(roundsArg ?? 15);
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const sameBits = (sa, sb) => Object.keys(sa).every((k) => sa[k].every((v, i) => Object.is(v, sb[k][i])));
if (flags.includes("--m2")) {
  const steps = 10;
  const { labelled, unlabelled } = m2Batches(await B.loadMnist(), steps);
  console.log(`A = ${dirA}, B = ${dirB}; ${rounds} alternating rounds of ${steps} M2 steps each`);
  for (const threads of [1, 2]) {
    const ms = [[], []], ratio = [];
    const models = [await A.SemiSupervisedVAE.create({ seed: 1, threads }), await B.SemiSupervisedVAE.create({ seed: 1, threads })];
    for (let r = 0; r < rounds; r++) {
      const t = [0, 0];
      for (const i of r % 2 ? [1, 0] : [0, 1]) {
        const t0 = performance.now();
        await models[i].fit(labelled, unlabelled, { epochs: 1, batchSize: 100, binarize: true });
        t[i] = (performance.now() - t0) / steps;
        ms[i].push(t[i]);
      }
      ratio.push(t[1] / t[0]);
    }
    console.log(`M2 784-500-50, 100 + 100 binarized digits  ${threads}T  A ${median(ms[0]).toFixed(1)} ms  B ${median(ms[1]).toFixed(1)} ms  ` +
      `B/A ${median(ratio).toFixed(3)} (${Math.min(...ratio).toFixed(2)}–${Math.max(...ratio).toFixed(2)})  same bits: ${sameBits(models[0].stateDict(), models[1].stateDict())}`);
    models.forEach((m) => m.dispose());
  }
  process.exit(0);
}
const D = 784;
const x = new Float32Array(100 * D);
for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) >>> 0) / 4294967296;
if (flags.includes("--mnist")) x.set((await B.loadMnist()).train.data.subarray(0, x.length));
const models = [
  { name: "VAE 784-400-20, B=100, analytic", opts: { hidden: [400], latentDim: 20 }, x, step: {} },
  { name: "IWAE 784-200-200-50 tanh, K=5, B=20", opts: { hidden: [200, 200], latentDim: 50, activation: "tanh" }, x: x.subarray(0, 20 * D), step: { estimator: "iwae", samples: 5 } },
];
/** ms per step over 20 steps after 3 of warm-up */
const time = (vae, m) => {
  for (let s = 0; s < 3; s++) vae.trainStep(m.x, m.step);
  const t0 = performance.now();
  for (let s = 0; s < 20; s++) vae.trainStep(m.x, m.step);
  return (performance.now() - t0) / 20;
};
console.log(`A = ${dirA}, B = ${dirB}; ${rounds} alternating rounds of 20 steps each; input: ${flags.includes("--mnist") ? "MNIST digits" : "synthetic dense grey levels"}`);
for (const m of models.filter((m) => !only || m.name.includes(only))) for (const build of ["simd", "relaxed"]) for (const threads of [1, 2]) {
  const a = await A.VAE.create({ inputDim: D, seed: 1, threads, build, ...m.opts });
  const b = await B.VAE.create({ inputDim: D, seed: 1, threads, build, ...m.opts });
  const ta = [], tb = [], ratio = [];
  for (let r = 0; r < rounds; r++) {
    // the order alternates too
    const t = r % 2 ? [time(b, m), time(a, m)].reverse() : [time(a, m), time(b, m)];
    ta.push(t[0]); tb.push(t[1]); ratio.push(t[1] / t[0]);
  }
  const same = sameBits(a.stateDict(), b.stateDict());
  console.log(`${m.name.padEnd(38)} ${build.padEnd(8)} ${threads}T  A ${median(ta).toFixed(2)} ms  B ${median(tb).toFixed(2)} ms  ` +
    `B/A ${median(ratio).toFixed(3)} (${Math.min(...ratio).toFixed(2)}–${Math.max(...ratio).toFixed(2)})  same bits: ${same}`);
  a.dispose();
  b.dispose();
}
