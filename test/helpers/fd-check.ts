// The model-level gradient check shared by the model tests: lossAndGrads' loss equals the f64
// reference at the parameters, and every tensor's gradient matches central finite differences
// of the reference (atol 1e-5, rtol 1e-3 — the f32 model against the f64 reference).
import { expect } from "vitest";
import { numericGrad, worst } from "./env.js";
import type { Params } from "./reference.js";

export function expectMatchesReference(got: { loss: number; grads: Record<string, Float32Array> }, p0: Params,
  loss: (p: Params) => number): void {
  const want = loss(p0);
  expect(Math.abs(got.loss - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
  for (const [tensor, g] of Object.entries(got.grads)) {
    const fd = numericGrad((v) => loss({ ...p0, [tensor]: v }), Float64Array.from(p0[tensor]), 1e-6);
    const t = worst(g, fd, 1e-5, 1e-3);
    expect(t.ratio, `${tensor}: ${JSON.stringify(t)}`).toBeLessThanOrEqual(1);
  }
}
