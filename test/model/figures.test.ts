// Figure helpers: the normal quantile, the manifold grid's placement, and the SVG plots render
// with labelled axes.
import { describe, expect, it } from "vitest";
import { VAE } from "../../src/index.js";
import { curvesFigure, manifold, normalQuantile, varianceFigure } from "../../src/pictures/figures.js";

describe("figures", () => {
  it("normalQuantile inverts the normal CDF to 1e-8", () => {
    // tabulated quantiles (to 16 digits), and the symmetry Φ⁻¹(1 − p) = −Φ⁻¹(p)
    const known: [number, number][] = [[0.5, 0], [0.975, 1.959963984540054], [0.84134474606854293, 1], [0.001, -3.090232306167813], [1e-10, -6.361340902404056]];
    for (const [p, q] of known) expect(Math.abs(normalQuantile(p) - q)).toBeLessThan(1e-8 * Math.max(1, Math.abs(q)));
    for (const p of [0.01, 0.2, 0.6, 0.93]) expect(normalQuantile(1 - p)).toBeCloseTo(-normalQuantile(p), 12);
    expect(() => normalQuantile(1)).toThrow(/p must be in \(0, 1\); got 1/);
  });

  it("manifold decodes z at Gaussian quantiles: columns follow z1, rows z2 from the top", async () => {
    const vae = await VAE.create({ inputDim: 6, latentDim: 2, hidden: [], decoderHidden: [], likelihood: "gaussian" });
    // decoder means = W z + b with W picking z1 into output 0 and z2 into output 1
    vae.loadStateDict({ "decoder.out.weight": Float32Array.from([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), "decoder.out.bias": new Float32Array(6) });
    const n = 5, g = manifold(vae, n);
    const q = Array.from({ length: n }, (_, i) => normalQuantile(0.05 + (0.9 * i) / (n - 1)));
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        expect(g[(row * n + col) * 6]).toBeCloseTo(q[col], 6);
        expect(g[(row * n + col) * 6 + 1]).toBeCloseTo(q[n - 1 - row], 6);
      }
    }
    const three = await VAE.create({ inputDim: 6, latentDim: 3, hidden: [] });
    expect(() => manifold(three)).toThrow(/needs a 2-D latent space; it has 3/);
  });

  it("plots render to SVG with their axis titles and legend entries", async () => {
    const v = await varianceFigure([{ step: 0, estimator: "td", varianceTrace: 2, snr: 1 }, { step: 10, estimator: "stl", varianceTrace: 1, snr: 2 }], "variance");
    expect(v).toMatch(/^<svg/);
    for (const text of ["training step", "encoder gradient variance", "stl", "td"]) expect(v).toContain(text);
    const c = await curvesFigure([{ epoch: 1, loss: 120, validationLoss: 118, seconds: 1 }, { epoch: 2, loss: 110, validationLoss: 109, seconds: 1 }], "curves");
    for (const text of ["epoch", "nats per image", "train ELBO", "test ELBO"]) expect(c).toContain(text);
  });
});
