// Where a second thread's time goes: the reference training steps (bench/models.ts) on 1 and 2
// threads, alternating blocks of steps, with every engine command timed (the runner's profile
// hook): per command, its time on one thread, its wall time on two, each thread's busy time and
// how late the worker started. Read:
//   work inflation  (busy₀ + busy₁) / one-thread time: above 1, the same arithmetic runs slower
//                   split over two cores (cache lines moving between them, memory bandwidth);
//   sync            wall − max(busy): waking, waiting and imbalance;
//   speedup         one-thread time / two-thread wall.
//   npm run bench:phases [-- --blocks N]     (simd build)
import { cpuName } from "./host.js";
import { benchInput, threadModels, D } from "./models.js";

const { VAE } = await import("../src/index.js");
const { modelOf } = await import("../src/model/internals.js");
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
