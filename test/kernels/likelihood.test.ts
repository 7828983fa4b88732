// Likelihood kernels (assembly/likelihood.ts) on every build: Bernoulli-with-logits and Gaussian
// (fixed and learned variance) log-probabilities against f64, including extreme logits; their
// backward against central finite differences of -Σ_r c_r log p_r.
import { describe, expect, it } from "vitest";
import { BUILDS, f32, kernelEnv, numericGrad, rng, uniform, expectClose } from "../helpers/kernel-check.js";

// D = 29 = 16 + 8 + 4 + 1: a row runs through every loop of the SIMD kernels (four vectors, two,
// one, scalar)
const B = 3, K = 2, R = K * B, D = 29;
const softplus = (l: number) => Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l)));
const bernRef = (l: Float64Array, x: Float64Array, r: number) => {
  let s = 0;
  for (let d = 0; d < D; d++) s += x[Math.floor(r / K) * D + d] * l[r * D + d] - softplus(l[r * D + d]);
  return s;
};
const gaussRef = (m: Float64Array, x: Float64Array, lv: (d: number) => number, r: number) => {
  let s = 0;
  for (let d = 0; d < D; d++) s += -0.5 * ((x[Math.floor(r / K) * D + d] - m[r * D + d]) ** 2 / Math.exp(lv(d)) + Math.log(2 * Math.PI) + lv(d));
  return s;
};

