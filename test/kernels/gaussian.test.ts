// Latent kernels (assembly/gaussian.ts) on every build: reparameterization, log p(z), log q(z|x),
// analytic KL and importance weights against f64 references; the encoder-head backward for every
// gradient mode against central finite differences of the f64 objective it differentiates.
import { describe, expect, it } from "vitest";
import { GRAD } from "../../bindings/abi.js";
import { BUILDS, f32, gaussian, kernelEnv, numericGrad, rng, uniform, expectClose } from "../helpers/kernel-check.js";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const K = 3, B = 4, Z = 5, R = K * B;

/**
 * f64 model of the rows: z, log p(z), log q(z|x) on the sample path, with q's parameters `hq`,
 * and each dimension's log q_j − log p_j (dkl[r·Z + j]).
 */
function latentRef(h: Float64Array, hq: Float64Array, eps: Float64Array) {
  const z = new Float64Array(R * Z), logpz = new Float64Array(R), logqz = new Float64Array(R), dkl = new Float64Array(R * Z);
  for (let k = 0; k < K; k++) {
    for (let b = 0; b < B; b++) {
      const r = b * K + k;
      for (let j = 0; j < Z; j++) {
        const mu = h[b * 2 * Z + j], lv = h[b * 2 * Z + Z + j];
        const zz = mu + Math.exp(lv / 2) * eps[r * Z + j];
        z[r * Z + j] = zz;
        const lp = -0.5 * zz * zz - HALF_LOG_2PI;
        // log q evaluated with (possibly stopped) parameters hq at the sample z
        const muq = hq[b * 2 * Z + j], lvq = hq[b * 2 * Z + Z + j];
        const lq = -0.5 * (zz - muq) ** 2 / Math.exp(lvq) - HALF_LOG_2PI - lvq / 2;
        logpz[r] += lp;
        logqz[r] += lq;
        dkl[r * Z + j] = lq - lp;
      }
    }
  }
  return { z, logpz, logqz, dkl };
}

/** Each dimension's Monte Carlo KL of example b, mean_k (log q_j − log p_j) (free bits of 'td'/'stl' floor these). */
function mcKlDims(dkl: Float64Array, b: number): number[] {
  return Array.from({ length: Z }, (_, j) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += dkl[(b * K + k) * Z + j];
    return s / K;
  });
}

/** A smooth stand-in for log p(x|z): f(z) = Σ_j a_j sin(z_j) + 0.1 z_j², per row. */
const A = Float64Array.from({ length: Z }, (_, j) => 0.5 + 0.3 * j);
const fRow = (z: Float64Array, r: number) => {
  let s = 0;
  for (let j = 0; j < Z; j++) s += A[j] * Math.sin(z[r * Z + j]) + 0.1 * z[r * Z + j] ** 2;
  return s;
};
const dfRow = (z: Float64Array, r: number, j: number) => A[j] * Math.cos(z[r * Z + j]) + 0.2 * z[r * Z + j];

function klRef(h: Float64Array, b: number) {
  let s = 0;
  for (let j = 0; j < Z; j++) {
    const mu = h[b * 2 * Z + j], lv = h[b * 2 * Z + Z + j];
    s += mu * mu + Math.exp(lv) - 1 - lv;
  }
  return 0.5 * s;
}

/** Each dimension's KL_j of example b (free bits floor these). */
function klDims(h: Float64Array, b: number): number[] {
  return Array.from({ length: Z }, (_, j) => {
    const mu = h[b * 2 * Z + j], lv = h[b * 2 * Z + Z + j];
    return 0.5 * (mu * mu + Math.exp(lv) - 1 - lv);
  });
}

