// Shared SIMD helpers. One source, several builds: the untaken `ASC_FEATURE_*` branch is not
// compiled, so the scalar build contains no v128 instruction at all.

/** a·b + c per lane; a fused multiply-add on runtimes with relaxed SIMD (last-bit differences). */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** Horizontal sum of four f32 lanes, in a fixed order (lane 0 + lane 1) + (lane 2 + lane 3). */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// Constants as broadcast loads from static data. V8 (TurboFan, x64) rebuilds every v128.const
// from immediates at each use inside a loop (mov imm64, movq, punpcklqdq: three instructions,
// ~35 constants per likelihood vector); a load32_splat of a static address is one broadcast load.
// Read only: every instance shares these bytes in threaded builds.
// @ts-ignore: decorator
@inline export function constAt(table: usize, i: i32): v128 {
  return v128.load32_splat(table + (<usize>i << 2));
}

// Vector exp and log1p on the ranges the Bernoulli likelihood needs, with the Cephes single
// precision polynomials (≈1 ulp). see: Cephes expf.c, logf.c (S. Moshier)

// exp: clamp, log2 e, 1.5·2^23 (rounding), ln 2 in two parts, 1, then the polynomial
const EXP_C = memory.data<f32>([-87.3, 1.44269504088896341, 12582912.0, 0.693359375, -2.12194440e-4, 1.0]);
const EXP_P = memory.data<f32>([1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]);
// bits(1.5·2^23) = 0x4b400000: bits(t) - 0x4b400000 + 127 is n + 127, the exponent of 2^n
const EXP_BIAS = memory.data<i32>([127 - 0x4b400000]);

/**
 * exp(x) for x ≤ 0 per lane; x below -87.3 gives ≈1.2e-38 instead of a denormal (2^-126 floor).
 * n = round-to-nearest-even(x·log2 e) comes from adding 1.5·2^23, whose float keeps exactly the
 * integer in its low mantissa bits: the same n as f32x4.nearest, and its bits give 2^n directly.
 * That, pmax (one maxps; a NaN x still propagates, as the first operand) and the constant loads
 * replace the NaN-exact max / nearest / trunc_sat sequences V8 emits: the same values, about
 * half the instructions.
 */
// @ts-ignore: decorator
@inline export function expNonPositive(x: v128): v128 {
  x = f32x4.pmax(x, constAt(EXP_C, 0));
  const t = f32x4.add(f32x4.mul(x, constAt(EXP_C, 1)), constAt(EXP_C, 2));
  const n = f32x4.sub(t, constAt(EXP_C, 2));
  // r = x - n·ln2 in two parts (Cody–Waite)
  let r = f32x4.sub(x, f32x4.mul(n, constAt(EXP_C, 3)));
  r = f32x4.sub(r, f32x4.mul(n, constAt(EXP_C, 4)));
  let p = constAt(EXP_P, 0);
  p = f32x4.add(f32x4.mul(p, r), constAt(EXP_P, 1));
  p = f32x4.add(f32x4.mul(p, r), constAt(EXP_P, 2));
  p = f32x4.add(f32x4.mul(p, r), constAt(EXP_P, 3));
  p = f32x4.add(f32x4.mul(p, r), constAt(EXP_P, 4));
  p = f32x4.add(f32x4.mul(p, r), constAt(EXP_P, 5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), constAt(EXP_C, 5));
  // 2^n from the exponent bits (n in [-126, 0])
  const pow2 = i32x4.shl(i32x4.add(t, constAt(EXP_BIAS, 0)), 23);
  return f32x4.mul(p, pow2);
}

// log1p: √2 - 1, 1, 1/2, ln 2 in two parts (low, high), then the polynomial
const LOG_C = memory.data<f32>([0.41421356237, 1.0, 0.5, -2.12194440e-4, 0.693359375]);
const LOG_P = memory.data<f32>([
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
]);

/**
 * log(2^k·(1 + x)) per lane for a reduced x in [√½ - 1, √2 - 1] and an integral k (as f32): the
 * Cephes logf polynomial, with ln 2 in two parts so k·ln 2 adds without rounding.
 */
