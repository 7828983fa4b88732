// Where a second thread's time goes: the reference training steps (bench/models.ts) on 1 and 2
// threads, alternating blocks of steps, with every engine command timed (the runner's profile
// hook): per command, its time on one thread, its wall time on two, each thread's busy time and
// how late the worker started. Read:
//   work inflation  (busy₀ + busy₁) / one-thread time: above 1, the same arithmetic runs slower
//                   split over two cores (cache lines moving between them, memory bandwidth);
//   sync            wall − max(busy): waking, waiting and imbalance;
//   speedup         one-thread time / two-thread wall.
// Then "who runs it": one two-thread model with forced splits (the pool's cuts) in alternating
// blocks — each thread doing both commands alone (the two vCPUs' speeds, which a VM need not
// keep equal), an even split, and the forward split evenly after a weight update done wholly by
// one thread, so that the other reads every weight from the core that wrote it (what sharing
// the weights between the cores costs, against the same thread reading weights it wrote).
//   npm run bench:phases [-- --blocks N]     (simd build)
import { cpuName } from "./host.js";
import { benchInput, threadModels, D } from "./models.js";

const { VAE } = await import("../src/index.js");
const { modelOf, setCuts } = await import("../src/model/internals.js");
const { CMD } = await import("../src/engine/ctrl.js");

const blocksArg = process.argv.indexOf("--blocks");
const BLOCKS = blocksArg > 0 ? Number(process.argv[blocksArg + 1]) : 40;
const STEPS = 10;
const NAMES: Record<number, string> = { [CMD.forward]: "forward (+ fused backward rows)", [CMD.backward]: "backward rows", [CMD.weights]: "weights + Adam" };
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

console.log(`where the second thread's time goes — Node ${process.version} on ${cpuName()}; simd build; ${BLOCKS} alternating blocks of ${STEPS} steps, medians`);
for (const m of threadModels(benchInput())) {
  // per thread count, per command: the per-block means of wall, busy₀, busy₁, lateness
  type Acc = { wall: number[]; busy0: number[]; busy1: number[]; late: number[] };
  const acc: Map<number, Acc>[] = [new Map(), new Map()];
  const stepMs: number[][] = [[], []];
  const vaes = [await VAE.create({ inputDim: D, seed: 1, threads: 1, build: "simd", ...m.opts }), await VAE.create({ inputDim: D, seed: 1, threads: 2, build: "simd", ...m.opts })];
  for (let b = 0; b < BLOCKS; b++) {
    vaes.forEach((v, ti) => {
      for (let s = 0; s < 3; s++) v.trainStep(m.x, m.step);
      const block = new Map<number, { n: number; wall: number; busy0: number; busy1: number; late: number }>();
      modelOf(v).runner.profile = (cmd, wall, busy, late) => {
        const e = block.get(cmd) ?? { n: 0, wall: 0, busy0: 0, busy1: 0, late: 0 };
        e.n++; e.wall += wall; e.busy0 += busy[0]; e.busy1 += busy[1] ?? 0; e.late += late[1] ?? 0;
        block.set(cmd, e);
      };
      const t0 = performance.now();
      for (let s = 0; s < STEPS; s++) v.trainStep(m.x, m.step);
      stepMs[ti].push((performance.now() - t0) / STEPS);
      modelOf(v).runner.profile = null;
      for (const [cmd, e] of block) {
        const a = acc[ti].get(cmd) ?? { wall: [], busy0: [], busy1: [], late: [] };
        // per step (a command may run more than once a step)
        a.wall.push(e.wall / STEPS); a.busy0.push(e.busy0 / STEPS); a.busy1.push(e.busy1 / STEPS); a.late.push(e.late / e.n);
        acc[ti].set(cmd, a);
      }
    });
  }
  vaes.forEach((v) => v.dispose());
  const one = median(stepMs[0]), two = median(stepMs[1]);
  console.log(`\n${m.name}: step ${one.toFixed(2)} ms on 1 thread, ${two.toFixed(2)} ms on 2 (${(one / two).toFixed(2)}×); per step, ms:`);
  console.log("   " + "command".padEnd(34) + "1T".padStart(8) + "2T wall".padStart(9) + "busy₀".padStart(8) + "busy₁".padStart(8) + "late₁".padStart(8) +
    "work infl.".padStart(11) + "sync".padStart(7) + "speedup".padStart(9));
  let sum1 = 0, sum2 = 0;
  for (const [cmd, a1] of acc[0]) {
    const a2 = acc[1].get(cmd);
    if (!a2) continue;
    const t1 = median(a1.wall), w = median(a2.wall), b0 = median(a2.busy0), b1 = median(a2.busy1), late = median(a2.late);
    sum1 += t1; sum2 += w;
    console.log("   " + (NAMES[cmd] ?? `#${cmd}`).padEnd(34) + t1.toFixed(3).padStart(8) + w.toFixed(3).padStart(9) + b0.toFixed(3).padStart(8) + b1.toFixed(3).padStart(8) +
      late.toFixed(3).padStart(8) + `${((b0 + b1) / t1).toFixed(2)}×`.padStart(11) + (w - Math.max(b0, b1)).toFixed(3).padStart(7) + `${(t1 / w).toFixed(2)}×`.padStart(9));
  }
  console.log("   " + "all commands".padEnd(34) + sum1.toFixed(3).padStart(8) + sum2.toFixed(3).padStart(9) + "".padStart(24) + "".padStart(11) + "".padStart(7) + `${(sum1 / sum2).toFixed(2)}×`.padStart(9));
  console.log(`   (outside the commands — the batch copy, the estimator's JS, loss: ${(one - sum1).toFixed(3)} ms on 1 thread, ${(two - sum2).toFixed(3)} on 2)`);
}

