// Adam (Kingma & Ba 2015), fused, exactly PyTorch's torch.optim.Adam arithmetic:
//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//   p -= stepSize · m / (sqrt(v)·invSqrtBc2 + eps),  stepSize = lr/(1-β1^t), invSqrtBc2 = 1/sqrt(1-β2^t)
// Optional L2 weight decay as in torch (g += wd·p before the moments). β1 and β2 come as f64, as
// torch's Python floats: the moments multiply by f32(β) and add f32(1 − β) computed in f64 (for
// β2 = 0.999, f32(0.001); 1 − f32(0.999) would be 1.3e-5 smaller, and a fresh Adam's first step
// would exceed the learning rate by 6e-6 of it).
// Elementwise, so threads split the parameter range [i0, i1) and get the same bits.
// The new values go to (pOut, mOut, vOut): the same pointers update in place (each element is
// read before it is written); other ones keep the old values intact (a worker pool writes the
// other bank, so a step interrupted by a dying worker leaves the last step's state whole).

/** One Adam step over params[i0:i1) with gradient g and moments m, v (all f32), written to pOut, mOut, vOut. */
export function adam(
  p: usize, g: usize, m: usize, v: usize, pOut: usize, mOut: usize, vOut: usize, i0: i32, i1: i32,
  stepSize: f32, beta1: f64, beta2: f64, eps: f32, invSqrtBc2: f32, weightDecay: f32,
): void {
  let i = i0;
  const beta1f = <f32>beta1, oneMinusBeta1 = <f32>(1 - beta1);
  const beta2f = <f32>beta2, oneMinusBeta2 = <f32>(1 - beta2);
  if (ASC_FEATURE_SIMD) {
    const b1 = f32x4.splat(beta1f), c1 = f32x4.splat(oneMinusBeta1);
    const b2 = f32x4.splat(beta2f), c2 = f32x4.splat(oneMinusBeta2);
    const ss = f32x4.splat(stepSize), ib = f32x4.splat(invSqrtBc2), ev = f32x4.splat(eps);
    const wd = f32x4.splat(weightDecay);
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const pv = v128.load(p + o);
      let gv = v128.load(g + o);
      if (weightDecay != 0) gv = f32x4.add(gv, f32x4.mul(wd, pv));
      const mv = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, gv));
      const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gv, gv)));
      v128.store(mOut + o, mv);
      v128.store(vOut + o, vv);
      const den = f32x4.add(f32x4.mul(f32x4.sqrt(vv), ib), ev);
      v128.store(pOut + o, f32x4.sub(pv, f32x4.mul(ss, f32x4.div(mv, den))));
    }
  }
  // leftovers
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    const pv = load<f32>(p + o);
    let gv = load<f32>(g + o);
    if (weightDecay != 0) gv += weightDecay * pv;
    const mv = beta1f * load<f32>(m + o) + oneMinusBeta1 * gv;
    const vv = beta2f * load<f32>(v + o) + oneMinusBeta2 * (gv * gv);
    store<f32>(mOut + o, mv);
    store<f32>(vOut + o, vv);
    store<f32>(pOut + o, pv - stepSize * (mv / (Mathf.sqrt(vv) * invSqrtBc2 + eps)));
  }
}
