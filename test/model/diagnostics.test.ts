// gradientStats against a direct computation from per-draw lossAndGrads on a small model, and
// the seed's variance facts on the linear-Gaussian model.
import { describe, expect, it } from "vitest";
import { VAE } from "../../src/index.js";
import { SeededRandom } from "../../src/util/random.js";
import { rng, uniform } from "../helpers/kernel-check.js";
import { linearGaussian, linearGaussianVAE } from "../helpers/linear-gaussian.js";

describe("gradientStats", () => {
  it("matches statistics computed directly from per-draw gradients on the same noise", async () => {
    const vae = await VAE.create({ inputDim: 10, latentDim: 3, hidden: [6], activation: "tanh", seed: 2 });
    const x = Float32Array.from(uniform(4 * 10, 0, 1, rng(3)));
    const estimators = ["iwae", "dreg", "iwae-stl"] as const, N = 30, K = 3, seed = 5;
    const got = vae.gradientStats(x, { estimators: [...estimators], draws: N, samples: K, seed });
    const shapes = vae.parameterShapes;
    const names = Object.keys(shapes);
    // the same ±1 direction the method draws
    const P = vae.parameterCount, r = new SeededRandom(seed, 11);
    const dirAll = Float64Array.from({ length: P }, () => (r.next() < 0.5 ? -1 : 1));
    const offsets: Record<string, number> = {};
    let off = 0;
    // tensors are stored in storage order; the head's weight tensors are interleaved with biases as in parameterShapes
    for (const n of names) { offsets[n] = off; off += shapes[n].reduce((a, b) => a * b, 1); }
    const draws = estimators.map((e) => Array.from({ length: N }, (_, d) => vae.lossAndGrads(x, { estimator: e, samples: K, seed, step: d }).grads));
    for (const [e, est] of estimators.entries()) {
      for (const group of [...names, "encoder", "decoder", "all"]) {
        const members = names.filter((n) => n === group || group === "all" || n.startsWith(group + "."));
        let mean2 = 0, trace = 0;
        for (const n of members) {
          for (let i = 0; i < draws[e][0][n].length; i++) {
            let s = 0, s2 = 0;
            for (let d = 0; d < N; d++) { s += draws[e][d][n][i]; s2 += draws[e][d][n][i] ** 2; }
            const mu = s / N;
            mean2 += mu * mu;
            trace += Math.max(0, (s2 - N * mu * mu) / (N - 1));
          }
        }
        const g = got.estimators[est][group];
        expect(Math.abs(g.meanNorm - Math.sqrt(mean2)), `${est} ${group}`).toBeLessThanOrEqual(1e-9 * Math.sqrt(mean2) + 1e-12);
        expect(Math.abs(g.varianceTrace - trace), `${est} ${group}`).toBeLessThanOrEqual(1e-8 * trace + 1e-15);
        if (e === 0) {
          expect(g.t).toBe(0);
        } else {
          // paired t of u_d = Σ (g - g_ref)·dir
          const u = Array.from({ length: N }, (_, d) => members.reduce((acc, n) => {
            let s = 0;
            for (let i = 0; i < draws[e][d][n].length; i++) s += (draws[e][d][n][i] - draws[0][d][n][i]) * dirAll[offsets[n] + i];
            return acc + s;
          }, 0));
          const mu = u.reduce((a, b) => a + b, 0) / N;
          const sd = Math.sqrt(u.reduce((a, b) => a + (b - mu) ** 2, 0) / (N - 1));
          // identical gradients (DReG's and IWAE's decoder parts) give u ≡ 0: t is defined as 0
          const want = sd > 0 ? mu / (sd / Math.sqrt(N)) : 0;
          if (est === "dreg" && group.startsWith("decoder")) expect(sd).toBe(0);
          expect(Math.abs(g.t - want), `${est} ${group} t`).toBeLessThan(1e-6 * (1 + Math.abs(want)));
        }
      }
    }
  });

  it("linear-Gaussian at the exact posterior: STL and DReG encoder variance 0 to float precision, TD's positive", async () => {
    const m = linearGaussian();
    const vae = await linearGaussianVAE(m, 0);
    const x = Float32Array.from([1.2, -0.7, 0.4, 2.0, -0.3, 0.8, 1.1, 0.0]); // two examples
    const one = vae.gradientStats(x, { estimators: ["td", "stl"], draws: 200 });
    const five = vae.gradientStats(x, { estimators: ["iwae", "dreg"], draws: 200, samples: 5 });
    const td = one.estimators.td.encoder.varianceTrace, iw = five.estimators.iwae.encoder.varianceTrace;
    expect(td).toBeGreaterThan(0.01);
    expect(iw).toBeGreaterThan(0.01);
    // f32 rounding of the cancelling terms only: ~1e-6 relative per element, squared
    expect(one.estimators.stl.encoder.varianceTrace / td).toBeLessThan(1e-9);
    expect(five.estimators.dreg.encoder.varianceTrace / iw).toBeLessThan(1e-9);
  });

  it("away from the posterior the t-statistics are consistent with equal expectations (TD vs STL vs score)", async () => {
    const m = linearGaussian();
    const vae = await linearGaussianVAE(m, 1);
    const x = Float32Array.from([1.2, -0.7, 0.4, 2.0]);
    const s = vae.gradientStats(x, { estimators: ["td", "stl", "score"], draws: 3000, samples: 2, seed: 4 });
    for (const est of ["stl", "score"]) {
      for (const group of ["encoder", "encoder.mu.weight", "encoder.logvar.bias"]) {
        // |t| beyond 4.5 would reject "same expectation" at p < 1e-5
        expect(Math.abs(s.estimators[est][group].t), `${est} ${group}`).toBeLessThan(4.5);
      }
    }
    // and the seed's point: STL has lower encoder variance than TD here, the score function far higher
    expect(s.estimators.stl.encoder.varianceTrace).toBeLessThan(s.estimators.td.encoder.varianceTrace);
    expect(s.estimators.score.encoder.varianceTrace).toBeGreaterThan(s.estimators.td.encoder.varianceTrace);
  });

  it("validates its options", async () => {
    const vae = await VAE.create({ inputDim: 4, latentDim: 2, hidden: [3] });
    const x = new Float32Array(8).fill(0.5);
    expect(() => vae.gradientStats(x, { draws: 1 })).toThrow(/options.draws must be an integer in \[2, 1048576\]; got 1/);
    expect(() => vae.gradientStats(x, { estimators: [] })).toThrow(/options.estimators must be a non-empty array/);
    expect(() => vae.gradientStats(x, { estimators: ["td", "reinforce" as never] })).toThrow(/options.estimators\[1\] must be one of/);
  });
});

