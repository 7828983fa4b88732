import { constAt, logPositive } from "./simd";
// Counter-based random numbers: every draw is a pure function of (seed, stream, step, row, col),
// so results never depend on how rows are split across calls or threads.
//   key -> 64 bits by chained SplitMix64 finalizers (Steele, Lea & Flood 2014);
//   uniform in (0,1) from the high bits; normals by Box–Muller, both branches (see randomNormal).
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

// Box–Muller with both outputs: columns 2q and 2q + 1 share the 64 bits of pair q. u1 comes from
// the high 31 bits, (n + 1)/2^31 in (0, 1], so r = sqrt(-2 ln u1) is finite and reaches 6.56;
// the angle θ = (2π/4)·t from 24 low bits, t = c + f in quarter turns (c the top 2 bits, f the
// other 22 over 2^22, both exact), so the polynomials only see φ = f·π/2 in [0, π/2):
//   eps[2q] = r·cos θ, eps[2q + 1] = r·sin θ, rotated from (cos φ, sin φ) by c quarter turns.
// SIMD builds do four pairs per step in f32 (Cephes-style log, Taylor sin/cos to degree 11/12:
// < 1e-7 absolute on [0, π/2]); the scalar build the same pairs with f64 Math.
const BM_F = memory.data<f32>([4.656612873077393e-10, 2.384185791015625e-7, 1.5707963267948966, -2.0, 1.0]); // 2^-31, 2^-22, π/2, -2, 1
const BM_SIN = memory.data<f32>([-2.5052108385441720e-8, 2.7557319223985893e-6, -1.9841269841269841e-4, 8.3333333333333333e-3, -1.6666666666666667e-1]);
const BM_COS = memory.data<f32>([2.0876756987868099e-9, -2.7557319223985888e-7, 2.4801587301587302e-5, -1.3888888888888889e-3, 4.1666666666666667e-2, -0.5]);
const BM_I = memory.data<i32>([0x3fffff, 1, 2]);

// the last four pairs' outputs (module globals are per instance, so per thread; lazy: the scalar
// build, which never uses them, cannot declare a v128)
// @ts-ignore: decorator
@lazy let bmCos: v128 = f32x4.splat(0);
// @ts-ignore: decorator
@lazy let bmSin: v128 = f32x4.splat(0);

/**
 * Four pairs from their hash bits: hi = the high 31 bits, lo = the low 24, as i32 lanes; sets
 * bmCos = r·cos θ and bmSin = r·sin θ per pair.
 */
function boxMuller4(hi: v128, lo: v128): void {
  const u1 = f32x4.mul(f32x4.add(f32x4.convert_i32x4_s(hi), constAt(BM_F, 4)), constAt(BM_F, 0));
  const r = f32x4.sqrt(f32x4.mul(logPositive(u1), constAt(BM_F, 3)));
  const c = i32x4.shr_u(lo, 22); // quarter turns 0…3
  const phi = f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(v128.and(lo, constAt(BM_I, 0))), constAt(BM_F, 1)), constAt(BM_F, 2));
  const x2 = f32x4.mul(phi, phi);
  let sp = constAt(BM_SIN, 0);
  sp = f32x4.add(f32x4.mul(sp, x2), constAt(BM_SIN, 1));
  sp = f32x4.add(f32x4.mul(sp, x2), constAt(BM_SIN, 2));
  sp = f32x4.add(f32x4.mul(sp, x2), constAt(BM_SIN, 3));
  sp = f32x4.add(f32x4.mul(sp, x2), constAt(BM_SIN, 4));
  const sinPhi = f32x4.add(phi, f32x4.mul(f32x4.mul(phi, x2), sp));
  let cp = constAt(BM_COS, 0);
  cp = f32x4.add(f32x4.mul(cp, x2), constAt(BM_COS, 1));
  cp = f32x4.add(f32x4.mul(cp, x2), constAt(BM_COS, 2));
  cp = f32x4.add(f32x4.mul(cp, x2), constAt(BM_COS, 3));
  cp = f32x4.add(f32x4.mul(cp, x2), constAt(BM_COS, 4));
  cp = f32x4.add(f32x4.mul(cp, x2), constAt(BM_COS, 5));
  const cosPhi = f32x4.add(constAt(BM_F, 4), f32x4.mul(x2, cp));
  // odd quarter turns swap sin and cos; cos θ < 0 for c = 1, 2 and sin θ < 0 for c = 2, 3
  const swap = i32x4.eq(v128.and(c, constAt(BM_I, 1)), constAt(BM_I, 1));
  const cs = v128.bitselect(sinPhi, cosPhi, swap), sn = v128.bitselect(cosPhi, sinPhi, swap);
  const signC = i32x4.shl(v128.and(i32x4.add(c, constAt(BM_I, 1)), constAt(BM_I, 2)), 30);
  const signS = i32x4.shl(v128.and(c, constAt(BM_I, 2)), 30);
  bmCos = f32x4.mul(r, v128.xor(cs, signC));
  bmSin = f32x4.mul(r, v128.xor(sn, signS));
}