describe.each(BUILDS)("likelihood kernels, %s build", (build) => {
  const r0 = rng(21);
  const x = f32(uniform(B * D, 0, 1, r0));
  const c = f32(uniform(R, 0.1, 1, r0));

  it("Bernoulli log p and probabilities match f64, finite for logits up to ±1e4", async () => {
    const env = await kernelEnv(build);
    const l = f32(uniform(R * D, -8, 8, r0));
    l[0] = 1e4; l[1] = -1e4; l[2] = 90; l[3] = -90; l[4] = 0;
    const plp = env.zeros(R), pp = env.zeros(R * D);
    env.k.bernoulliLogProb(plp, pp, env.put(l), env.put(x), K, D, 0, R);
    expectClose(env.read(plp, R), Array.from({ length: R }, (_, r) => bernRef(l, x, r)), 1e-4, 1e-6);
    const p = env.read(pp, R * D);
    expectClose(p, Array.from(l, (v) => 1 / (1 + Math.exp(-v))), 1e-7, 1e-6);
    // probs = 0 (evaluation) gives the same log p bit for bit and writes no probabilities
    const plp2 = env.zeros(R), pl = env.put(l);
    env.k.bernoulliLogProb(plp2, 0, pl, env.put(x), K, D, 0, R);
    expect(env.read(plp2, R)).toEqual(env.read(plp, R));
    expect(Array.from(env.read(pl, R * D))).toEqual(Array.from(f32(l)));
  });

  it("Bernoulli softplus and sigmoid are accurate to a few ulp per element over logits in [-100, 100]", async () => {
    const env = await kernelEnv(build);
    // one logit per row, repeated in 12 lanes so both SIMD loops (8 and 4 wide) compute it; x = 0
    // so log p = -12·softplus(l)
    const n = 4001, W = 12;
    const l = new Float64Array(n * W);
    for (let i = 0; i < n; i++) l.fill(Math.fround(-100 + (200 * i) / (n - 1) + 1e-3 * Math.sin(i)), i * W, (i + 1) * W);
    const plp = env.zeros(n), pp = env.zeros(n * W);
    env.k.bernoulliLogProb(plp, pp, env.put(l), env.zeros(W), n, W, 0, n);
    const lp = env.read(plp, n), p = env.read(pp, n * W);
    // Error in units of (f32 epsilon · value + 2^-120): relative to a few ulp wherever f32 has
    // normal numbers, and an absolute floor of 2^-120 below that (softplus(-100) = 3.7e-44 is
    // not representable as a normal f32; any tiny value is as good inside a log-likelihood sum).
    const err = (got: number, want: number) => Math.abs(got - want) / (want * 2 ** -23 + 2 ** -120);
    let worstSp = 0, worstSig = 0;
    for (let i = 0; i < n; i++) {
      const v = l[i * W];
      worstSp = Math.max(worstSp, err(-lp[i] / W, softplus(v)));
      worstSig = Math.max(worstSig, err(p[i * W], 1 / (1 + Math.exp(-v))));
    }
    expect(worstSp, "softplus error").toBeLessThan(8);
    expect(worstSig, "sigmoid error").toBeLessThan(8);
  });

  it("a NaN logit makes its row's log p NaN (never a silently finite likelihood)", async () => {
    const env = await kernelEnv(build);
    for (const at of [0, 9, 12]) { // in the 8-wide loop, the 4-wide loop, the scalar tail
      const l = f32(uniform(R * D, -4, 4, r0));
      l[D + at] = NaN; // row 1
      const plp = env.zeros(R);
      env.k.bernoulliLogProb(plp, 0, env.put(l), env.put(x), K, D, 0, R);
      const lp = env.read(plp, R);
      expect(Number.isNaN(lp[1]), `NaN at column ${at}`).toBe(true);
      expect(lp.filter((v) => Number.isNaN(v)).length).toBe(1);
    }
  });

  it("Bernoulli backward matches finite differences of -Σ c·log p", async () => {
    const env = await kernelEnv(build);
    const l = f32(uniform(R * D, -4, 4, r0));
    const plp = env.zeros(R), pl = env.put(l), px = env.put(x);
    env.k.bernoulliLogProb(plp, pl, pl, px, K, D, 0, R); // probabilities in place
    env.k.bernoulliBackward(pl, pl, px, env.put(c), K, D, 0, R);
    const want = numericGrad((v) => -Array.from({ length: R }, (_, r) => c[r] * bernRef(v, x, r)).reduce((a, b) => a + b), Float64Array.from(l));
    expectClose(env.read(pl, R * D), want, 1e-6, 1e-4);
  });

  it.each([["fixed variance 0.3", false], ["learned per-output variance", true]] as const)(
    "Gaussian (%s): log p against f64, backward against finite differences", async (_n, learned) => {
      const env = await kernelEnv(build);
      const m = f32(uniform(R * D, -1, 2, r0));
      const lvOut = f32(uniform(D, -1, 1, r0));
      const logVar = Math.fround(Math.log(0.3));
      const lvAt = (v: Float64Array) => (d: number) => (learned ? v[d] : logVar);
      const plp = env.zeros(R), pm = env.put(m), px = env.put(x), plv = learned ? env.put(lvOut) : 0;
      env.k.gaussianLogProb(plp, pm, px, plv, logVar, K, D, 0, R);
      expectClose(env.read(plp, R), Array.from({ length: R }, (_, r) => gaussRef(m, x, lvAt(lvOut), r)), 1e-4, 1e-6);
      const pdm = env.zeros(R * D);
      env.k.gaussianBackward(pdm, pm, px, env.put(c), plv, logVar, K, D, 0, R);
      const loss = (mm: Float64Array, lv: Float64Array) => -Array.from({ length: R }, (_, r) => c[r] * gaussRef(mm, x, lvAt(lv), r)).reduce((a, b) => a + b);
      expectClose(env.read(pdm, R * D), numericGrad((v) => loss(v, lvOut), Float64Array.from(m)), 1e-5, 1e-4);
      if (learned) {
        const pdlv = env.zeros(D);
        env.k.gaussianLogvarGrad(pdlv, pm, px, env.put(c), plv, K, D, R, 0, D);
        expectClose(env.read(pdlv, D), numericGrad((v) => loss(m, v), Float64Array.from(lvOut)), 1e-5, 1e-4);
        // threads take column ranges: the same bits whatever the split
        const pcol = env.zeros(D);
        const cut = Math.floor(D / 2);
        env.k.gaussianLogvarGrad(pcol, pm, px, env.put(c), plv, K, D, R, 0, cut);
        env.k.gaussianLogvarGrad(pcol, pm, px, env.put(c), plv, K, D, R, cut, D);
        expect(env.read(pcol, D)).toEqual(env.read(pdlv, D));
      }
    });
});
