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

// Vector exp and log1p on the ranges the Bernoulli likelihood needs, with the Cephes single
// precision polynomials (≈1 ulp). see: Cephes expf.c, logf.c (S. Moshier)

/** exp(x) for x ≤ 0 per lane; x below -87.3 gives ≈1.2e-38 instead of a denormal (2^-126 floor). */
// @ts-ignore: decorator
@inline export function expNonPositive(x: v128): v128 {
  x = f32x4.max(x, f32x4.splat(-87.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  // r = x - n·ln2 in two parts (Cody–Waite)
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  // 2^n from the exponent bits (n in [-126, 0])
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, pow2);
}

/**
 * log(1 + e) per lane for e in [0, 1]. 1 + e = 2^k·(1 + x) with k = 0, x = e when 1 + e < √2,
 * else k = 1, x = (e - 1)/2, so x is formed without the cancellation of computing 1 + e first.
 */
// @ts-ignore: decorator
@inline export function log1pUnit(e: v128): v128 {
  const small = f32x4.lt(e, f32x4.splat(0.41421356237));
  const x = v128.bitselect(e, f32x4.mul(f32x4.sub(e, f32x4.splat(1)), f32x4.splat(0.5)), small);
  const k = v128.andnot(f32x4.splat(1), small); // 0 where small, else 1
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(7.0376836292e-2);
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(-1.1514610310e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.1676998740e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(-1.2420140846e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(1.4249322787e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(-1.6668057665e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(2.0000714765e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(-2.4999993993e-1));
  p = f32x4.add(f32x4.mul(p, x), f32x4.splat(3.3333331174e-1));
  let y = f32x4.mul(f32x4.mul(p, x), z);
  y = f32x4.add(y, f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  return f32x4.add(f32x4.add(x, y), f32x4.mul(k, f32x4.splat(0.693359375)));
}

/**
 * tanh per lane (Cephes tanhf, ≈2 ulp): |x| < 0.625: x + x³·P(x²); else sign(x)·(1 - e)/(1 + e)
 * with e = exp(-2|x|) ≤ 0.29, so neither branch cancels.
 */
// @ts-ignore: decorator
@inline export function tanhVec(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(p, z), x));
  const e = expNonPositive(f32x4.mul(ax, f32x4.splat(-2)));
  const big = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  // copy the sign of x onto big (tanh is odd)
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}
