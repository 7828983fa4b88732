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
