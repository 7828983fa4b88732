// Latent traversals and interpolation paths, checked against their definitions: the quantiles,
// the ordering by KL, an inactive dimension found and put last, the decoded rows equal to
// decode() of the codes built by hand, and the paths' ends, midpoint and norms.
import { describe, expect, it } from "vitest";
import { VAE } from "../../src/index.js";
import { normalQuantile } from "../../src/model/explore.js";
import { rng, uniform } from "../helpers/kernel-check.js";

const D = 12, Z = 4;
const data = Float32Array.from(uniform(60 * D, 0, 1, rng(12)));

describe("traversal and interpolate", () => {
  it("the normal quantiles are right to Acklam's 1.2e-9 relative error", () => {
    // (reference values: scipy.stats.norm.ppf)
    for (const [p, z] of [[0.05, -1.6448536269514722], [0.5, 0], [0.975, 1.959963984540054], [0.001, -3.090232306167813], [0.3, -0.5244005127080407]]) {
      expect(Math.abs(normalQuantile(p) - z)).toBeLessThanOrEqual(1.2e-9 * Math.abs(z));
    }
  });

  it("orders dimensions by KL, marks a dimension the encoder ignores as inactive, and decodes the codes it says", async () => {
    const vae = await VAE.create({ inputDim: D, latentDim: Z, hidden: [10], seed: 4 });
    await vae.fit(data, { epochs: 3, batchSize: 10 });
    // dimension 2 made unused: mu_2 = 0 and logvar_2 = 0 for every x (q = the prior: KL 0, activity 0)
    const sd = vae.stateDict();
    for (const t of ["encoder.mu", "encoder.logvar"]) {
      sd[`${t}.weight`].fill(0, 2 * 10, 3 * 10);
      sd[`${t}.bias`][2] = 0;
    }
    vae.loadStateDict(sd);
    const t = vae.traversal(data, { row: 5, steps: 5, quantile: 0.1 });
    expect(t.values.map((v) => +v.toFixed(6))).toEqual([0.1, 0.3, 0.5, 0.7, 0.9].map((p) => +normalQuantile(p).toFixed(6)));
    expect(t.dims.map((d) => d.kl)).toEqual([...t.dims.map((d) => d.kl)].sort((a, b) => b - a));
    const last = t.dims[Z - 1];
    expect([last.dim, last.kl, last.activity, last.active]).toEqual([2, 0, 0, false]);
    expect(t.dims.every((d) => d.active === d.activity > 0.01)).toBe(true);
    const { mu } = vae.encode(data.subarray(5 * D, 6 * D));
    const z = new Float32Array(Z * 5 * Z);
    t.dims.forEach((d, r) => t.values.forEach((v, s) => {
      z.set(mu, (r * 5 + s) * Z);
      z[(r * 5 + s) * Z + d.dim] = v;
    }));
    expect(t.images).toEqual(vae.decode(z));
    expect(() => vae.traversal(data, { row: 60 })).toThrow(/^VAE\.traversal: options\.row must be an integer in \[0, 59\]/);
    vae.dispose();
  });

  it("paths start and end at the rows' codes; linear passes the midpoint, spherical keeps the norm of equal-norm ends", async () => {
    const vae = await VAE.create({ inputDim: D, latentDim: Z, hidden: [10], seed: 4 });
    await vae.fit(data, { epochs: 2, batchSize: 10 });
    const a = data.subarray(0, D), b = data.subarray(D, 2 * D);
    const { mu } = vae.encode(data.subarray(0, 2 * D));
    const [za, zb] = [mu.subarray(0, Z), mu.subarray(Z, 2 * Z)];
    const lin = vae.interpolate(a, b, { steps: 5 });
    expect(lin.length).toBe(5 * D);
    expect(lin.subarray(0, D)).toEqual(vae.decode(za));
    expect(lin.subarray(4 * D)).toEqual(vae.decode(zb));
    expect(lin.subarray(2 * D, 3 * D)).toEqual(vae.decode(za.map((v, j) => 0.5 * v + 0.5 * zb[j])));
    const sph = vae.interpolate(a, b, { steps: 5, path: "spherical" });
    expect(sph.subarray(0, D)).toEqual(vae.decode(za));
    // a decoder that is the identity on z shows the codes: with equal norms at both ends, every point keeps that norm
    const idv = await VAE.create({ inputDim: Z, latentDim: Z, hidden: [], likelihood: { type: "gaussian", variance: 1 }, seed: 1 });
    const s2 = idv.stateDict();
    s2["encoder.mu.weight"].fill(0);
    for (let j = 0; j < Z; j++) s2["encoder.mu.weight"][j * Z + j] = 1;
    s2["encoder.mu.bias"].fill(0);
    s2["decoder.out.weight"].fill(0);
    for (let j = 0; j < Z; j++) s2["decoder.out.weight"][j * Z + j] = 1;
    s2["decoder.out.bias"].fill(0);
    idv.loadStateDict(s2);
    const pts = idv.interpolate([3, 0, 0, 4], [0, 5, 0, 0], { steps: 7, path: "spherical" });
    for (let s = 0; s < 7; s++) expect(Math.hypot(...pts.subarray(s * Z, (s + 1) * Z))).toBeCloseTo(5, 5);
    const flat = idv.interpolate([3, 0, 0, 4], [0, 5, 0, 0], { steps: 7 });
    expect(Math.hypot(...flat.subarray(3 * Z, 4 * Z))).toBeLessThan(4);
    expect(() => vae.interpolate(data.subarray(0, 2 * D), b)).toThrow(/^VAE\.interpolate: a must be one row/);
    for (const m of [vae, idv]) m.dispose();
  });
});
