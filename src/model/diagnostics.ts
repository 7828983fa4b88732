// Gradient diagnostics: the mean, variance and signal-to-noise ratio of several estimators'
// gradients at the current parameters, on the same noise, with paired t-tests between them.
import { SeededRandom } from "../util/random.js";
import { checkInt, checkKeys, fail, type MatrixLike } from "../util/validate.js";
import { estimatorFor, type GradientStats, type GradientStatsOptions, type GroupStats } from "./options.js";
import type { VaeModel } from "./vae-model.js";

/**
 * Gradient statistics of several estimators at the current parameters (nothing is updated).
 * For draw d = 0…draws−1 every estimator sees the SAME noise (the RNG at step d), so their
 * differences are paired. Per parameter group (each tensor, plus 'encoder', 'decoder' and
 * 'all'): the norm of the mean gradient, the trace of its covariance, the signal-to-noise
 * ratio ‖E g‖/√tr Var g, the mean over parameters of |E g_i|/sd(g_i), and a paired t-statistic
 * against the reference estimator (the first) for "same expectation": the mean over draws of
 * u = Σ_i (g_i − g_ref,i)·s_i, s a fixed random ±1 direction, over its standard error
 * (≈ N(0, 1) when the expectations agree). Moments are accumulated in f64 in WebAssembly.
 */
export function gradientStats(m: VaeModel, x: MatrixLike, opts: GradientStatsOptions): GradientStats {
  const fn = "VAE.gradientStats";
  m.checkAlive(fn);
  checkKeys(fn, "options", opts, ["estimators", "draws", "samples", "seed"]);
  const x0 = m.input(fn, x);
  const names = opts.estimators ?? ["td", "stl"];
  if (!Array.isArray(names) || names.length === 0) fail(fn, "options.estimators", "a non-empty array of estimator names", names);
  const ests = names.map((e, i) => estimatorFor(m, fn, `options.estimators[${i}]`, e));
  const N = checkInt(fn, "options.draws", opts.draws ?? 100, 2, 1 << 20);
  const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  const B = x0.rows, P = m.params.n;
  const r = m.runner, arena = r.arena, tensors = m.params.tensors, pGrads = m.params.blocks.pGrads;
  const ws = r.workspace(B, K);
  const mark = arena.end;
  try {
    const f64s = (n: number) => arena.floats(2 * n); // byte pointer to n f64
    const acc = ests.map(() => ({ sum: f64s(P), sq: f64s(P), dsum: f64s(P), dsq: f64s(P) }));
    const pRef = arena.floats(P), pDir = arena.floats(P);
    r.grow(arena.end);
    const mem = () => r.rt.memory.buffer;
    new Uint8Array(mem(), acc[0].sum, arena.end - acc[0].sum).fill(0);
    const dir = new Float32Array(mem(), pDir, P);
    const rng = new SeededRandom(seed, 11);
    for (let i = 0; i < P; i++) dir[i] = rng.next() < 0.5 ? -1 : 1;
    // groups: each tensor's float range, and unions
    const groups: { name: string; ranges: [number, number][] }[] = tensors.map((t) => ({ name: t.name, ranges: [[t.offset, t.offset + t.size]] }));
    const encRanges = tensors.filter((t) => t.name.startsWith("encoder.")).map((t) => [t.offset, t.offset + t.size] as [number, number]);
    const decRanges = tensors.filter((t) => t.name.startsWith("decoder.")).map((t) => [t.offset, t.offset + t.size] as [number, number]);
    groups.push({ name: "encoder", ranges: encRanges }, { name: "decoder", ranges: decRanges }, { name: "all", ranges: [...encRanges, ...decRanges] });
    const proj = ests.map(() => tensors.map(() => new Float64Array(N))); // per tensor, per draw
    for (let d = 0; d < N; d++) {
      ests.forEach((est, e) => {
        r.loadBatch(ws, x0, null, 0, B);
        r.forward(ws, B, K, est, { drawEps: true, seed, step: d });
        const objective = r.weigh(ws, B, K, est);
        if (!Number.isFinite(objective)) throw new Error(`${fn}: the objective is ${objective} at draw ${d} for '${est.name}'`);
        r.backwardArgs(B, K, est, null);
        r.backward(ws);
        m.k.accumulateMoments(acc[e].sum, acc[e].sq, pGrads, 0, P);
        if (e === 0) {
          new Uint8Array(mem()).copyWithin(pRef, pGrads, pGrads + 4 * P);
        } else {
          tensors.forEach((t, ti) => {
            proj[e][ti][d] = m.k.accumulateDifference(acc[e].dsum, acc[e].dsq, pGrads, pRef, pDir, t.offset, t.offset + t.size);
          });
        }
      });
    }
    const out: GradientStats = { draws: N, samples: K, reference: ests[0].name, groups: groups.map((g) => g.name), estimators: {} };
    ests.forEach((est, e) => {
      const sum = new Float64Array(mem(), acc[e].sum, P), sq = new Float64Array(mem(), acc[e].sq, P);
      const perGroup: Record<string, GroupStats> = {};
      for (const g of groups) {
        let mean2 = 0, trace = 0, snrSum = 0, snrCount = 0;
        for (const [i0, i1] of g.ranges) {
          for (let i = i0; i < i1; i++) {
            const mu = sum[i] / N;
            const v = Math.max(0, (sq[i] - N * mu * mu) / (N - 1));
            mean2 += mu * mu;
            trace += v;
            if (v > 0) {
              snrSum += Math.abs(mu) / Math.sqrt(v);
              snrCount++;
            }
          }
        }
        // paired t-statistic of the projected difference to the reference
        let t = 0;
        if (e > 0) {
          const tensorIdx = g.ranges.map(([i0]) => tensors.findIndex((tt) => tt.offset === i0));
          let su = 0, su2 = 0;
          for (let d = 0; d < N; d++) {
            let u = 0;
            for (const ti of tensorIdx) u += proj[e][ti][d];
            su += u;
            su2 += u * u;
          }
          const mu = su / N, sd = Math.sqrt(Math.max(0, (su2 - N * mu * mu) / (N - 1)));
          t = sd > 0 ? mu / (sd / Math.sqrt(N)) : mu === 0 ? 0 : Infinity * Math.sign(mu);
        }
        perGroup[g.name] = {
          meanNorm: Math.sqrt(mean2), varianceTrace: trace, snr: trace > 0 ? Math.sqrt(mean2 / trace) : Infinity,
          meanSnr: snrCount ? snrSum / snrCount : NaN, t,
        };
      }
      out.estimators[est.name] = perGroup;
    });
    return out;
  } finally {
    arena.reset(mark);
  }
}