// @ts-ignore: decorator
@inline function logReduced(x: v128, k: v128): v128 {
  const z = f32x4.mul(x, x);
  let p = constAt(LOG_P, 0);
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 1));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 2));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 3));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 4));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 5));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 6));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 7));
  p = f32x4.add(f32x4.mul(p, x), constAt(LOG_P, 8));
  let y = f32x4.mul(f32x4.mul(p, x), z);
  y = f32x4.add(y, f32x4.mul(k, constAt(LOG_C, 3)));
  y = f32x4.sub(y, f32x4.mul(z, constAt(LOG_C, 2)));
  return f32x4.add(f32x4.add(x, y), f32x4.mul(k, constAt(LOG_C, 4)));
}

/**
 * log(1 + e) per lane for e in [0, 1]. 1 + e = 2^k·(1 + x) with k = 0, x = e when 1 + e < √2,
 * else k = 1, x = (e - 1)/2, so x is formed without the cancellation of computing 1 + e first.
 */
// @ts-ignore: decorator
@inline export function log1pUnit(e: v128): v128 {
  const one = constAt(LOG_C, 1);
  const small = f32x4.lt(e, constAt(LOG_C, 0));
  const x = v128.bitselect(e, f32x4.mul(f32x4.sub(e, one), constAt(LOG_C, 2)), small);
  const k = v128.andnot(one, small); // 0 where small, else 1
  return logReduced(x, k);
}

// log of a positive normal float: mantissa bits, the exponent bias, √2, 1
const LOGN_I = memory.data<i32>([0x007fffff, 0x3f800000, 127]);
const LOGN_C = memory.data<f32>([1.41421356237, 1.0, 0.5]);

/**
 * log(u) per lane for a positive normal u (here a uniform in (0, 1]): u = 2^k·m with m in
 * [1, 2), halved (k + 1) when m > √2, then logReduced(m - 1, k).
 */
// @ts-ignore: decorator
@inline export function logPositive(u: v128): v128 {
  let k = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(u, 23), constAt(LOGN_I, 2)));
  let m = v128.or(v128.and(u, constAt(LOGN_I, 0)), constAt(LOGN_I, 1));
  const big = f32x4.gt(m, constAt(LOGN_C, 0));
  m = v128.bitselect(f32x4.mul(m, constAt(LOGN_C, 2)), m, big);
  k = f32x4.add(k, v128.and(constAt(LOGN_C, 1), big));
  return logReduced(f32x4.sub(m, constAt(LOGN_C, 1)), k);
}

// tanh: 0.625, -2, 1, then the polynomial
const TANH_C = memory.data<f32>([0.625, -2.0, 1.0]);
const TANH_P = memory.data<f32>([-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]);
const SIGN_BIT = memory.data<i32>([0x80000000]);

/**
 * tanh per lane (Cephes tanhf, ≈2 ulp): |x| < 0.625: x + x³·P(x²); else sign(x)·(1 - e)/(1 + e)
 * with e = exp(-2|x|) ≤ 0.29, so neither branch cancels.
 */
// @ts-ignore: decorator
@inline export function tanhVec(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = constAt(TANH_P, 0);
  p = f32x4.add(f32x4.mul(p, z), constAt(TANH_P, 1));
  p = f32x4.add(f32x4.mul(p, z), constAt(TANH_P, 2));
  p = f32x4.add(f32x4.mul(p, z), constAt(TANH_P, 3));
  p = f32x4.add(f32x4.mul(p, z), constAt(TANH_P, 4));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(p, z), x));
  const e = expNonPositive(f32x4.mul(ax, constAt(TANH_C, 1)));
  const one = constAt(TANH_C, 2);
  const big = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  // copy the sign of x onto big (tanh is odd)
  const signed = v128.or(big, v128.and(x, constAt(SIGN_BIT, 0)));
  return v128.bitselect(small, signed, f32x4.lt(ax, constAt(TANH_C, 0)));
}
