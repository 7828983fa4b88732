// Multi-sample bounds and evaluation on the linear-Gaussian model, where log p(x) and the
// posterior are known in closed form. Tolerances come from the Monte Carlo standard error.
import { describe, expect, it } from "vitest";
import { BUILDS } from "../helpers/kernel-check.js";
import { exactLogMarginal, linearGaussian, linearGaussianVAE } from "../helpers/linear-gaussian.js";
import { evenExamples } from "../../src/model/evaluate.js";

const ENC = ["encoder.mu.weight", "encoder.mu.bias", "encoder.logvar.weight", "encoder.logvar.bias"];
const m = linearGaussian();
const x = Float64Array.from([1.2, -0.7, 0.4, 2.0]);
const logpx = exactLogMarginal(m, x);

describe.each(BUILDS)("importance sampling on the linear-Gaussian model, %s build", (build) => {
  it("K = 5000 estimates log p(x) within its standard error, and is exact at the true posterior", async () => {
    const off = await linearGaussianVAE(m, 1, build);
    const r = off.logLikelihood(Float32Array.from(x), { samples: 5000 });
    expect(r.standardError[0]).toBeGreaterThan(0);
    expect(Math.abs(r.mean - logpx), `estimate ${r.mean}, exact ${logpx}, se ${r.standardError[0]}`).toBeLessThan(4.5 * r.standardError[0]);
    // the same numbers whatever the chunking, bit for bit (noise is keyed by example and sample
    // index; the log-sum-exp runs over all K in sample order)
    const again = off.logLikelihood(Float32Array.from(x), { samples: 5000, sampleChunk: 137 });
    expect(again.mean).toBe(r.mean);
    expect(again.standardError[0]).toBe(r.standardError[0]);
    const exact = await linearGaussianVAE(m, 0, build);
    const e = exact.logLikelihood(Float32Array.from(x), { samples: 1000 });
    expect(Math.abs(e.mean - logpx)).toBeLessThan(1e-5 * Math.abs(logpx));
    expect(e.standardError[0]).toBeLessThan(1e-5);
  });

  it("the IWAE bound's expectation rises with K and stays below log p(x)", async () => {
    const vae = await linearGaussianVAE(m, 1, build);
    // N copies of x: every row gets independent noise, so the row mean estimates E[L_K]
    const N = 4000;
    const xs = new Float32Array(N * m.D);
    for (let i = 0; i < N; i++) xs.set(x, i * m.D);
    const stats = (K: number) => {
      const r = vae.logLikelihood(xs, { samples: K, seed: 11 });
      const mean = r.mean;
      const sd = Math.sqrt(r.perExample.reduce((a, v) => a + (v - mean) ** 2, 0) / (N - 1));
      return { mean, se: sd / Math.sqrt(N) };
    };
    const l1 = stats(1), l5 = stats(5), l50 = stats(50);
    // each gap must be positive beyond 4.5 standard errors of the difference (independent draws)
    expect(l5.mean - l1.mean, `L1 ${l1.mean}±${l1.se}, L5 ${l5.mean}±${l5.se}`).toBeGreaterThan(4.5 * Math.hypot(l1.se, l5.se));
    expect(l50.mean - l5.mean, `L5 ${l5.mean}±${l5.se}, L50 ${l50.mean}±${l50.se}`).toBeGreaterThan(4.5 * Math.hypot(l5.se, l50.se));
    expect(l50.mean).toBeLessThan(logpx + 4.5 * l50.se);
    // and L_1 is the ELBO: the same as the Monte Carlo ELBO's expectation
    const elbo = vae.elbo(xs, { estimator: "analytic" });
    expect(Math.abs(elbo - l1.mean)).toBeLessThan(4.5 * l1.se);
  });

  it("DReG's encoder gradient has the expectation of the IWAE (total derivative) gradient, K = 5", async () => {
    const vae = await linearGaussianVAE(m, 1, build);
    const N = 4000, K = 5;
    const sum: Record<string, Float64Array> = {}, sum2: Record<string, Float64Array> = {};
    for (const n of ENC) { sum[n] = new Float64Array(vae.parameterShapes[n].reduce((a, b) => a * b)); sum2[n] = new Float64Array(sum[n].length); }
    for (let step = 0; step < N; step++) {
      const a = vae.lossAndGrads(Float32Array.from(x), { estimator: "dreg", samples: K, step });
      const b = vae.lossAndGrads(Float32Array.from(x), { estimator: "iwae", samples: K, step });
      for (const n of ENC) {
        for (let i = 0; i < sum[n].length; i++) {
          const d = a.grads[n][i] - b.grads[n][i];
          sum[n][i] += d;
          sum2[n][i] += d * d;
        }
      }
    }
    for (const n of ENC) {
      for (let i = 0; i < sum[n].length; i++) {
        const mean = sum[n][i] / N, se = Math.sqrt(Math.max(sum2[n][i] / N - mean * mean, 0) / N);
        expect(Math.abs(mean), `${n}[${i}]: mean difference ${mean}, se ${se}`).toBeLessThanOrEqual(4.5 * se + 1e-7);
      }
    }
  });

  it("at the exact posterior, DReG, IWAE-STL and STL encoder gradients are 0 for every draw; IWAE's is not", async () => {
    const vae = await linearGaussianVAE(m, 0, build);
    const maxAbs = (estimator: "dreg" | "iwae-stl" | "stl" | "iwae", samples: number) => {
      let mx = 0;
      for (let step = 0; step < 100; step++) {
        const g = vae.lossAndGrads(Float32Array.from(x), { estimator, samples, step }).grads;
        for (const n of ENC) for (const v of g[n]) mx = Math.max(mx, Math.abs(v));
      }
      return mx;
    };
    const iw = maxAbs("iwae", 5);
    expect(iw).toBeGreaterThan(0.1);
    // "zero to float precision": 16 ulps of the cancelling terms' size (IWAE's gradient) × |x|
    const tol = 16 * 2 ** -23 * iw * Math.max(1, ...Array.from(x, Math.abs));
    expect(maxAbs("dreg", 5)).toBeLessThan(tol);
    expect(maxAbs("iwae-stl", 5)).toBeLessThan(tol);
    expect(maxAbs("stl", 1)).toBeLessThan(tol);
  });
});

describe("evaluation passes", () => {
  it("hold a multiple of the threads' count of examples where there are enough (an even split of the pass)", () => {
    expect([evenExamples(3, 2), evenExamples(10, 3), evenExamples(10, 4), evenExamples(1, 2), evenExamples(5, 1), evenExamples(2, 2)]).toEqual([2, 9, 8, 1, 5, 2]);
  });
});
