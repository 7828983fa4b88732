// Models with a normalizing flow in q(z|x): lossAndGrads ('td' and 'iwae', every build) against
// central finite differences of an independent f64 implementation of the objective with the
// same eps; the estimators a flow cannot support are refused with the reason; bitwise equality
// save/load round trip; reconstruct through the flow. (On threads: test/system/threads.test.ts.)
import { describe, expect, it } from "vitest";
import { VAE, type VAEOptions } from "../../src/index.js";
import { BUILDS, f32, gaussian, rng, uniform, expectClose } from "../helpers/kernel-check.js";
import { expectMatchesReference, lossAndGradsAt } from "../helpers/fd-check.js";
import { logMeanExp, referenceFlowLogW, referenceFlowLoss, toF64 } from "../helpers/reference.js";
import { numericGrad, worst } from "../helpers/kernel-check.js";

const CASES: [string, VAEOptions][] = [
  ["planar × 3, bernoulli, tanh", { inputDim: 6, latentDim: 3, hidden: [5], activation: "tanh", flow: { type: "planar", length: 3 } }],
  ["radial × 2, gaussian, two hidden layers", { inputDim: 5, latentDim: 3, hidden: [6, 4], activation: "tanh", likelihood: { type: "gaussian", variance: 0.5 }, flow: { type: "radial", length: 2 } }],
  ["iaf × 2 (hidden 7), bernoulli, tanh", { inputDim: 6, latentDim: 4, hidden: [5], activation: "tanh", flow: { type: "iaf", length: 2, hidden: 7 } }],
  ["planar × 1, no encoder hidden layer", { inputDim: 4, latentDim: 2, hidden: [], decoderHidden: [3], activation: "tanh", flow: { type: "planar", length: 1 } }],
];

describe.each(BUILDS)("flows: lossAndGrads against finite differences of an f64 reference, %s build", (build) => {
  for (const [name, opts] of CASES) {
    it.each(["td", "iwae"] as const)(`${name}: estimator %s`, async (estimator) => {
      const vae = await VAE.create({ ...opts, seed: 5, build });
      const cfg = vae.config;
      const r = rng(23);
      const K = 2;
      // (the masked networks' relu units have kinks; a central difference straddling one would
      // show as a single wild element, not a small error)
      const { x, eps, p0, got } = lossAndGradsAt(vae, estimator, r, 3, K);
      expectMatchesReference(got, p0, (p) => referenceFlowLoss(cfg, p, x, eps, K, estimator));
      vae.dispose();
    });
  }
});

describe.each(BUILDS)("IAF: path-derivative estimators against finite differences with log q's parameters held fixed, %s build", (build) => {
  const opts: VAEOptions = { inputDim: 6, latentDim: 3, hidden: [5], activation: "tanh", flow: { type: "iaf", length: 2, hidden: 5 }, seed: 6 };
  const setup = async () => {
    const vae = await VAE.create({ ...opts, build });
    const r = rng(29);
    const B = 3, K = 2;
    const x = f32(uniform(B * 6, 0, 1, r)), eps = f32(gaussian(K * B * 3, r));
    return { vae, x, eps, B, K, p0: toF64(vae.stateDict()) };
  };
  // stl = ∇ mean_k log w_k with log q's parameters held (log q evaluated through the inverted flow);
  // iwae-stl = ∇ log mean_k w_k likewise
  it.each([["stl", "td"], ["iwae-stl", "iwae"]] as const)("%s", async (estimator, objective) => {
    const { vae, x, eps, K, p0 } = await setup();
    const got = vae.lossAndGrads(Float32Array.from(x), { estimator, eps: Float32Array.from(eps), samples: K });
    expectMatchesReference(got, p0, (p) => referenceFlowLoss(vae.config, p, x, eps, K, objective, { stop: p0 }));
    vae.dispose();
  });

  it("dreg: encoder Σ w̃² ∇_path log w, decoder Σ w̃ ∇ log w", async () => {
    const { vae, x, eps, B, K, p0 } = await setup();
    const got = vae.lossAndGrads(Float32Array.from(x), { estimator: "dreg", eps: Float32Array.from(eps), samples: K });
    const { wt } = logMeanExp(referenceFlowLogW(vae.config, p0, x, eps, K), K, B);
    const w2 = wt.map((w) => w * w);
    for (const [tensor, g] of Object.entries(got.grads)) {
      const loss = tensor.startsWith("encoder.")
        ? (v: Float64Array) => referenceFlowLoss(vae.config, { ...p0, [tensor]: v }, x, eps, K, "iwae", { stop: p0, weights: w2 })
        : (v: Float64Array) => referenceFlowLoss(vae.config, { ...p0, [tensor]: v }, x, eps, K, "iwae");
      const t = worst(g, numericGrad(loss, Float64Array.from(p0[tensor]), 1e-6), 1e-5, 1e-3);
      expect(t.ratio, `${tensor}: ${JSON.stringify(t)}`).toBeLessThanOrEqual(1);
    }
    vae.dispose();
  });
});