describe("gradient statistics during training", () => {
  it("fit records gradientStats every N steps without disturbing training", async () => {
    const x = Float32Array.from(uniform(200 * 10, 0, 1, rng(8)));
    const plain = await VAE.create({ inputDim: 10, latentDim: 3, hidden: [6], seed: 4 });
    const watched = await VAE.create({ inputDim: 10, latentDim: 3, hidden: [6], seed: 4 });
    const h1 = await plain.fit(x, { epochs: 2, batchSize: 20, estimator: "stl" });
    const seen: { step: number; trace: number }[] = [];
    const h2 = await watched.fit(x, {
      epochs: 2, batchSize: 20, estimator: "stl",
      // a probe batch of another size and K re-lays the workspace: training must not notice
      gradientStats: { every: 5, estimators: ["td", "stl"], draws: 10, samples: 3, data: x.subarray(0, 7 * 10), onStats: (step, s) => seen.push({ step, trace: s.estimators.td.all.varianceTrace }) },
    });
    expect(h2.map((h) => h.loss)).toEqual(h1.map((h) => h.loss));
    expect(watched.stateDict()).toEqual(plain.stateDict());
    expect(seen.map((s) => s.step)).toEqual([0, 5, 10, 15, 20]);
    expect(seen.every((s) => s.trace > 0)).toBe(true);
  });
});

describe("memory growth", () => {
  it("gradientStats on a model whose memory must grow for its statistics buffers still runs (views re-made)", async () => {
    const vae = await VAE.create({ inputDim: 784, latentDim: 20, hidden: [400] });
    const x = new Float32Array(3 * 784).fill(0.3);
    const s = vae.gradientStats(x, { estimators: ["td", "stl", "iwae", "dreg"], draws: 2, samples: 2 });
    expect(s.estimators.dreg.all.varianceTrace).toBeGreaterThan(0);
    expect(Number.isFinite(vae.trainStep(x))).toBe(true);
  });
});

