// Counter-based random numbers: every draw is a pure function of (seed, stream, step, row, col),
// so results never depend on how rows are split across calls or threads.
//   key -> 64 bits by chained SplitMix64 finalizers (Steele, Lea & Flood 2014);
//   uniform in (0,1) from the high 32 bits; normal by Box–Muller (cos branch) in f64.
// Rows here are the b index of a [B, K, Z] block (col = k·Z + j) or the example of a [B, D] block.
// see: https://prng.di.unimi.it/splitmix64.c

// @ts-ignore: decorator
@inline function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

const GOLDEN: u64 = 0x9e3779b97f4a7c15;

// @ts-ignore: decorator
@inline function rowKey(seed: u32, stream: u32, step: u32, row: u32): u64 {
  let h = mix64(<u64>seed * GOLDEN + <u64>stream);
  h = mix64(h + <u64>step * GOLDEN);
  return mix64(h ^ (<u64>row * GOLDEN));
}

// @ts-ignore: decorator
@inline function bitsAt(rk: u64, col: u32): u64 {
  return mix64(rk + (<u64>col + 1) * GOLDEN);
}

const TWO_PI: f64 = 6.283185307179586;
const INV_2_32: f64 = 2.3283064365386963e-10;

/**
 * eps[b, k, j] ~ N(0, 1) for b in [b0, b1), k < K, j < Z; keyed by
 * (seed, stream, step, rowOffset + b, (kOffset + k)·Z + j), so a caller that walks examples or
 * samples in chunks gets the same numbers as one that does it all at once.
 */
export function randomNormal(
  eps: usize, seed: u32, stream: u32, step: u32, K: i32, Z: i32, b0: i32, b1: i32, rowOffset: u32, kOffset: u32,
): void {
  for (let b = b0; b < b1; b++) {
    const rk = rowKey(seed, stream, step, rowOffset + <u32>b);
    for (let k = 0; k < K; k++) {
      const o = eps + (<usize>((b * K + k) * Z) << 2);
      for (let j = 0; j < Z; j++) {
        const h = bitsAt(rk, (kOffset + <u32>k) * <u32>Z + <u32>j);
        const u1 = (<f64>(h >> 32) + 0.5) * INV_2_32;           // (0, 1): log is finite
        const u2 = <f64>(h & 0xffffffff) * INV_2_32;             // [0, 1)
        store<f32>(o + (<usize>j << 2), <f32>(Math.sqrt(-2 * Math.log(u1)) * Math.cos(TWO_PI * u2)));
      }
    }
  }
}

/**
 * g[b, k, j] = -log(-log U) (standard Gumbel), U uniform in (0, 1) from 24 random bits, for the
 * Gumbel-softmax latent; keyed like randomNormal, so the same (seed, step, example, sample)
 * gives the same noise however rows are split. Finite: U is in [2^-25, 1 - 2^-25].
 */
export function gumbelNoise(
  g: usize, seed: u32, stream: u32, step: u32, K: i32, Z: i32, b0: i32, b1: i32, rowOffset: u32, kOffset: u32,
): void {
  for (let b = b0; b < b1; b++) {
    const rk = rowKey(seed, stream, step, rowOffset + <u32>b);
    for (let k = 0; k < K; k++) {
      const o = g + (<usize>((b * K + k) * Z) << 2);
      for (let j = 0; j < Z; j++) {
        const h = bitsAt(rk, (kOffset + <u32>k) * <u32>Z + <u32>j);
        const u = (<f64>(h >> 40) + 0.5) * 5.9604644775390625e-8; // (0, 1)
        store<f32>(o + (<usize>j << 2), <f32>(-Math.log(-Math.log(u))));
      }
    }
  }
}

/**
 * Dynamic binarization: out[b, d] = 1 with probability p[b, d] (grey level in [0, 1]), else 0,
 * for b in [b0, b1); keyed by (seed, stream, step, rowOffset + b, d). out may alias p.
 */
export function bernoulliSample(out: usize, p: usize, seed: u32, stream: u32, step: u32, D: i32, b0: i32, b1: i32, rowOffset: u32): void {
  for (let b = b0; b < b1; b++) {
    const rk = rowKey(seed, stream, step, rowOffset + <u32>b);
    const o = <usize>(b * D) << 2;
    for (let d = 0; d < D; d++) {
      const u = <f32>(bitsAt(rk, <u32>d) >> 40) * <f32>5.9604644775390625e-8;   // 24 bits: [0, 1)
      const od = o + (<usize>d << 2);
      store<f32>(out + od, u < load<f32>(p + od) ? 1 : 0);
    }
  }
}
