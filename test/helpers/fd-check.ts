// The model-level gradient check shared by the model tests: lossAndGrads' loss equals the f64
// reference at the parameters, and every tensor's gradient matches central finite differences
// of the reference (atol 1e-5, rtol 1e-3 — the f32 model against the f64 reference).
import { expect } from "vitest";
import { f32, gaussian, numericGrad, uniform, worst } from "./kernel-check.js";
import { toF64, type Params } from "./reference.js";

export function expectMatchesReference(got: { loss: number; grads: Record<string, Float32Array> }, p0: Params,
  loss: (p: Params) => number): void {
  expectGradients(got, p0, loss(p0), () => loss);
}

/**
 * lossAndGrads' loss equals `want`, and every tensor's gradient matches central finite
 * differences of that tensor's objective (estimators differentiate different objectives for
 * the encoder and the decoder, e.g. DReG).
 */
export function expectGradients(got: { loss: number; grads: Record<string, Float32Array> }, p0: Params, want: number,
  objectiveOf: (tensor: string) => (p: Params) => number): void {
  expect(Math.abs(got.loss - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
  for (const [tensor, g] of Object.entries(got.grads)) {
    const objective = objectiveOf(tensor);
    const fd = numericGrad((v) => objective({ ...p0, [tensor]: v }), Float64Array.from(p0[tensor]), 1e-6);
    const t = worst(g, fd, 1e-5, 1e-3);
    expect(t.ratio, `${tensor}: ${JSON.stringify(t)}`).toBeLessThanOrEqual(1);
  }
}

/** A model that lossAndGrads takes a batch and explicit eps, as the model tests use it. */
interface GradModel {
  config: { inputDim: number; latentDim: number; likelihood: { type: string } };
  stateDict(): Record<string, Float32Array>;
  lossAndGrads(x: Float32Array, o: { estimator: string; eps: Float32Array; samples: number }): { loss: number; grads: Record<string, Float32Array> };
}

/**
 * A batch of B examples (in [0, 1] for a Bernoulli likelihood, else [-1, 1]) and K samples of
 * eps from `r`, the parameters as f64 and lossAndGrads' answer there: the inputs of
 * expectMatchesReference.
 */
export function lossAndGradsAt(vae: GradModel, estimator: string, r: () => number, B: number, K: number, extra: { beta?: number; freeBits?: number } = {}) {
  const cfg = vae.config;
  const x = f32(cfg.likelihood.type === "bernoulli" ? uniform(B * cfg.inputDim, 0, 1, r) : uniform(B * cfg.inputDim, -1, 1, r));
  const eps = f32(gaussian(K * B * cfg.latentDim, r));
  const p0 = toF64(vae.stateDict());
  const got = vae.lossAndGrads(Float32Array.from(x), { estimator, eps: Float32Array.from(eps), samples: K, ...extra });
  return { x, eps, p0, got };
}
