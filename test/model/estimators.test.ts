// Every estimator through the whole model, on every build, for models of every shape:
// lossAndGrads against central finite differences of an independent f64 implementation of the
// objective the estimator differentiates (with importance weights, stopped parameters or fixed
// samples held at their values), with the same eps.
import { describe, expect, it } from "vitest";
import { VAE, ESTIMATOR_NAMES, type EstimatorName, type ResolvedConfig, type VAEOptions } from "../../src/index.js";
import { BUILDS, gaussian, rng, uniform, expectClose } from "../helpers/kernel-check.js";
import { expectGradients, lossAndGradsAt } from "../helpers/fd-check.js";
import { logMeanExp, referenceLoss, referenceRows, type Params } from "../helpers/reference.js";

interface Case {
  name: string;
  opts: VAEOptions;
  /** the model's seed, the inputs' generator seed, examples, samples */
  seed: number;
  inputs: number;
  B: number;
  K: number;
}

const CASES: Case[] = [
  { name: "bernoulli, tanh, 2 hidden layers", opts: { inputDim: 6, latentDim: 3, hidden: [5, 4], activation: "tanh", likelihood: "bernoulli" }, seed: 3, inputs: 17, B: 3, K: 2 },
  { name: "bernoulli, relu, 1 hidden layer", opts: { inputDim: 9, latentDim: 2, hidden: [8], activation: "relu", likelihood: "bernoulli" }, seed: 3, inputs: 17, B: 3, K: 2 },
  { name: "gaussian fixed variance 0.5, no hidden layers", opts: { inputDim: 5, latentDim: 3, hidden: [], likelihood: { type: "gaussian", variance: 0.5 } }, seed: 3, inputs: 17, B: 3, K: 2 },
  { name: "gaussian learned variance, tanh, asymmetric decoder", opts: { inputDim: 5, latentDim: 2, hidden: [6], decoderHidden: [3, 4], activation: "tanh", likelihood: { type: "gaussian", learnVariance: true } }, seed: 3, inputs: 17, B: 3, K: 2 },
  { name: "bernoulli, tanh, 1 hidden layer, K = 4", opts: { inputDim: 6, latentDim: 3, hidden: [5], activation: "tanh", likelihood: "bernoulli" }, seed: 4, inputs: 23, B: 3, K: 4 },
  // convolutional: an encoder conv → flatten → dense, a decoder dense → unflatten → transposed conv, 2 channels
  {
    name: "bernoulli, tanh, conv encoder and transposed-conv decoder on 2×6×6 images",
    opts: {
      inputShape: [2, 6, 6], latentDim: 3, activation: "tanh", likelihood: "bernoulli",
      encoder: [{ type: "conv", out: 3, kernel: 4, stride: 2, padding: 1 }, { type: "flatten" }, { type: "dense", units: 5 }],
      decoder: [{ type: "dense", units: 5 }, { type: "dense", units: 27 }, { type: "unflatten", shape: [3, 3, 3] }, { type: "convT", out: 2, kernel: 4, stride: 2, padding: 1 }],
    },
    seed: 3, inputs: 17, B: 3, K: 2,
  },
  {
    name: "gaussian learned variance, relu, two convs (k3 s1 p1, k3 s2 p1), the head on the flattened image",
    opts: {
      inputShape: [1, 5, 5], latentDim: 2, activation: "relu", likelihood: { type: "gaussian", learnVariance: true },
      encoder: [{ type: "conv", out: 2, kernel: 3, padding: 1 }, { type: "conv", out: 2, kernel: 3, stride: 2, padding: 1 }, { type: "flatten" }],
      decoder: [{ type: "dense", units: 18 }, { type: "unflatten", shape: [2, 3, 3] }, { type: "convT", out: 1, kernel: 3, stride: 2, padding: 1 }],
    },
    seed: 5, inputs: 19, B: 2, K: 2,
  },
];

/**
 * The loss an estimator reports at p0 and, per tensor, the f64 function of the parameters whose
 * gradient it returns for that tensor.
 */
function objectives(estimator: EstimatorName, cfg: ResolvedConfig, p0: Params, x: Float64Array, eps: Float64Array, K: number, B: number):
  { loss: number; of: (tensor: string) => (p: Params) => number } {
  switch (estimator) {
    case "analytic":
    case "td":
    case "stl": // (stl: log q's parameters held at p0)
      return { loss: referenceLoss(cfg, p0, x, eps, K, estimator, p0), of: () => (p) => referenceLoss(cfg, p, x, eps, K, estimator, p0) };
  }
  const rows0 = referenceRows(cfg, p0, x, eps, K);
  const { bound, wt } = logMeanExp(rows0.logw, K, B);
  const iwaeLoss = (p: Params) => -logMeanExp(referenceRows(cfg, p, x, eps, K).logw, K, B).bound.reduce((a, v) => a + v, 0) / B;
  const boundLoss = -bound.reduce((a, v) => a + v, 0) / B;
  const encoder = (tensor: string) => tensor.startsWith("encoder.");
  switch (estimator) {
    case "iwae":
      return { loss: boundLoss, of: () => iwaeLoss };
    case "iwae-stl": // Σ_k w̃_k(θ0) log w_k with log q's parameters stopped
      return { loss: boundLoss, of: () => (p) => -referenceRows(cfg, p, x, eps, K, { q: p0 }).logw.reduce((a, v, i) => a + wt[i] * v, 0) / B };
    case "dreg": // encoder: Σ w̃²(θ0) ∇_path log w; decoder: the IWAE bound's true gradient
      return {
        loss: boundLoss,
        of: (t) => (encoder(t) ? (p) => -referenceRows(cfg, p, x, eps, K, { q: p0 }).logw.reduce((a, v, i) => a + wt[i] * wt[i] * v, 0) / B : iwaeLoss),
      };
    case "score": { // encoder: -(1/KB) Σ (log w - b) log q(z fixed); decoder: the ELBO's gradient
      const base = Array.from(rows0.logw, (lw, i) => {
        const b = Math.floor(i / K);
        let s = 0;
        for (let k = 0; k < K; k++) s += rows0.logw[b * K + k];
        return (s - lw) / (K - 1);
      });
      const elbo = (p: Params) => -referenceRows(cfg, p, x, eps, K).logw.reduce((a, v) => a + v, 0) / (K * B);
      const scoreLoss = (p: Params) => -referenceRows(cfg, p, x, eps, K, { zFrom: p0 }).logqz.reduce((a, lq, i) => a + (rows0.logw[i] - base[i]) * lq, 0) / (K * B);
      return { loss: elbo(p0), of: (t) => (encoder(t) ? scoreLoss : elbo) };
    }
  }
}

