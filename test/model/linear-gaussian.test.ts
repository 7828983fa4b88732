// The seed's central result on the linear-Gaussian model with a closed-form posterior:
// at q = the exact posterior the sticking-the-landing (path derivative) gradient of the encoder is
// zero for every sample, while the total derivative's is not; away from it, every estimator is
// unbiased for the exact ELBO gradient (checked against the closed form, with tolerances from
// the Monte Carlo standard error).
import { describe, expect, it } from "vitest";
import { BUILDS } from "../helpers/kernel-check.js";
import { exactElbo, exactLogMarginal, linearGaussian, linearGaussianVAE } from "../helpers/linear-gaussian.js";
import { numericGrad } from "../helpers/kernel-check.js";

const ENC = ["encoder.mu.weight", "encoder.mu.bias", "encoder.logvar.weight", "encoder.logvar.bias"];
const m = linearGaussian();
const x = Float64Array.from([1.2, -0.7, 0.4, 2.0]);

describe.each(BUILDS)("linear-Gaussian model, %s build", (build) => {
  it("at the exact posterior, the ELBO equals log p(x) for every sample, STL's encoder gradient is 0 for every sample, TD's is not", async () => {
    const vae = await linearGaussianVAE(m, 0, build);
    const logpx = exactLogMarginal(m, x);
    // log w = log p(x, z) - log q(z|x) = log p(x) for every z: the MC ELBO has zero variance
    const mc = vae.elbo(Float32Array.from(x), { estimator: "td", samples: 50 });
    expect(Math.abs(mc - logpx)).toBeLessThan(1e-5 * Math.abs(logpx) + 1e-5);
    let tdMax = 0, stlMax = 0;
    for (let step = 0; step < 200; step++) {
      const td = vae.lossAndGrads(Float32Array.from(x), { estimator: "td", step });
      const stl = vae.lossAndGrads(Float32Array.from(x), { estimator: "stl", step });
      expect(Math.abs(stl.loss + logpx)).toBeLessThan(1e-5 * Math.abs(logpx) + 1e-5);
      for (const t of ENC) {
        tdMax = Math.max(tdMax, ...Array.from(td.grads[t], Math.abs));
        stlMax = Math.max(stlMax, ...Array.from(stl.grads[t], Math.abs));
      }
    }
    // STL: the per-sample gradient (g - z + eps/sigma)·∂(mu, logvar)/∂θ cancels exactly; what
    // is left is f32 rounding of the cancelling terms. Those terms are as large as TD's gradient
    // (TD adds back the score, of the same size), and weight gradients carry a factor |x|, so
    // "zero to float precision" is: a few (16) f32 ulps of tdMax·max(1, |x|).
    const xMax = Math.max(1, ...Array.from(x, Math.abs));
    expect(tdMax).toBeGreaterThan(0.1);
    expect(stlMax).toBeLessThan(16 * 2 ** -23 * tdMax * xMax);
    vae.dispose();
  });

  it("away from the posterior, every unbiased estimator is: analytic, TD, STL and the score function for the exact ELBO gradient (TD − STL has mean 0), IWAE and DReG for the same IWAE-bound gradient (their difference has mean 0)", async () => {
    const vae = await linearGaussianVAE(m, 1, build);
    // exact gradient of the closed-form ELBO w.r.t. the encoder tensors (encoder is linear:
    // mu = Wmu x + bmu, logvar = Wlv x + blv), by central differences in f64
    const enc = vae.stateDict();
    const Z = m.Z, D = m.D;
    const loss = (name: string, v: Float64Array) => {
      const t = { ...Object.fromEntries(ENC.map((n) => [n, Float64Array.from(enc[n])])), [name]: v };
      const mu = new Float64Array(Z), lv = new Float64Array(Z);
      for (let j = 0; j < Z; j++) {
        mu[j] = t["encoder.mu.bias"][j];
        lv[j] = t["encoder.logvar.bias"][j];
        for (let d = 0; d < D; d++) {
          mu[j] += t["encoder.mu.weight"][j * D + d] * x[d];
          lv[j] += t["encoder.logvar.weight"][j * D + d] * x[d];
        }
      }
      return -exactElbo(m, x, mu, lv);
    };
    const exact = Object.fromEntries(ENC.map((n) => [n, numericGrad((v) => loss(n, v), Float64Array.from(enc[n]), 1e-6)]));
    const N = 4000;
    // a single estimator, or the paired difference of two on the same noise (IWAE − DReG at K = 5)
    const PAIRS = { "td-stl": ["td", "stl", 1], "iwae-dreg": ["iwae", "dreg", 5] } as const;
    const stats = (est: "analytic" | "td" | "stl" | "score" | keyof typeof PAIRS) => {
      const sum: Record<string, Float64Array> = {}, sum2: Record<string, Float64Array> = {};
      for (const n of ENC) { sum[n] = new Float64Array(enc[n].length); sum2[n] = new Float64Array(enc[n].length); }
      const [first, second, samples] = est in PAIRS ? PAIRS[est as keyof typeof PAIRS] : [est, null, 1];
      for (let step = 0; step < N; step++) {
        const a = vae.lossAndGrads(Float32Array.from(x), { estimator: first as never, samples, step });
        const b = second ? vae.lossAndGrads(Float32Array.from(x), { estimator: second, samples, step }) : null;
        for (const n of ENC) {
          for (let i = 0; i < sum[n].length; i++) {
            const g = a.grads[n][i] - (b ? b.grads[n][i] : 0);
            sum[n][i] += g;
            sum2[n][i] += g * g;
          }
        }
      }
      return { sum, sum2 };
    };
    for (const est of ["analytic", "td", "stl", "score", "td-stl", "iwae-dreg"] as const) {
      const { sum, sum2 } = stats(est);
      for (const n of ENC) {
        for (let i = 0; i < sum[n].length; i++) {
          const mean = sum[n][i] / N;
          const se = Math.sqrt(Math.max(sum2[n][i] / N - mean * mean, 0) / N);
          const want = est in PAIRS ? 0 : exact[n][i];
          // 4.5 standard errors per coordinate (20 coordinates × 6 checks: P(false alarm) < 1e-3)
          expect(Math.abs(mean - want), `${est} ${n}[${i}]: mean ${mean}, exact ${want}, se ${se}`).toBeLessThanOrEqual(4.5 * se + 1e-6);
        }
      }
    }
    vae.dispose();
  });
});
