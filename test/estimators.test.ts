// The multi-sample and score-function estimators through the whole model, on every build:
// lossAndGrads against central finite differences of the f64 objective each one differentiates
// (with importance weights, stopped parameters or fixed samples held at their values).
import { describe, expect, it } from "vitest";
import { VAE } from "../src/index.js";
import { BUILDS, f32, gaussian, numericGrad, rng, uniform, worst } from "./helpers/env.js";
import { logMeanExp, referenceRows, toF64, type Params } from "./helpers/reference.js";

const OPTS = { inputDim: 6, latentDim: 3, hidden: [5], activation: "tanh" as const, likelihood: "bernoulli" as const };
const B = 3, K = 4;

describe.each(BUILDS)("multi-sample estimators against finite differences, %s build", (build) => {
  it.each(["iwae", "iwae-stl", "dreg", "score"] as const)("%s", async (estimator) => {
    const vae = await VAE.create({ ...OPTS, seed: 4, build });
    const cfg = vae.config;
    const r = rng(23);
    const x = f32(uniform(B * cfg.inputDim, 0, 1, r));
    const eps = f32(gaussian(K * B * cfg.latentDim, r));
    const p0 = toF64(vae.stateDict());
    const rows0 = referenceRows(cfg, p0, x, eps, K);
    const { bound, wt } = logMeanExp(rows0.logw, K, B);
    const iwaeLoss = (p: Params) => -logMeanExp(referenceRows(cfg, p, x, eps, K).logw, K, B).bound.reduce((a, v) => a + v, 0) / B;
    // the objective whose gradient each estimator returns, per tensor
    const objective = (tensor: string): ((p: Params) => number) => {
      const enc = tensor.startsWith("encoder.");
      switch (estimator) {
        case "iwae":
          return iwaeLoss;
        case "iwae-stl": // Σ_k w̃_k(θ0) log w_k with log q's parameters stopped
          return (p) => -referenceRows(cfg, p, x, eps, K, { q: p0 }).logw.reduce((a, v, i) => a + wt[i] * v, 0) / B;
        case "dreg": // encoder: Σ w̃²(θ0) ∇_path log w; decoder: the IWAE bound's true gradient
          return enc ? (p) => -referenceRows(cfg, p, x, eps, K, { q: p0 }).logw.reduce((a, v, i) => a + wt[i] * wt[i] * v, 0) / B : iwaeLoss;
        case "score": { // encoder: -(1/KB) Σ (log w - b) log q(z fixed); decoder: the ELBO's gradient
          if (!enc) return (p) => -referenceRows(cfg, p, x, eps, K).logw.reduce((a, v) => a + v, 0) / (K * B);
          const base = Array.from(rows0.logw, (lw, i) => {
            const b = Math.floor(i / K);
            let s = 0;
            for (let k = 0; k < K; k++) s += rows0.logw[b * K + k];
            return (s - lw) / (K - 1);
          });
          return (p) => -referenceRows(cfg, p, x, eps, K, { zFrom: p0 }).logqz.reduce((a, lq, i) => a + (rows0.logw[i] - base[i]) * lq, 0) / (K * B);
        }
      }
    };
    const got = vae.lossAndGrads(Float32Array.from(x), { estimator, eps: Float32Array.from(eps), samples: K });
    const wantLoss = estimator === "score" ? -rows0.logw.reduce((a, v) => a + v, 0) / (K * B) : -bound.reduce((a, v) => a + v, 0) / B;
    expect(Math.abs(got.loss - wantLoss)).toBeLessThan(1e-5 * (1 + Math.abs(wantLoss)));
    for (const [tensor, g] of Object.entries(got.grads)) {
      const fd = numericGrad((v) => objective(tensor)({ ...p0, [tensor]: v }), Float64Array.from(p0[tensor]), 1e-6);
      const t = worst(g, fd, 1e-5, 1e-3);
      expect(t.ratio, `${tensor}: ${JSON.stringify(t)}`).toBeLessThanOrEqual(1);
    }
    vae.dispose();
  });

  it("the IWAE bound is at least the ELBO on the same samples, and equals it for K = 1", async () => {
    const vae = await VAE.create({ ...OPTS, seed: 6, build });
    const r = rng(5);
    const x = Float32Array.from(uniform(20 * 6, 0, 1, r));
    for (const k of [2, 5, 20]) {
      const eps = Float32Array.from(gaussian(k * 20 * 3, r));
      const elbo = -vae.lossAndGrads(x, { estimator: "td", samples: k, eps }).loss;
      const iw = -vae.lossAndGrads(x, { estimator: "iwae", samples: k, eps }).loss;
      expect(iw).toBeGreaterThanOrEqual(elbo);
    }
    const eps1 = Float32Array.from(gaussian(20 * 3, r));
    const a = vae.lossAndGrads(x, { estimator: "iwae", samples: 1, eps: eps1 }), b = vae.lossAndGrads(x, { estimator: "td", samples: 1, eps: eps1 });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5 * Math.abs(b.loss));
    for (const t of Object.keys(a.grads)) {
      const d = worst(a.grads[t], b.grads[t], 1e-6, 1e-5);
      expect(d.ratio, t).toBeLessThanOrEqual(1);
    }
  });
});
