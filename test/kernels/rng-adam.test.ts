// Counter-based RNG and Adam (assembly/rng.ts, assembly/adam.ts) on every build.
import { describe, expect, it } from "vitest";
import { BUILDS, f32, kernelEnv, rng, uniform, expectClose } from "../helpers/kernel-check.js";

// The kernel's hashing (assembly/rng.ts) in BigInt: SplitMix64 finalizers on u64 counters.
const M64 = (1n << 64n) - 1n, GOLDEN = 0x9e3779b97f4a7c15n;
const mix64 = (z: bigint) => {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
};
const rowKey = (seed: bigint, stream: bigint, step: bigint, row: bigint) => {
  let h = mix64((seed * GOLDEN + stream) & M64);
  h = mix64((h + step * GOLDEN) & M64);
  return mix64(h ^ ((row * GOLDEN) & M64));
};
const bitsAt = (rk: bigint, q: bigint) => mix64((rk + (q + 1n) * GOLDEN) & M64);
/** Column 2q + odd of pair q in f64, from the same u1 the kernel forms ((f32(hi31) + 1)·2^-31). */
const boxMuller = (h: bigint, odd: number) => {
  const u1 = Math.fround(Math.fround(Number(h >> 33n)) + 1) * 2 ** -31;
  const lo = Number(h & 0xffffffn);
  const theta = ((lo >> 22) + (lo & 0x3fffff) * 2 ** -22) * (Math.PI / 2);
  const r = Math.sqrt(-2 * Math.log(u1));
  return r * (odd ? Math.sin(theta) : Math.cos(theta));
};

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

  it("normals are Box–Muller of the counter-based bits: both branches, against f64 from the same bits", async () => {
    const env = await kernelEnv(build);
    // K = 3, Z = 7: rows of 21 columns, so every row has full groups of 4 pairs and a tail
    const K = 3, B = 40, Z = 7, n = K * B * Z;
    const p = env.zeros(n);
    env.k.randomNormal(p, 11, 4, 9, K, Z, 0, B, 100, 0);
    const got = env.read(p, n);
    let worst = 0;
    for (let b = 0; b < B; b++) {
      const rk = rowKey(11n, 4n, 9n, BigInt(100 + b));
      for (let c = 0; c < K * Z; c++) {
        const want = boxMuller(bitsAt(rk, BigInt(c >> 1)), c & 1);
        worst = Math.max(worst, Math.abs(got[b * K * Z + c] - want) / (1 + Math.abs(want)));
      }
    }
    // SIMD builds: f32 log and Taylor sin/cos (< 1e-7 absolute), rounded to f32; scalar: f64 Math
    expect(worst).toBeLessThan(1e-6);
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
    // an odd first column (kOffset·Z = 3) and blocks shorter than one group of 4 pairs
    for (const [k0, kn] of [[1, 1], [1, 3], [3, 2], [0, 5]]) {
      const one = env.zeros(kn * Z);
      env.k.randomNormal(one, 9, 5, 2, kn, Z, 0, 1, 1, k0); // example 1 (as row 0 with row offset 1)
      const o = env.read(one, kn * Z);
      for (let i = 0; i < kn * Z; i++) expect(o[i]).toBe(w[(1 * K + k0) * Z + i]);
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
      env.k.adam(pp, pg, pm, pv, pp, pm, pv, 0, n, stepSize, b1, b2, eps, ib, wd);
      for (let i = 0; i < n; i++) {
        const g = grads[t - 1][i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -= stepSize * m[i] / (Math.sqrt(v[i]) * ib + eps);
      }
    }
    expectClose(env.read(pp, n), p, 1e-6, 1e-5);
  });

  it("adam out of place writes the same bits as in place and leaves the inputs as they were", async () => {
    const env = await kernelEnv(build);
    const r = rng(9);
    const n = 37;
    const p0 = f32(uniform(n, -1, 1, r)), g0 = f32(uniform(n, -2, 2, r)), m0 = f32(uniform(n, -0.1, 0.1, r)), v0 = f32(uniform(n, 0, 0.1, r));
    const ins = [env.put(p0), env.put(g0), env.put(m0), env.put(v0)] as const;
    const outs = [env.zeros(n), env.zeros(n), env.zeros(n)] as const;
    env.k.adam(ins[0], ins[1], ins[2], ins[3], outs[0], outs[1], outs[2], 0, n, 1e-2, 0.9, 0.999, 1e-8, 1.2, 0.01);
    for (const [ptr, want] of [[ins[0], p0], [ins[1], g0], [ins[2], m0], [ins[3], v0]] as const) expect(env.read(ptr, n)).toEqual(Float32Array.from(want));
    env.k.adam(ins[0], ins[1], ins[2], ins[3], ins[0], ins[2], ins[3], 0, n, 1e-2, 0.9, 0.999, 1e-8, 1.2, 0.01);
    expect(env.read(outs[0], n)).toEqual(env.read(ins[0], n));
    expect(env.read(outs[1], n)).toEqual(env.read(ins[2], n));
    expect(env.read(outs[2], n)).toEqual(env.read(ins[3], n));
    expect(env.read(outs[0], n)).not.toEqual(p0);
  });
});
