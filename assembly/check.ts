// Input checks on data already copied into the module's memory (the per-step batch of
// trainStep): a vector scan instead of a JavaScript loop over every value.

/**
 * Index of the first value in p[0:n) that is not finite (unit = 0) or not in [0, 1] (unit = 1,
 * NaN included), else -1.
 */
export function firstInvalid(p: usize, n: i32, unit: i32): i32 {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0), one = f32x4.splat(1);
    // 16 values per iteration; on the first group with a bad value, the scalar loop below finds it
    for (; i + 16 <= n; i += 16) {
      const o = p + (<usize>i << 2);
      const a = v128.load(o), b = v128.load(o, 16), c = v128.load(o, 32), d = v128.load(o, 48);
      let ok: v128;
      if (unit) {
        ok = v128.and(v128.and(v128.and(f32x4.ge(a, zero), f32x4.le(a, one)), v128.and(f32x4.ge(b, zero), f32x4.le(b, one))),
          v128.and(v128.and(f32x4.ge(c, zero), f32x4.le(c, one)), v128.and(f32x4.ge(d, zero), f32x4.le(d, one))));
      } else {
        // x - x is 0 for finite x, NaN for NaN and ±Infinity
        ok = v128.and(v128.and(f32x4.eq(f32x4.sub(a, a), zero), f32x4.eq(f32x4.sub(b, b), zero)),
          v128.and(f32x4.eq(f32x4.sub(c, c), zero), f32x4.eq(f32x4.sub(d, d), zero)));
      }
      if (!i32x4.all_true(ok)) break;
    }
  }
  for (; i < n; i++) {
    const v = load<f32>(p + (<usize>i << 2));
    if (unit ? !(v >= 0 && v <= 1) : v - v != 0) return i;
  }
  return -1;
}
