// Gumbel-softmax / Concrete latent kernels (assembly/categorical.ts, gumbelNoise in rng.ts) on
// every build: the relaxed sample and the KL against an f64 reference, the backward against
// central finite differences of the f64 loss, the noise's distribution, and the two temperature
// limits — at low τ the samples are one-hot with the categories at softmax(l)'s frequencies, at
// high τ they flatten to the uniform vector 1/C (Jang et al. 2017, fig. 1: the relaxed sample
// tends to the categorical one as τ → 0 and to the uniform as τ → ∞).
import { describe, expect, it } from "vitest";
import { BUILDS, f32, kernelEnv, numericGrad, rng, uniform, expectClose } from "../helpers/kernel-check.js";

const B = 3, K = 2, N = 4, C = 5, Z = N * C;

/** f64 softmax((l + g)/τ) of one group. */
function softmax(v: ArrayLike<number>, tau = 1): number[] {
  const s = Array.from(v, (x) => x / tau);
  const m = Math.max(...s);
  const e = s.map((x) => Math.exp(x - m));
  const t = e.reduce((a, b) => a + b);
  return e.map((x) => x / t);
}

function klRef(l: ArrayLike<number>, b: number): number {
  let kl = 0;
  for (let n = 0; n < N; n++) {
    const q = softmax(Array.from({ length: C }, (_, c) => l[b * Z + n * C + c]));
    for (const qc of q) kl += qc * (Math.log(qc) + Math.log(C));
  }
  return kl;
}

/** y_soft[b, k, :] in f64. */
function ysoftRef(l: ArrayLike<number>, g: ArrayLike<number>, tau: number): Float64Array {
  const y = new Float64Array(B * K * Z);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        const s = Array.from({ length: C }, (_, c) => l[b * Z + n * C + c] + g[(b * K + k) * Z + n * C + c]);
        softmax(s, tau).forEach((v, c) => (y[(b * K + k) * Z + n * C + c] = v));
      }
    }
  }
  return y;
}

