// The benchmark's probe of the machine's SIMD ceiling (bench/index.ts, the GEMM section): no
// memory traffic, only independent arithmetic chains in registers.
import { hsum, madd } from "./simd";

/**
 * The machine's ceiling for this module's arithmetic (bench/index.ts section 4), registers only,
 * n rounds; returns FLOP per round in the last lane-free way the caller can read: the result
 * must be used, so it is returned (call with m = 1, a = 1e-30: the values never change, no
 * denormals). Relaxed build: 12 independent fused a·b + c chains (96 FLOP per round). SIMD
 * build: what a GEMM's mul + add needs, 6 independent mul chains and 6 add chains (48 FLOP per
 * round), which fills both the multiply and the add ports. The scalar build returns 0 at once.
 */
export function peakMadd(n: i32, mul: f32, add: f32): f32 {
  if (!ASC_FEATURE_SIMD) return 0;
  const m = f32x4.splat(mul), a = f32x4.splat(add);
  let c0 = f32x4.splat(1), c1 = f32x4.splat(2), c2 = f32x4.splat(3), c3 = f32x4.splat(4);
  let c4 = f32x4.splat(5), c5 = f32x4.splat(6), c6 = f32x4.splat(7), c7 = f32x4.splat(8);
  let c8 = f32x4.splat(9), c9 = f32x4.splat(10), ca = f32x4.splat(11), cb = f32x4.splat(12);
  for (let i = 0; i < n; i++) {
    if (ASC_FEATURE_RELAXED_SIMD) {
      c0 = madd(c0, m, a); c1 = madd(c1, m, a); c2 = madd(c2, m, a); c3 = madd(c3, m, a);
      c4 = madd(c4, m, a); c5 = madd(c5, m, a); c6 = madd(c6, m, a); c7 = madd(c7, m, a);
      c8 = madd(c8, m, a); c9 = madd(c9, m, a); ca = madd(ca, m, a); cb = madd(cb, m, a);
    } else {
      c0 = f32x4.mul(c0, m); c1 = f32x4.mul(c1, m); c2 = f32x4.mul(c2, m);
      c3 = f32x4.mul(c3, m); c4 = f32x4.mul(c4, m); c5 = f32x4.mul(c5, m);
      c6 = f32x4.add(c6, a); c7 = f32x4.add(c7, a); c8 = f32x4.add(c8, a);
      c9 = f32x4.add(c9, a); ca = f32x4.add(ca, a); cb = f32x4.add(cb, a);
    }
  }
  const s = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)));
  return hsum(f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(ca, cb))));
}
