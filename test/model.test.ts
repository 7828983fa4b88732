// The whole model: lossAndGrads for every estimator, on every build, against central finite
// differences of an independent f64 implementation of the objective with the same eps.
import { describe, expect, it } from "vitest";
import { VAE, type VAEOptions } from "../src/index.js";
import { BUILDS, rng } from "./helpers/env.js";
import { expectMatchesReference, lossAndGradsAt } from "./helpers/fd-check.js";
import { referenceLoss } from "./helpers/reference.js";

const CASES: [string, VAEOptions][] = [
  ["bernoulli, tanh, 2 hidden layers", { inputDim: 6, latentDim: 3, hidden: [5, 4], activation: "tanh", likelihood: "bernoulli" }],
  ["bernoulli, relu, 1 hidden layer", { inputDim: 9, latentDim: 2, hidden: [8], activation: "relu", likelihood: "bernoulli" }],
  ["gaussian fixed variance 0.5, no hidden layers", { inputDim: 5, latentDim: 3, hidden: [], likelihood: { type: "gaussian", variance: 0.5 } }],
  ["gaussian learned variance, tanh, asymmetric decoder", { inputDim: 5, latentDim: 2, hidden: [6], decoderHidden: [3, 4], activation: "tanh", likelihood: { type: "gaussian", learnVariance: true } }],
];

describe.each(BUILDS)("lossAndGrads against finite differences of an f64 reference, %s build", (build) => {
  for (const [name, opts] of CASES) {
    it.each(["analytic", "td", "stl"] as const)(`${name}: estimator %s`, async (estimator) => {
      const vae = await VAE.create({ ...opts, seed: 3, build });
      const cfg = vae.config;
      const r = rng(17);
      const K = 2;
      const { x, eps, p0, got } = lossAndGradsAt(vae, estimator, r, 3, K);
      const kinks = { min: Infinity };
      referenceLoss(cfg, p0, x, eps, K, estimator, p0, kinks);
      if (cfg.activation === "relu") expect(kinks.min, "a pre-activation sits on relu's kink; pick another seed").toBeGreaterThan(1e-4);
      expectMatchesReference(got, p0, (p) => referenceLoss(cfg, p, x, eps, K, estimator, p0));
      vae.dispose();
    });
  }
});