describe.each(BUILDS)("categorical (Gumbel-softmax) kernels, %s build", (build) => {
  const r = rng(31);
  const l = f32(uniform(B * Z, -3, 3, r));
  const g = f32(uniform(B * K * Z, -1, 4, r));

  it.each([0.3, 1, 2.5])("relaxed sample, straight-through sample and KL match f64 (τ = %f)", async (tau) => {
    const env = await kernelEnv(build);
    const py = env.zeros(B * K * Z), ps = env.zeros(B * K * Z), pl = env.put(l), pg = env.put(g);
    env.k.gumbelSoftmax(py, ps, pg, pl, K, N, C, tau, 0, 0, B);
    const want = ysoftRef(l, g, tau);
    expectClose(env.read(ps, B * K * Z), want, 1e-7, 1e-6);
    expect(env.read(py, B * K * Z)).toEqual(env.read(ps, B * K * Z));
    // hard: one-hot at the argmax of l + g, the soft sample unchanged
    env.k.gumbelSoftmax(py, ps, pg, pl, K, N, C, tau, 1, 0, B);
    const hard = env.read(py, B * K * Z);
    for (let i = 0; i < B * K * N; i++) {
      const grp = Array.from(hard.subarray(i * C, (i + 1) * C));
      const s = Array.from({ length: C }, (_, c) => want[i * C + c]);
      expect(grp.reduce((a, b) => a + b)).toBe(1);
      expect(grp.indexOf(1)).toBe(s.indexOf(Math.max(...s)));
    }
    expectClose(env.read(ps, B * K * Z), want, 1e-7, 1e-6);
    const pk = env.zeros(B);
    env.k.categoricalKL(pk, pl, N, C, 0, B);
    expectClose(env.read(pk, B), Array.from({ length: B }, (_, b) => klRef(l, b)), 1e-6, 1e-5);
  });

  it.each([0.5, 1, 2])("backward matches central differences of the f64 loss Σ w·y_soft + κ·KL (τ = %f)", async (tau) => {
    const env = await kernelEnv(build);
    const w = f32(uniform(B * K * Z, -1, 1, r)); // dy: ∂loss/∂y, per row
    const kappa = 0.37;
    const loss = (lv: Float64Array) => {
      const y = ysoftRef(lv, g, tau);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += w[i] * y[i];
      for (let b = 0; b < B; b++) s += kappa * klRef(lv, b);
      return s;
    };
    const py = env.zeros(B * K * Z), ps = env.zeros(B * K * Z), pl = env.put(l);
    env.k.gumbelSoftmax(py, ps, env.put(g), pl, K, N, C, tau, 0, 0, B);
    const pd = env.zeros(B * Z);
    env.k.categoricalBackward(pd, env.put(w), ps, pl, K, N, C, tau, kappa, 0, B);
    expectClose(env.read(pd, B * Z), numericGrad(loss, Float64Array.from(l)), 1e-5, 1e-4);
    // straight-through uses the same gradient: the hard forward does not change it
    const pd2 = env.zeros(B * Z);
    env.k.gumbelSoftmax(py, ps, env.put(g), pl, K, N, C, tau, 1, 0, B);
    env.k.categoricalBackward(pd2, env.put(w), ps, pl, K, N, C, tau, kappa, 0, B);
    expect(env.read(pd2, B * Z)).toEqual(env.read(pd, B * Z));
  });

  it("Gumbel noise: mean γ ≈ 0.5772 and variance π²/6, within 4 standard errors; keyed by row and sample", async () => {
    const env = await kernelEnv(build);
    const M = 200, KK = 50, ZZ = 10, n = M * KK * ZZ;
    const pg = env.zeros(n);
    env.k.gumbelNoise(pg, 7, 9, 3, KK, ZZ, 0, M, 0, 0);
    const v = env.read(pg, n);
    let s = 0, s2 = 0;
    for (const x of v) {
      expect(Number.isFinite(x)).toBe(true);
      s += x;
      s2 += x * x;
    }
    const mean = s / n, variance = s2 / n - mean * mean;
    const varG = Math.PI ** 2 / 6;
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan(4 * Math.sqrt(varG / n));
    // Var of the sample variance ≈ (μ4 − σ⁴)/n, μ4 = 12/5·... for the Gumbel: excess kurtosis 12/5
    expect(Math.abs(variance - varG)).toBeLessThan(4 * Math.sqrt(((12 / 5 + 2) * varG ** 2) / n));
    // rows 50..99 drawn on their own are the same numbers
    const part = env.zeros(50 * KK * ZZ);
    env.k.gumbelNoise(part, 7, 9, 3, KK, ZZ, 0, 50, 50, 0);
    expect(env.read(part, 50 * KK * ZZ)).toEqual(v.subarray(50 * KK * ZZ, 100 * KK * ZZ));
  });

  it("low temperature: samples tend to one-hot, and the categories come at softmax(l)'s frequencies", async () => {
    const env = await kernelEnv(build);
    const logits = [1.5, 0.2, -0.7, 0.9, -2]; // one variable, C = 5
    const q = softmax(logits);
    const S = 4000;
    const pl = env.put(logits), pg = env.zeros(S * 5), py = env.zeros(S * 5), ps = env.zeros(S * 5);
    env.k.gumbelNoise(pg, 1, 4, 0, S, 5, 0, 1, 0, 0);
    // the fraction of nearly one-hot samples (max > 0.99) grows to 1 as τ falls: a sample is
    // not one-hot only when its top two l + g lie within τ·ln 99 of each other
    const oneHot: number[] = [];
    let counts: number[] = [];
    for (const tau of [0.1, 0.01, 0.001]) {
      // logits row 0 is shared by the S samples of example 0 (K = S)
      env.k.gumbelSoftmax(py, ps, pg, pl, S, 1, 5, tau, 0, 0, 1);
      const y = env.read(ps, S * 5);
      counts = new Array(5).fill(0);
      let near = 0;
      for (let s = 0; s < S; s++) {
        const grp = Array.from(y.subarray(s * 5, s * 5 + 5));
        expect(grp.every(Number.isFinite)).toBe(true);
        const mx = Math.max(...grp);
        if (mx > 0.99) near++;
        counts[grp.indexOf(mx)]++;
      }
      oneHot.push(near / S);
    }
    expect(oneHot[1]).toBeGreaterThan(oneHot[0]);
    expect(oneHot[2]).toBeGreaterThanOrEqual(oneHot[1]);
    expect(oneHot[2]).toBeGreaterThan(0.98);
    // the argmax is an exact categorical sample (the Gumbel-max trick): frequencies within 4 SE
    for (let c = 0; c < 5; c++) {
      const se = Math.sqrt((q[c] * (1 - q[c])) / S);
      expect(Math.abs(counts[c] / S - q[c]), `category ${c}`).toBeLessThan(4 * se);
    }
  });

  it("high temperature: samples flatten to the uniform vector; no NaN at τ = 1e-4 with logits ±80", async () => {
    const env = await kernelEnv(build);
    const S = 500;
    const pl = env.put([2, -1, 0.5, 3, -2]), pg = env.zeros(S * 5), py = env.zeros(S * 5), ps = env.zeros(S * 5);
    env.k.gumbelNoise(pg, 2, 4, 0, S, 5, 0, 1, 0, 0);
    env.k.gumbelSoftmax(py, ps, pg, pl, S, 1, 5, 1000, 0, 0, 1);
    for (const v of env.read(ps, S * 5)) expect(Math.abs(v - 0.2)).toBeLessThan(0.01);
    const extreme = env.put([80, -80, 0, 79.99, -80]);
    env.k.gumbelSoftmax(py, ps, pg, extreme, S, 1, 5, 1e-4, 0, 0, 1);
    const y = env.read(ps, S * 5);
    expect(y.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
    const pd = env.zeros(5);
    env.k.categoricalBackward(pd, env.put(uniform(S * 5, -1, 1, r)), ps, extreme, S, 1, 5, 1e-4, 1, 0, 1);
    expect(env.read(pd, 5).every(Number.isFinite)).toBe(true);
    const pk = env.zeros(1);
    env.k.categoricalKL(pk, extreme, 1, 5, 0, 1);
    expect(Number.isFinite(env.read(pk, 1)[0])).toBe(true);
  });
});