describe.each(BUILDS)("latent kernels, %s build", (build) => {
  const r0 = rng(99);
  const h = f32(uniform(B * 2 * Z, -1.5, 1.5, r0));
  const eps = f32(gaussian(R * Z, r0));
  const logpx = f32(uniform(R, -90, -60, r0));
  const c = f32(uniform(R, 0.01, 0.2, r0));
  const rr = f32(uniform(R, 0.1, 1, r0));
  /** latentBackward's dh at (h, eps), with dz = -c·∂f/∂z from the reference decoder f. */
  const runLatentBackward = (env: Awaited<ReturnType<typeof kernelEnv>>, r: Float64Array | null, mode: number, klScale: number, freeBits: number) => {
    const ref = latentRef(h, h, eps);
    const dz = new Float64Array(R * Z);
    for (let i = 0; i < R; i++) for (let j = 0; j < Z; j++) dz[i * Z + j] = -c[i] * dfRow(ref.z, i, j);
    const ph = env.put(h), pe = env.put(eps), pz = env.zeros(R * Z), pdh = env.zeros(B * 2 * Z);
    env.k.reparameterize(pz, pe, ph, K, Z, 0, B);
    env.k.latentBackward(pdh, env.put(dz), pz, pe, ph, env.put(c), r ? env.put(r) : 0, K, Z, mode, klScale, freeBits, 0, B);
    return env.read(pdh, B * 2 * Z);
  };
  /** λ for the free-bits tests: a float32 halfway between two middle KL_j (about half are floored; none at the kink) */
  const freeBitsLambda = () => {
    const all = Array.from({ length: B }, (_, b) => klDims(h, b)).flat().sort((x, y) => x - y);
    const m = all.length >> 1;
    return Math.fround((all[m - 1] + all[m]) / 2);
  };

  it("reparameterize, log p(z), log q(z|x), log w and KL match the f64 reference", async () => {
    const env = await kernelEnv(build);
    const ph = env.put(h), pe = env.put(eps), pz = env.zeros(R * Z);
    env.k.reparameterize(pz, pe, ph, K, Z, 0, B);
    const ref = latentRef(h, h, eps);
    expectClose(env.read(pz, R * Z), ref.z, 1e-6, 1e-6);
    const plw = env.zeros(R), plpz = env.zeros(R), plqz = env.zeros(R);
    env.k.gaussianLogProbs(plw, plpz, plqz, env.put(logpx), pz, pe, ph, K, Z, 0, B, 0, 0);
    expectClose(env.read(plpz, R), ref.logpz, 1e-5, 1e-6);
    expectClose(env.read(plqz, R), ref.logqz, 1e-5, 1e-6);
    expectClose(env.read(plw, R), Array.from(logpx, (v, i) => v + ref.logpz[i] - ref.logqz[i]), 1e-4, 1e-6);
    const pkl = env.zeros(B);
    env.k.klStandardNormal(pkl, ph, Z, 0, 0, B);
    expectClose(env.read(pkl, B), Array.from({ length: B }, (_, b) => klRef(h, b)), 1e-6, 1e-6);
    // free bits: Σ_j max(λ, KL_j), λ the median of the KL_j (so about half are floored)
    const lambda = freeBitsLambda();
    env.k.klStandardNormal(pkl, ph, Z, lambda, 0, B);
    expectClose(env.read(pkl, B), Array.from({ length: B }, (_, b) => klDims(h, b).reduce((a, v) => a + Math.max(Math.fround(lambda), v), 0)), 1e-6, 1e-6);
  });

  // Each mode's dh against finite differences of the objective it is the gradient of:
  //   ANALYTIC: L = -Σ_r c_r f(z_r) + klScale·Σ_b KL_b
  //   ANALYTIC, per example: L = -Σ_r c_r f(z_r) + klScale·Σ_b c_{bK} KL_b   (M2: klScale = β)
  //   TOTAL:    L = -Σ_r c_r [f(z_r) + β(log p(z_r) - log q(z_r; φ))]            (β = klScale)
  //   PATH:     L = -Σ_r r_r c_r [f(z_r) + β(log p(z_r) - log q(z_r; φ0))]  (φ0 fixed: score stopped)
  //   SCORE:    L = Σ_r r_r·log q(z_r; φ) with z_r held at its sample (REINFORCE's ∇ log q)
  const modes = [["analytic", GRAD.analytic], ["analytic, KL weighted by klScale·c per example", GRAD.analyticPerExample], ["total derivative", GRAD.total], ["path derivative", GRAD.path], ["path derivative with DReG factor", GRAD.path], ["score function", GRAD.score]] as const;
  it.each(modes)("latentBackward (%s) matches finite differences", async (name, mode) => {
    const env = await kernelEnv(build);
    const withR = name.includes("DReG");
    const klScale = 0.25;
    const zFixed = latentRef(h, h, eps).z;
    const objective = (hv: Float64Array) => {
      if (mode === GRAD.score) {
        let L = 0;
        for (let r = 0; r < R; r++) {
          const b = Math.floor(r / K);
          for (let j = 0; j < Z; j++) {
            const mu = hv[b * 2 * Z + j], lv = hv[b * 2 * Z + Z + j];
            L += rr[r] * (-0.5 * (zFixed[r * Z + j] - mu) ** 2 / Math.exp(lv) - HALF_LOG_2PI - lv / 2);
          }
        }
        return L;
      }
      const ref = latentRef(hv, mode === GRAD.path ? h : hv, eps);
      let L = 0;
      for (let r = 0; r < R; r++) {
        const f = fRow(ref.z, r);
        if (mode === GRAD.analytic || mode === GRAD.analyticPerExample) L -= c[r] * f;
        else L -= (withR ? rr[r] : 1) * c[r] * (f + klScale * (ref.logpz[r] - ref.logqz[r]));
      }
      if (mode === GRAD.analytic) for (let b = 0; b < B; b++) L += klScale * klRef(hv, b);
      if (mode === GRAD.analyticPerExample) for (let b = 0; b < B; b++) L += klScale * c[b * K] * klRef(hv, b);
      return L;
    };
    const dh = runLatentBackward(env, withR || mode === GRAD.score ? rr : null, mode, klScale, 0);
    expectClose(dh, numericGrad(objective, Float64Array.from(h), 1e-6), 2e-5, 2e-4);
  });

  it("latentBackward (analytic with free bits) matches finite differences of -Σ c f + klScale·Σ max(λ, KL_j)", async () => {
    const env = await kernelEnv(build);
    const klScale = 0.25, lambda = freeBitsLambda();
    // (no KL_j within 1e-3 of λ: the finite differences never cross the floor's kink)
    for (let b = 0; b < B; b++) for (const v of klDims(h, b)) expect(Math.abs(v - lambda)).toBeGreaterThan(1e-3);
    const objective = (hv: Float64Array) => {
      const ref = latentRef(hv, hv, eps);
      let L = 0;
      for (let r = 0; r < R; r++) L -= c[r] * fRow(ref.z, r);
      for (let b = 0; b < B; b++) for (const v of klDims(hv, b)) L += klScale * Math.max(lambda, v);
      return L;
    };
    expectClose(runLatentBackward(env, null, GRAD.analytic, klScale, lambda), numericGrad(objective, Float64Array.from(h), 1e-6), 2e-5, 2e-4);
  });

  // Free bits of the Monte Carlo estimators: a dimension whose KL_j = mean_k (log q_j − log p_j)
  // is below λ contributes the constant −λ to every row (φ0: q's parameters, held fixed by PATH):
  //   L = -Σ_r c_r [f(z_r) + β Σ_{j not floored} (log p_j(z_r) - log q_j(z_r; φ or φ0))]
  it.each([["total derivative", GRAD.total], ["path derivative", GRAD.path]] as const)(
    "latentBackward (%s) with β and free bits matches finite differences; log w carries the floor", async (_name, mode) => {
      const env = await kernelEnv(build);
      const beta = 0.6;
      const kls = Array.from({ length: B }, (_, b) => mcKlDims(latentRef(h, h, eps).dkl, b));
      const all = kls.flat().sort((x, y) => x - y), m = all.length >> 1;
      const lambda = Math.fround((all[m - 1] + all[m]) / 2);
      // (no KL_j within 1e-3 of λ: the finite differences never cross the floor's kink)
      for (const v of all) expect(Math.abs(v - lambda)).toBeGreaterThan(1e-3);
      const floored = kls.map((row) => row.map((v) => v < lambda));
      const objective = (hv: Float64Array) => {
        const ref = latentRef(hv, mode === GRAD.path ? h : hv, eps);
        let L = 0;
        for (let r = 0; r < R; r++) {
          const b = Math.floor(r / K);
          let t = fRow(ref.z, r);
          for (let j = 0; j < Z; j++) if (!floored[b][j]) t -= beta * ref.dkl[r * Z + j];
          L -= c[r] * t;
        }
        return L;
      };
      expectClose(runLatentBackward(env, null, mode, beta, lambda), numericGrad(objective, Float64Array.from(h), 1e-6), 2e-5, 2e-4);
      // log w: mean_k log w = mean_k log p(x|z) - Σ_j max(λ, KL_j) per example
      const ph = env.put(h), pe = env.put(eps), pz = env.zeros(R * Z), plw = env.zeros(R);
      env.k.reparameterize(pz, pe, ph, K, Z, 0, B);
      env.k.gaussianLogProbs(plw, env.zeros(R), env.zeros(R), env.put(logpx), pz, pe, ph, K, Z, 0, B, 0, lambda);
      const lw = env.read(plw, R);
      const ref = latentRef(h, h, eps);
      for (let r = 0; r < R; r++) {
        const b = Math.floor(r / K);
        let want = logpx[r];
        for (let j = 0; j < Z; j++) want -= floored[b][j] ? lambda : ref.dkl[r * Z + j];
        expect(Math.abs(lw[r] - want), `log w of row ${r}`).toBeLessThan(1e-4 * Math.abs(want));
      }
      expect(floored.flat().filter(Boolean).length).toBeGreaterThan(0);
    });

  it("logvar is clamped to ±30: finite outputs and no gradient beyond the clamp", async () => {
    const env = await kernelEnv(build);
    const hv = Float64Array.from(h);
    hv[Z] = 500; // logvar of example 0, unit 0
    hv[2 * Z + Z + 1] = -500; // logvar of example 1, unit 1
    const ph = env.put(hv), pe = env.put(eps), pz = env.zeros(R * Z);
    env.k.reparameterize(pz, pe, ph, K, Z, 0, B);
    expect(env.read(pz, R * Z).every(Number.isFinite)).toBe(true);
    const pkl = env.zeros(B);
    env.k.klStandardNormal(pkl, ph, Z, 0, 0, B);
    expect(env.read(pkl, B).every(Number.isFinite)).toBe(true);
    for (const mode of [GRAD.analytic, GRAD.total, GRAD.path, GRAD.score]) {
      const pdh = env.zeros(B * 2 * Z);
      env.k.latentBackward(pdh, env.put(new Float64Array(R * Z).fill(0.01)), pz, pe, ph, env.put(c), env.put(rr), K, Z, mode, 0.25, 0, 0, B);
      const dh = env.read(pdh, B * 2 * Z);
      expect(dh.every(Number.isFinite)).toBe(true);
      expect(dh[Z]).toBe(0);
      expect(dh[2 * Z + Z + 1]).toBe(0);
    }
  });

  it("importanceWeights: stable log-mean-exp and softmax weights, even for log w ≈ -1e4", async () => {
    const env = await kernelEnv(build);
    const lw = f32(uniform(R, -10020, -9980, rng(3)));
    const pb = env.zeros(B), pw = env.zeros(R);
    env.k.importanceWeights(pb, pw, env.put(lw), K, 0, B);
    const bound = env.read(pb, B), wt = env.read(pw, R);
    for (let b = 0; b < B; b++) {
      const col = Array.from({ length: K }, (_, k) => lw[b * K + k]);
      const m = Math.max(...col);
      const s = col.reduce((a, v) => a + Math.exp(v - m), 0);
      expect(Math.abs(bound[b] - (m + Math.log(s) - Math.log(K)))).toBeLessThan(2e-3); // f32 at 1e4: ulp ≈ 1e-3
      for (let k = 0; k < K; k++) expect(Math.abs(wt[b * K + k] - Math.exp(col[k] - m) / s)).toBeLessThan(1e-6);
    }
  });
});
