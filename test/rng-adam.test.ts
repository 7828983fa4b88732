// Counter-based RNG and Adam (assembly/rng.ts, assembly/adam.ts) on every build.
import { describe, expect, it } from "vitest";
import { BUILDS, f32, kernelEnv, rng, uniform, worst } from "./helpers/env.js";

describe.each(BUILDS)("rng and adam, %s build", (build) => {
  it("normals have mean 0 and variance 1 within Monte Carlo error, and no bad values", async () => {
    const env = await kernelEnv(build);
    const K = 4, B = 500, Z = 50, n = K * B * Z; // 100,000 draws
    const p = env.zeros(n);
    env.k.randomNormal(p, 7, 1, 3, K, Z, 0, B, 0, 0);
    const v = env.read(p, n);
    let s = 0, s2 = 0, s4 = 0, tail = 0;
    expect(v.every(Number.isFinite)).toBe(true);
    for (const e of v) {
      s += e; s2 += e * e; s4 += e ** 4;
      if (Math.abs(e) > 1.959964) tail++;
    }
    const mean = s / n, varr = s2 / n - mean * mean;
    // standard errors: mean 1/√n, variance √(2/n), P(|e| > 1.96) = 0.05 with sd √(0.05·0.95/n); 4.5σ bounds
    expect(Math.abs(mean)).toBeLessThan(4.5 / Math.sqrt(n));
    expect(Math.abs(varr - 1)).toBeLessThan(4.5 * Math.sqrt(2 / n));
    expect(Math.abs(s4 / n - 3)).toBeLessThan(4.5 * Math.sqrt(96 / n)); // Var(e⁴) = 105 - 9
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(4.5 * Math.sqrt(0.0475 / n));
  });

  it("draws depend only on (seed, stream, step, row, column), not on how rows are split", async () => {
    const env = await kernelEnv(build);
    const K = 3, B = 10, Z = 7, n = K * B * Z;
    const whole = env.zeros(n), parts = env.zeros(n);
    env.k.randomNormal(whole, 1, 1, 5, K, Z, 0, B, 0, 0);
    env.k.randomNormal(parts, 1, 1, 5, K, Z, 0, 3, 0, 0);
    env.k.randomNormal(parts, 1, 1, 5, K, Z, 3, 4, 0, 0);
    env.k.randomNormal(parts, 1, 1, 5, K, Z, 4, B, 0, 0);
    expect(env.read(parts, n)).toEqual(env.read(whole, n));
    // a different seed, stream or step gives different numbers
    for (const [seed, stream, step] of [[2, 1, 5], [1, 2, 5], [1, 1, 6]]) {
      const o = env.zeros(n);
      env.k.randomNormal(o, seed, stream, step, K, Z, 0, B, 0, 0);
      const a = env.read(o, n), w = env.read(whole, n);
      expect(a.filter((v, i) => v === w[i]).length).toBeLessThan(3);
    }
  });

  it("row and sample offsets let a caller draw a [B, K] block in chunks and get the same numbers", async () => {
    const env = await kernelEnv(build);
    const K = 6, B = 4, Z = 3;
    const whole = env.zeros(K * B * Z);
    env.k.randomNormal(whole, 9, 5, 2, K, Z, 0, B, 0, 0);
    const w = env.read(whole, K * B * Z);
    // examples 2..3, samples 4..5 as their own [2, 2] block
    const part = env.zeros(2 * 2 * Z);
    env.k.randomNormal(part, 9, 5, 2, 2, Z, 0, 2, 2, 4);
    const p = env.read(part, 4 * Z);
    for (let k = 0; k < 2; k++) {
      for (let b = 0; b < 2; b++) {
        for (let j = 0; j < Z; j++) expect(p[(b * 2 + k) * Z + j]).toBe(w[((b + 2) * K + (k + 4)) * Z + j]);
      }
    }
    const D = 5, g = env.put(new Float64Array(B * D).fill(0.5)), g2 = env.put(new Float64Array(2 * D).fill(0.5));
    env.k.bernoulliSample(g, g, 1, 2, 3, D, 0, B, 0);
    env.k.bernoulliSample(g2, g2, 1, 2, 3, D, 0, 2, 2);
    expect(env.read(g2, 2 * D)).toEqual(env.read(g, B * D).slice(2 * D));
  });

  it("dynamic binarization draws 1 with probability equal to the grey level", async () => {
    const env = await kernelEnv(build);
    const B = 400, D = 250;
    const levels = [0, 0.1, 0.5, 0.9, 1];
    const p = new Float64Array(B * D).map((_, i) => levels[i % levels.length]);
    const pp = env.put(p);
    env.k.bernoulliSample(pp, pp, 3, 2, 0, D, 0, B, 0);
    const out = env.read(pp, B * D);
    levels.forEach((lv, li) => {
      let ones = 0, cnt = 0;
      expect(out.every((o) => o === 0 || o === 1)).toBe(true);
      for (let i = li; i < B * D; i += levels.length) {
        ones += out[i];
        cnt++;
      }
      if (lv === 0) expect(ones).toBe(0);
      else if (lv === 1) expect(ones).toBe(cnt);
      else expect(Math.abs(ones / cnt - lv)).toBeLessThan(4.5 * Math.sqrt((lv * (1 - lv)) / cnt));
    });
  });

  it("adam matches torch.optim.Adam's arithmetic (f64 reference) over 5 steps, with weight decay", async () => {
    const env = await kernelEnv(build);
    const r = rng(8);
    const n = 37; // SIMD body and leftovers
    const p0 = f32(uniform(n, -1, 1, r));
    const grads = Array.from({ length: 5 }, () => f32(uniform(n, -2, 2, r)));
    const lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
    const pp = env.put(p0), pg = env.zeros(n), pm = env.zeros(n), pv = env.zeros(n);
    const p = Float64Array.from(p0), m = new Float64Array(n), v = new Float64Array(n);
    for (let t = 1; t <= 5; t++) {
      env.write(pg, grads[t - 1]);
      const stepSize = lr / (1 - b1 ** t), ib = 1 / Math.sqrt(1 - b2 ** t);
      env.k.adam(pp, pg, pm, pv, 0, n, stepSize, b1, b2, eps, ib, wd);
      for (let i = 0; i < n; i++) {
        const g = grads[t - 1][i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -= stepSize * m[i] / (Math.sqrt(v[i]) * ib + eps);
      }
    }
    const t = worst(env.read(pp, n), p, 1e-6, 1e-5);
    expect(t.ratio, JSON.stringify(t)).toBeLessThanOrEqual(1);
  });
});
