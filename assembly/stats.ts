// Gradient statistics across Monte Carlo draws (gradientStats): running f64 sums of a gradient
// and its square, of the difference to a reference estimator's gradient on the same noise, and
// projections of that difference for a t-test. Threads split the parameter range [i0, i1).

/** sum[i] += g[i], sq[i] += g[i]² (sum, sq f64; g f32). */
export function accumulateMoments(sum: usize, sq: usize, g: usize, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) {
    const v = <f64>load<f32>(g + (<usize>i << 2));
    const o = <usize>i << 3;
    store<f64>(sum + o, load<f64>(sum + o) + v);
    store<f64>(sq + o, load<f64>(sq + o) + v * v);
  }
}

/** sum[i] += d, sq[i] += d² with d = g[i] - ref[i]; returns Σ_i d·dir[i] (dir f32, ±1). */
export function accumulateDifference(sum: usize, sq: usize, g: usize, ref: usize, dir: usize, i0: i32, i1: i32): f64 {
  let proj: f64 = 0;
  for (let i = i0; i < i1; i++) {
    const o4 = <usize>i << 2;
    const d = <f64>load<f32>(g + o4) - <f64>load<f32>(ref + o4);
    const o = <usize>i << 3;
    store<f64>(sum + o, load<f64>(sum + o) + d);
    store<f64>(sq + o, load<f64>(sq + o) + d * d);
    proj += d * <f64>load<f32>(dir + o4);
  }
  return proj;
}

/** The smallest normal f32, 2^-126. */
const F32_MIN_NORMAL: f32 = 1.17549435e-38;

/**
 * c[r] = (wt ? wt[r] : 1) / div for rows [r0, r1), rounded once to f32, subnormal results flushed
 * to 0 (src/estimators/estimator.ts flushSubnormal: why, and the same rule in JavaScript): the row weights of the
 * 'uniform' (div = K·B) and 'importance' (wt = w̃, div = B) estimators, exactly as their
 * JavaScript weigh computes them, for a training step that runs the backward in the forward
 * dispatch.
 */
export function setWeights(c: usize, wt: usize, div: f64, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const v: f64 = wt != 0 ? <f64>load<f32>(wt + (<usize>r << 2)) : 1.0;
    const w = <f32>(v / div);
    store<f32>(c + (<usize>r << 2), abs(w) < F32_MIN_NORMAL ? 0 : w);
  }
}