describe.each(BUILDS)("every estimator's lossAndGrads against finite differences of an f64 reference, %s build", (build) => {
  describe.each(CASES)("$name", (c) => {
    it.each(ESTIMATOR_NAMES)("%s", async (estimator) => {
      const vae = await VAE.create({ ...c.opts, seed: c.seed, build });
      const cfg = vae.config;
      const { x, eps, p0, got } = lossAndGradsAt(vae, estimator, rng(c.inputs), c.B, c.K);
      const kinks = { min: Infinity };
      referenceLoss(cfg, p0, x, eps, c.K, "td", p0, kinks);
      if (cfg.activation === "relu") expect(kinks.min, "a pre-activation sits on relu's kink; pick another seed").toBeGreaterThan(1e-4);
      const o = objectives(estimator, cfg, p0, x, eps, c.K, c.B);
      expectGradients(got, p0, o.loss, o.of);
      vae.dispose();
    });
  });

  it.each([0, 0.3, 4])("β-VAE: the analytic estimator with β = %s", async (beta) => {
    for (const c of CASES) {
      const vae = await VAE.create({ ...c.opts, seed: c.seed, build });
      const { x, eps, p0, got } = lossAndGradsAt(vae, "analytic", rng(c.inputs), c.B, c.K, { beta });
      const f = (p: Params) => referenceLoss(vae.config, p, x, eps, c.K, "analytic", p0, undefined, beta);
      expectGradients(got, p0, f(p0), () => f);
      vae.dispose();
    }
  });

  it("free bits: the analytic estimator with λ = 0.07 and 0.35 nats per dimension (β = 2)", async () => {
    for (const freeBits of [0.07, 0.35]) {
      for (const c of CASES) {
        const vae = await VAE.create({ ...c.opts, seed: c.seed, build });
        const { x, eps, p0, got } = lossAndGradsAt(vae, "analytic", rng(c.inputs), c.B, c.K, { beta: 2, freeBits });
        const near = { min: Infinity };
        const f = (p: Params) => referenceLoss(vae.config, p, x, eps, c.K, "analytic", p0, undefined, 2, Math.fround(freeBits));
        referenceLoss(vae.config, p0, x, eps, c.K, "analytic", p0, undefined, 2, Math.fround(freeBits), near);
        expect(near.min, "a KL_j sits on the floor's kink; pick another λ").toBeGreaterThan(1e-4);
        expectGradients(got, p0, f(p0), () => f);
        // (the floor did bind: the loss is above the plain β-weighted one)
        expect(got.loss).toBeGreaterThan(vae.lossAndGrads(Float32Array.from(x), { estimator: "analytic", eps: Float32Array.from(eps), samples: c.K, beta: 2 }).loss);
        vae.dispose();
      }
    }
  });

  it.each(["td", "stl"] as const)("β-VAE and free bits: the Monte Carlo estimator '%s' with β = 0.3 and 4, and λ = 0.07 and 0.35 nats (β = 2)", async (estimator) => {
    for (const [beta, freeBits] of [[0.3, 0], [4, 0], [2, 0.07], [2, 0.35]]) {
      for (const c of CASES) {
        const vae = await VAE.create({ ...c.opts, seed: c.seed, build });
        const { x, eps, p0, got } = lossAndGradsAt(vae, estimator, rng(c.inputs), c.B, c.K, { beta, freeBits });
        const lambda = Math.fround(freeBits);
        const near = { min: Infinity };
        const f = (p: Params) => referenceLoss(vae.config, p, x, eps, c.K, estimator, p0, undefined, beta, lambda);
        referenceLoss(vae.config, p0, x, eps, c.K, estimator, p0, undefined, beta, lambda, near);
        expectGradients(got, p0, f(p0), () => f);
        if (freeBits > 0) {
          expect(near.min, "a Monte Carlo KL_j sits on the floor's kink; pick another λ").toBeGreaterThan(1e-4);
          // (the floor did bind: the loss is above the plain β-weighted one)
          expect(got.loss).toBeGreaterThan(vae.lossAndGrads(Float32Array.from(x), { estimator, eps: Float32Array.from(eps), samples: c.K, beta }).loss);
        }
        vae.dispose();
      }
    }
  });

  it("the IWAE bound is at least the ELBO on the same samples, and equals it for K = 1", async () => {
    const vae = await VAE.create({ ...CASES[4].opts, seed: 6, build });
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
      expectClose(a.grads[t], b.grads[t], 1e-6, 1e-5, t);
    }
  });
});