/** Pair q's normal at parity `odd` in f64 (the scalar build). */
// @ts-ignore: decorator
@inline function boxMullerScalar(h: u64, odd: bool): f32 {
  const u1 = (<f64>(h >> 33) + 1) * 4.656612873077393e-10;
  const lo = <u32>h & 0xffffff;
  const theta = (<f64>(lo >> 22) + <f64>(lo & 0x3fffff) * 2.384185791015625e-7) * (TWO_PI / 4);
  const r = Math.sqrt(-2 * Math.log(u1));
  return <f32>(r * (odd ? Math.sin(theta) : Math.cos(theta)));
}

/** Lane i (0…7) of the interleaved outputs [c0, s0, c1, s1, …] of the last boxMuller4. */
function bmLane(i: i32): f32 {
  const v = (i & 1) ? bmSin : bmCos;
  const l = i >> 1;
  return l == 0 ? f32x4.extract_lane(v, 0) : l == 1 ? f32x4.extract_lane(v, 1) : l == 2 ? f32x4.extract_lane(v, 2) : f32x4.extract_lane(v, 3);
}

/** The 31 high and 24 low bits of pairs q…q+3 as i32 lanes, into boxMuller4. */
// @ts-ignore: decorator
@inline function pairs4(rk: u64, q: u32): void {
  const h0 = bitsAt(rk, q), h1 = bitsAt(rk, q + 1), h2 = bitsAt(rk, q + 2), h3 = bitsAt(rk, q + 3);
  let hi = i32x4.splat(<i32>(h0 >> 33));
  hi = i32x4.replace_lane(hi, 1, <i32>(h1 >> 33));
  hi = i32x4.replace_lane(hi, 2, <i32>(h2 >> 33));
  hi = i32x4.replace_lane(hi, 3, <i32>(h3 >> 33));
  let lo = i32x4.splat(<i32>(<u32>h0 & 0xffffff));
  lo = i32x4.replace_lane(lo, 1, <i32>(<u32>h1 & 0xffffff));
  lo = i32x4.replace_lane(lo, 2, <i32>(<u32>h2 & 0xffffff));
  lo = i32x4.replace_lane(lo, 3, <i32>(<u32>h3 & 0xffffff));
  boxMuller4(hi, lo);
}

/**
 * out[0:n) = the normals at columns c0…c0+n-1 of the row keyed rk (columns 2q, 2q+1 from pair q).
 */
function normalsAt(out: usize, rk: u64, c0: u32, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    // an odd first column, then whole groups of 8 columns (4 pairs), then what is left
    while (i < n) {
      const c = c0 + <u32>i;
      const q = c >> 1;
      if ((c & 1) == 0 && i + 8 <= n) {
        pairs4(rk, q);
        const o = out + (<usize>i << 2);
        v128.store(o, v128.shuffle<f32>(bmCos, bmSin, 0, 4, 1, 5));
        v128.store(o, v128.shuffle<f32>(bmCos, bmSin, 2, 6, 3, 7), 16);
        i += 8;
      } else {
        // up to 8 columns from the 4 pairs starting at q
        pairs4(rk, q);
        const first = <i32>(c & 1);
        const m = min(8 - first, n - i);
        for (let j = 0; j < m; j++) store<f32>(out + (<usize>(i + j) << 2), bmLane(first + j));
        i += m;
      }
    }
    return;
  }
  for (; i < n; i++) {
    const c = c0 + <u32>i;
    store<f32>(out + (<usize>i << 2), boxMullerScalar(bitsAt(rk, c >> 1), (c & 1) != 0));
  }
}

/**
 * eps[b, k, j] ~ N(0, 1) for b in [b0, b1), k < K, j < Z; keyed by
 * (seed, stream, step, rowOffset + b, (kOffset + k)·Z + j), so a caller that walks examples or
 * samples in chunks gets the same numbers as one that does it all at once.
 */
export function randomNormal(
  eps: usize, seed: u32, stream: u32, step: u32, K: i32, Z: i32, b0: i32, b1: i32, rowOffset: u32, kOffset: u32,
): void {
  for (let b = b0; b < b1; b++) {
    // a row's K·Z numbers are contiguous, and so are their column indices
    normalsAt(eps + (<usize>(b * K * Z) << 2), rowKey(seed, stream, step, rowOffset + <u32>b), kOffset * <u32>Z, K * Z);
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
