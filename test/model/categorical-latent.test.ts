// A VAE with a categorical latent (Gumbel-softmax): lossAndGrads against central differences of
// an f64 reference with the same Gumbel noise, on every build; the API around it (latent
// probabilities, prior samples, reconstructions, save/load) and clear refusals where a
// categorical latent has no meaning; and learning on real MNIST digits. (On threads:
// test/system/threads.test.ts.)
import { describe, expect, it } from "vitest";
import { VAE, loadMnist, takeRows } from "../../src/index.js";
import { BUILDS, f32, rng, uniform } from "../helpers/kernel-check.js";
import { expectMatchesReference } from "../helpers/fd-check.js";
import { referenceCategoricalLoss, toF64 } from "../helpers/reference.js";

const OPTS = { inputDim: 6, latent: { type: "categorical" as const, variables: 2, categories: 3 }, hidden: [5], decoderHidden: [4], activation: "tanh" as const };

describe.each(BUILDS)("categorical latent: lossAndGrads against finite differences of an f64 reference, %s build", (build) => {
  it.each([0.7, 2])("relaxed ELBO at τ = %f, K = 2", async (tau) => {
    const vae = await VAE.create({ ...OPTS, seed: 5, build });
    const cfg = vae.config;
    const r = rng(23);
    const B = 3, K = 2, Z = 6;
    const x = f32(uniform(B * cfg.inputDim, 0, 1, r));
    // Gumbel noise -log(-log U)
    const g = f32(Array.from({ length: B * K * Z }, () => -Math.log(-Math.log(0.02 + 0.96 * r()))));
    const p0 = toF64(vae.stateDict());
    const got = vae.lossAndGrads(Float32Array.from(x), { eps: Float32Array.from(g), samples: K, temperature: tau });
    expect(Object.keys(got.grads)).toContain("encoder.logits.weight");
    expectMatchesReference(got, p0, (p) => referenceCategoricalLoss(cfg, p, x, g, K, tau));
    vae.dispose();
  });
});

describe("categorical latent: model", () => {
  const D = 200;
  const data = Float32Array.from(uniform(120 * D, 0, 1, rng(3)));
  const big = { inputDim: D, latent: { type: "categorical" as const, variables: 10, categories: 10 }, hidden: [256], seed: 2 };

  it("latent probabilities, prior samples, reconstructions and save/load", async () => {
    const vae = await VAE.create(big);
    expect(vae.config.latentDim).toBe(100);
    const q = vae.latentProbs(data.subarray(0, 5 * D));
    expect(q.length).toBe(500);
    for (let g = 0; g < 50; g++) expect(q.subarray(g * 10, g * 10 + 10).reduce((a, b) => a + b)).toBeCloseTo(1, 5);
    const s = vae.sample(4, { seed: 1 });
    expect(s.length).toBe(4 * D);
    expect(s.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(vae.sample(4, { seed: 1 })).toEqual(s);
    expect(vae.reconstruct(data.subarray(0, 3 * D)).length).toBe(3 * D);
    expect(vae.reconstruct(data.subarray(0, 3 * D), { sample: true, seed: 4 }).length).toBe(3 * D);
    const again = await VAE.load(vae.save());
    expect(again.config.latent).toEqual(big.latent);
    expect(again.latentProbs(data.subarray(0, 5 * D))).toEqual(q);
    vae.dispose();
    again.dispose();
  });

  it("refuses what a categorical latent cannot do, and categorical options on a Gaussian model, with reasons", async () => {
    const vae = await VAE.create(big);
    const x = data.subarray(0, 4 * D);
    expect(() => vae.trainStep(x, { estimator: "iwae", samples: 2 })).toThrow(/options.estimator must be 'analytic' for a categorical latent.*received iwae|estimator.*'analytic' for a categorical latent/);
    expect(() => vae.encode(x)).toThrow(/latent is categorical.*use latentProbs/);
    expect(() => vae.logLikelihood(x)).toThrow(/latent is categorical/);
    expect(() => vae.trainStep(x, { temperature: 0 })).toThrow(/options.temperature/);
    await expect(VAE.create({ ...big, latentDim: 7 })).rejects.toThrow(/options.latentDim.*100 \(variables × categories\)/);
    await expect(VAE.create({ ...big, latent: { type: "categorical", variables: 3, categories: 1 } as never })).rejects.toThrow(/options.latent.categories/);
    const gaussian = await VAE.create({ inputDim: D, latentDim: 4, hidden: [8] });
    expect(() => gaussian.trainStep(x, { temperature: 0.5 })).toThrow(/options.temperature.*categorical latent only/);
    expect(() => gaussian.latentProbs(x)).toThrow(/categorical latent/);
    vae.dispose();
    gaussian.dispose();
  });

  it("learns MNIST digits: the discrete ELBO of held-out digits rises well above the untrained model's", async () => {
    const { train, test } = await loadMnist();
    const vae = await VAE.create({ inputDim: 784, latent: { type: "categorical", variables: 20, categories: 10 }, hidden: [256], seed: 1 });
    const held = takeRows(test, 200);
    const before = vae.elbo(held, { binarize: true, seed: 1 });
    await vae.fit(takeRows(train, 3000), { epochs: 3, batchSize: 100, binarize: true, temperature: 1 });
    const after = vae.elbo(held, { binarize: true, seed: 1 });
    expect(Number.isFinite(after)).toBe(true);
    // untrained ≈ -545 nats; a few hundred steps reach about -200
    expect(after).toBeGreaterThan(before + 200);
    vae.dispose();
  });
});