// ---------------------------------------------------------------- who runs it

/** Forced cuts per command: [forward, weights] as the share of thread 0 (1: all on thread 0). */
const SPLITS: [string, number, number][] = [
  ["thread 0 alone", 1, 1],
  ["thread 1 alone", 0, 1e-9],
  ["even", 0.5, 0.5],
  ["forward even, weights all on thread 0", 0.5, 1],
  ["forward even, weights all on thread 1", 0.5, 1e-9],
];
const cutsOf = (share0: number) => (share0 >= 1 ? [0, 1, 1] : share0 <= 1e-9 ? [0, 0, 1] : [0, share0, 1]);

console.log(`\nwho runs it: one 2-thread model, splits forced, ${BLOCKS} alternating blocks of ${STEPS} steps, medians of busy ms per step`);
for (const m of threadModels(benchInput())) {
  const vaes = [];
  for (const [, f, w] of SPLITS) {
    const v = await VAE.create({ inputDim: D, seed: 1, threads: 2, build: "simd", ...m.opts });
    setCuts(v, (cmd) => cutsOf(cmd === CMD.weights ? w : f));
    vaes.push(v);
  }
  // per split, per command: busy₀ and busy₁ per block
  const acc = SPLITS.map(() => new Map<number, [number[], number[]]>());
  for (let b = 0; b < BLOCKS; b++) {
    vaes.forEach((v, k) => {
      for (let s = 0; s < 3; s++) v.trainStep(m.x, m.step);
      const block = new Map<number, [number, number]>();
      modelOf(v).runner.profile = (cmd, _wall, busy) => {
        const e = block.get(cmd) ?? [0, 0];
        e[0] += busy[0]; e[1] += busy[1] ?? 0;
        block.set(cmd, e);
      };
      for (let s = 0; s < STEPS; s++) v.trainStep(m.x, m.step);
      modelOf(v).runner.profile = null;
      for (const [cmd, e] of block) {
        const a = acc[k].get(cmd) ?? [[], []];
        a[0].push(e[0] / STEPS); a[1].push(e[1] / STEPS);
        acc[k].set(cmd, a);
      }
    });
  }
  const nParams = modelOf(vaes[0]).runner.plan.nParams;
  vaes.forEach((v) => v.dispose());
  const busy = (k: number, cmd: number, t: 0 | 1) => median(acc[k].get(cmd)![t]);
  console.log(`\n${m.name}: busy ms per step (${(4 * nParams / 1e6).toFixed(2)} MB of parameters)`);
  console.log("   " + "split".padEnd(40) + "fwd₀".padStart(8) + "fwd₁".padStart(8) + "wts₀".padStart(8) + "wts₁".padStart(8));
  SPLITS.forEach(([name], k) => {
    console.log("   " + name.padEnd(40) + [busy(k, CMD.forward, 0), busy(k, CMD.forward, 1), busy(k, CMD.weights, 0), busy(k, CMD.weights, 1)]
      .map((x) => x.toFixed(3).padStart(8)).join(""));
  });
  const alone0 = busy(0, CMD.forward, 0) + busy(0, CMD.weights, 0), alone1 = busy(1, CMD.forward, 1) + busy(1, CMD.weights, 1);
  // forward on thread t with the weights from the other core (written there) against from its own
  const remote0 = busy(4, CMD.forward, 0), local0 = busy(3, CMD.forward, 0), remote1 = busy(3, CMD.forward, 1), local1 = busy(4, CMD.forward, 1);
  const lines = (4 * nParams) / 64;
  console.log(`   each thread alone: thread 1 takes ${(alone1 / alone0).toFixed(2)}× thread 0's time for the whole step (the vCPUs' speeds)`);
  console.log(`   half a forward with every weight written by the other core (${(lines / 1000).toFixed(1)}k cache lines of parameters to move): ` +
    `thread 0 ${(remote0 - local0 >= 0 ? "+" : "")}${(remote0 - local0).toFixed(3)} ms (${((remote0 / local0 - 1) * 100).toFixed(1)} %), ` +
    `thread 1 ${(remote1 - local1 >= 0 ? "+" : "")}${(remote1 - local1).toFixed(3)} ms (${((remote1 / local1 - 1) * 100).toFixed(1)} %)`);
}
