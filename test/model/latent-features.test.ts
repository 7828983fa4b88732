// LatentFeatures (src/m2/features.ts): M1's features for a stacked M2 are the VAE's active units
// (as VAE.activeUnits counts them), standardised over the rows they were fitted on; bad input is
// refused by name.
import { describe, expect, it } from "vitest";
import { LatentFeatures, VAE } from "../../src/index.js";
import { rng, uniform } from "../helpers/kernel-check.js";

describe("LatentFeatures", () => {
  it("keeps the active units and standardises them over the fitted rows", async () => {
    const vae = await VAE.create({ inputDim: 12, hidden: [16], latentDim: 6, seed: 2 });
    const x = Float32Array.from(uniform(300 * 12, 0, 1, rng(5)));
    for (const threshold of [1e-4, 2e-3]) {
      const f = LatentFeatures.fit(vae, x, { threshold });
      const { count, variances } = vae.activeUnits(x, { threshold });
      expect(f.dim).toBe(count);
      expect(Array.from(f.units)).toEqual([...variances.keys()].filter((j) => variances[j] > threshold));
      const t = f.transform(x), A = f.dim;
      expect(t.length).toBe(300 * A);
      const { mu } = vae.encode(x);
      for (let a = 0; a < A; a++) {
        let m = 0, v = 0;
        for (let i = 0; i < 300; i++) m += t[i * A + a] / 300;
        for (let i = 0; i < 300; i++) v += (t[i * A + a] - m) ** 2 / 300;
        expect(Math.abs(m)).toBeLessThan(1e-5);
        expect(Math.abs(v - 1)).toBeLessThan(1e-4);
        // an affine map of the unit's posterior mean
        const j = f.units[a];
        expect(t[7 * A + a]).toBeCloseTo((mu[7 * 6 + j] - f.mean[a]) / f.std[a], 5);
      }
    }
    // inverse: the active units come back, the others sit at their mean
    const f = LatentFeatures.fit(vae, x, { threshold: 1e-4 });
    const z = f.inverse(f.transform(x.subarray(0, 5 * 12)));
    const { mu } = vae.encode(x.subarray(0, 5 * 12));
    for (const j of f.units) for (let i = 0; i < 5; i++) expect(z[i * 6 + j]).toBeCloseTo(mu[i * 6 + j], 5);
    expect(() => f.inverse(new Float32Array(f.dim + 1))).toThrow(/LatentFeatures.inverse: features/);
    // fewer units above a higher threshold (the VAE is untrained: its means vary little)
    expect(LatentFeatures.fit(vae, x, { threshold: 2e-3 }).dim).toBeLessThan(LatentFeatures.fit(vae, x, { threshold: 1e-4 }).dim);
    vae.dispose();
  });

  it("refuses what it cannot use, by name", async () => {
    const vae = await VAE.create({ inputDim: 4, hidden: [8], latentDim: 3 });
    const x = Float32Array.from(uniform(40, 0, 1, rng(1)));
    expect(() => LatentFeatures.fit(vae, x, { threshold: 1e6 })).toThrow(/LatentFeatures.fit: no latent unit of the VAE is active on x .*options.threshold 1000000/);
    expect(() => LatentFeatures.fit(vae, x, { threshold: -1 })).toThrow(/LatentFeatures.fit: options.threshold must be a finite number ≥ 0; got -1/);
    expect(() => LatentFeatures.fit(vae, new Float32Array(6))).toThrow(/LatentFeatures.fit: x/);
    const f = LatentFeatures.fit(vae, x, { threshold: 0 });
    expect(() => f.transform(new Float32Array(5))).toThrow(/LatentFeatures.transform: x/);
    vae.dispose();
    const cat = await VAE.create({ inputDim: 4, hidden: [8], latent: { type: "categorical", variables: 2, categories: 3 } });
    expect(() => LatentFeatures.fit(cat, x)).toThrow(/LatentFeatures.fit: vae must have a Gaussian latent without a flow .*got a categorical latent/);
    cat.dispose();
  });
});