describe("flows: the API", () => {
  it("refuses the estimators a flow cannot support, with the reason, and defaults to 'td'", async () => {
    const vae = await VAE.create({ inputDim: 4, latentDim: 2, hidden: [3], flow: { type: "planar", length: 2 } });
    const x = new Float32Array(8).fill(0.5);
    expect(vae.defaultEstimator).toBe("td");
    expect(() => vae.trainStep(x, { estimator: "analytic" })).toThrow(/'td' or 'iwae'.*no closed form/);
    expect(() => vae.trainStep(x, { estimator: "stl" })).toThrow(/inverse.*no closed-form inverse/);
    expect(() => vae.lossAndGrads(x, { estimator: "dreg", samples: 2 })).toThrow(/options.estimator.*'td' or 'iwae'/);
    expect(() => vae.elbo(x, { estimator: "score" })).toThrow(/'td' or 'iwae'/);
    expect(Number.isFinite(vae.trainStep(x))).toBe(true); // 'td'
    expect(Number.isFinite(vae.elbo(x))).toBe(true);
    vae.dispose();
    const iaf = await VAE.create({ inputDim: 4, latentDim: 2, hidden: [3], flow: { type: "iaf", length: 1 } });
    expect(() => iaf.trainStep(x, { estimator: "score" })).toThrow(/'td', 'iwae', 'stl', 'iwae-stl' or 'dreg' for a model with a iaf flow: 'score' needs/);
    expect(Number.isFinite(iaf.trainStep(x, { estimator: "dreg", samples: 2 }))).toBe(true);
    expect(iaf.config.flow).toEqual({ type: "iaf", length: 1, hidden: 8 });
    iaf.dispose();
    await expect(VAE.create({ flow: { type: "maf" as never, length: 2 } })).rejects.toThrow(/options.flow.type/);
    await expect(VAE.create({ flow: { type: "planar", length: 0 } })).rejects.toThrow(/options.flow.length/);
    await expect(VAE.create({ flow: { type: "planar", length: 2, hidden: 5 } })).rejects.toThrow(/options.flow.hidden.*IAF/);
    await expect(VAE.create({ latentDim: 1, flow: { type: "iaf", length: 2 } })).rejects.toThrow(/latentDim.*at least 2/);
    await expect(VAE.create({ latent: { type: "categorical", variables: 2, categories: 3 }, flow: { type: "planar", length: 2 } }))
      .rejects.toThrow(/no flow with a categorical latent/);
  });

  it("IAF keeps its masked weights at exactly 0 through training and loading", async () => {
    const vae = await VAE.create({ inputDim: 6, latentDim: 4, hidden: [5], flow: { type: "iaf", length: 2, hidden: 6 }, seed: 2 });
    const zeros = (d: Record<string, Float32Array>) => Object.entries(d).filter(([n]) => n.includes("iaf") && n.endsWith("weight"))
      .map(([, w]) => w.reduce((c, v) => c + (v === 0 ? 1 : 0), 0));
    const before = zeros(vae.stateDict());
    expect(before.every((c) => c > 0)).toBe(true);
    const r = rng(4);
    for (let i = 0; i < 20; i++) vae.trainStep(Float32Array.from(uniform(4 * 6, 0, 1, r)), { learningRate: 1e-2, estimator: i % 2 ? "iwae" : "td", samples: 2 });
    expect(zeros(vae.stateDict())).toEqual(before);
    // the autoregressive property: step 0's m_0 and s_0 (first in its order) see no variable
    const w2 = vae.stateDict()["encoder.iaf.0.out.weight"], w1 = vae.stateDict()["encoder.iaf.0.hidden.weight"];
    const H = 6, Z = 4;
    for (let k = 0; k < H; k++) {
      // a hidden unit that row 0 (m_0) reads must see no input; none may: all of m_0's weights are 0
      expect(w2[0 * H + k] === 0 && w2[Z * H + k] === 0).toBe(true); // (±0)
    }
    // loading dense weights re-applies the masks
    const dense = Object.fromEntries(Object.entries(vae.stateDict()).map(([n, v]) => [n, v.map(() => 0.1)]));
    vae.loadStateDict(dense);
    expect(zeros(vae.stateDict())).toEqual(before);
    expect(w1.length).toBe(H * Z);
    vae.dispose();
  });
});
