// Adam (Kingma & Ba 2015), fused, exactly PyTorch's torch.optim.Adam arithmetic:
//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
//   p -= stepSize · m / (sqrt(v)·invSqrtBc2 + eps),  stepSize = lr/(1-β1^t), invSqrtBc2 = 1/sqrt(1-β2^t)
// Optional L2 weight decay as in torch (g += wd·p before the moments).
// Elementwise, so threads split the parameter range [i0, i1) and get the same bits.
import { storeTransposed4 } from "./simd";
import { packRows } from "./dense";

// One vector (SIMD) or one float (scalar) of the update at byte offset o: writes m, v, p and
// returns the new p. The same arithmetic in adam and adamPacked.
// @ts-ignore: decorator
@inline function adamVec(p: usize, g: usize, m: usize, v: usize, o: usize,
  b1: v128, c1: v128, b2: v128, c2: v128, ss: v128, ib: v128, ev: v128, wd: v128, decay: bool): v128 {
  const pv = v128.load(p + o);
  let gv = v128.load(g + o);
  if (decay) gv = f32x4.add(gv, f32x4.mul(wd, pv));
  const mv = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, gv));
  const vv = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(gv, gv)));
  v128.store(m + o, mv);
  v128.store(v + o, vv);
  const den = f32x4.add(f32x4.mul(f32x4.sqrt(vv), ib), ev);
  const np = f32x4.sub(pv, f32x4.mul(ss, f32x4.div(mv, den)));
  v128.store(p + o, np);
  return np;
}

// @ts-ignore: decorator
@inline function adamOne(p: usize, g: usize, m: usize, v: usize, o: usize,
  stepSize: f32, beta1: f32, beta2: f32, eps: f32, invSqrtBc2: f32, weightDecay: f32): f32 {
  const pv = load<f32>(p + o);
  let gv = load<f32>(g + o);
  if (weightDecay != 0) gv += weightDecay * pv;
  const mv = beta1 * load<f32>(m + o) + (1 - beta1) * gv;
  const vv = beta2 * load<f32>(v + o) + (1 - beta2) * (gv * gv);
  store<f32>(m + o, mv);
  store<f32>(v + o, vv);
  const np = pv - stepSize * (mv / (Mathf.sqrt(vv) * invSqrtBc2 + eps));
  store<f32>(p + o, np);
  return np;
}

/** One Adam step over params[i0:i1) with gradient g and moments m, v (all f32). */
export function adam(
  p: usize, g: usize, m: usize, v: usize, i0: i32, i1: i32,
  stepSize: f32, beta1: f32, beta2: f32, eps: f32, invSqrtBc2: f32, weightDecay: f32,
): void {
  let i = i0;
  if (ASC_FEATURE_SIMD) {
    const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
    const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
    const ss = f32x4.splat(stepSize), ib = f32x4.splat(invSqrtBc2), ev = f32x4.splat(eps);
    const wd = f32x4.splat(weightDecay);
    const decay = weightDecay != 0;
    for (; i + 4 <= i1; i += 4) adamVec(p, g, m, v, <usize>i << 2, b1, c1, b2, c2, ss, ib, ev, wd, decay);
  }
  // leftovers
  for (; i < i1; i++) adamOne(p, g, m, v, <usize>i << 2, stepSize, beta1, beta2, eps, invSqrtBc2, weightDecay);
}

/**
 * Adam on rows [o0, o1) of a layer's W[O, I] (o0 a multiple of 8; p, g, m, v point at the
 * layer's W in each block) fused with the re-packing of their forward panels into `packed`
 * (packRows' layout): each 8-row × 4-input tile is updated and written transposed while in
 * registers. Bitwise adam then packRows. On two threads the panels are the data the other
 * thread reads, so their stores wait on the other core; here they overlap with Adam's
 * arithmetic instead of forming a pass of their own.
 */
export function adamPacked(
  p: usize, g: usize, m: usize, v: usize, packed: usize, O: i32, I: i32, o0: i32, o1: i32,
  stepSize: f32, beta1: f32, beta2: f32, eps: f32, invSqrtBc2: f32, weightDecay: f32,
): void {
  const row = <usize>I << 2;
  let pn = o0 >> 3;
  if (ASC_FEATURE_SIMD) {
    const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
    const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
    const ss = f32x4.splat(stepSize), ib = f32x4.splat(invSqrtBc2), ev = f32x4.splat(eps);
    const wd = f32x4.splat(weightDecay);
    const decay = weightDecay != 0;
    for (; (pn << 3) + 8 <= min(o1, O); pn++) {
      const base = <usize>(pn << 3) * row;
      const panel = packed + (<usize>pn * <usize>I << 5);
      let i = 0;
      for (; i + 4 <= I; i += 4) {
        const o = base + (<usize>i << 2);
        const w0 = adamVec(p, g, m, v, o, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w1 = adamVec(p, g, m, v, o + row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w2 = adamVec(p, g, m, v, o + 2 * row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w3 = adamVec(p, g, m, v, o + 3 * row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w4 = adamVec(p, g, m, v, o + 4 * row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w5 = adamVec(p, g, m, v, o + 5 * row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w6 = adamVec(p, g, m, v, o + 6 * row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const w7 = adamVec(p, g, m, v, o + 7 * row, b1, c1, b2, c2, ss, ib, ev, wd, decay);
        const d = panel + (<usize>i << 5);
        storeTransposed4(d, 32, w0, w1, w2, w3);
        storeTransposed4(d + 16, 32, w4, w5, w6, w7);
      }
      for (; i < I; i++) {
        for (let j = 0; j < 8; j++) {
          const np = adamOne(p, g, m, v, base + <usize>j * row + (<usize>i << 2), stepSize, beta1, beta2, eps, invSqrtBc2, weightDecay);
          store<f32>(panel + (<usize>i << 5) + (<usize>j << 2), np);
        }
      }
    }
  }
  // the rest (a panel with padding rows, or the scalar build): the two passes
  const r0 = pn << 3;
  if (r0 < o1) {
    adam(p, g, m, v, r0 * I, min(o1, O) * I, stepSize, beta1, beta2, eps, invSqrtBc2, weightDecay);
    packRows(packed, p, O, I, r0, o1);
  }
}
