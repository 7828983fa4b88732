// Decoder likelihoods log p(x|z) per row. Decoder output rows r = b·K + k ([B·K, D]) are scored
// against x row b = r / K ([B, D]). Forward writes log p per row; backward writes ∂loss/∂(decoder output)
// = c_r·(-∂ log p/∂out), so that loss = -Σ_r c_r log p_r (c from the estimator).
//   Bernoulli(logits l): log p = Σ x·l - softplus(l), softplus(l) = max(l,0) + log1p(exp(-|l|));
//                        ∂log p/∂l = x - sigmoid(l).
//   Gaussian N(m, var·I): log p = -1/2 Σ ((x-m)²/var + log 2π + log var); ∂log p/∂m = (x-m)/var.

import { expNonPositive, log1pUnit } from "./simd";

const LOG_2PI: f64 = 1.8378770664093454836;

/** exp(-|l|) per lane, in (0, 1]: no overflow for any l. */
// @ts-ignore: decorator
@inline function expNegAbs(l: v128): v128 {
  return expNonPositive(f32x4.neg(f32x4.abs(l)));
}

/** x·l - softplus(l) per lane, softplus(l) = max(l, 0) + log1p(e), e = exp(-|l|); pmax: a NaN l propagates. */
// @ts-ignore: decorator
@inline function bernoulliTerm(x: v128, l: v128, e: v128): v128 {
  return f32x4.sub(f32x4.mul(x, l), f32x4.add(f32x4.pmax(l, f32x4.splat(0)), log1pUnit(e)));
}

/** sigmoid(l) per lane from e = exp(-|l|): 1/(1 + e) for l ≥ 0, else e/(1 + e). */
// @ts-ignore: decorator
@inline function sigmoidFrom(l: v128, e: v128): v128 {
  const inv = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(inv, f32x4.mul(e, inv), f32x4.ge(l, f32x4.splat(0)));
}

/** acc + the four lanes of t, lanes 0, 1 then 2, 3, in f64 (as the scalar path sums); the constant shuffle is one pshufd. */
// @ts-ignore: decorator
@inline function addF64(acc: v128, t: v128): v128 {
  acc = f64x2.add(acc, f64x2.promote_low_f32x4(t));
  return f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<f32>(t, t, 2, 3, 0, 1)));
}

/**
 * logp[r] = Σ_d x·l - softplus(l) for rows r in [r0, r1); probs[r,:] = sigmoid(l), which may
 * alias logits (the backward pass needs only the probabilities). probs = 0 skips them
 * (evaluation: the division is a fifth of this kernel's time).
 */
export function bernoulliLogProb(logp: usize, probs: usize, logits: usize, x: usize, K: i32, D: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const pl = logits + (<usize>(r * D) << 2);
    const pp = probs + (<usize>(r * D) << 2);
    const px = x + (<usize>((r / K) * D) << 2);
    let s: f64 = 0;
    let d = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = f64x2.splat(0);
      // four vectors per iteration, then two: each is a ~100-cycle dependent chain (two Horner
      // polynomials), so independent ones keep the core busy (two: ~1.5× faster than one; four:
      // 23 % faster than two); the f64 sums take the terms in the same order as the one-vector
      // loop below
      for (; d + 16 <= D; d += 16) {
        const o = <usize>d << 2;
        const l0 = v128.load(pl + o), l1 = v128.load(pl + o, 16), l2 = v128.load(pl + o, 32), l3 = v128.load(pl + o, 48);
        const e0 = expNegAbs(l0), e1 = expNegAbs(l1), e2 = expNegAbs(l2), e3 = expNegAbs(l3);
        const t0 = bernoulliTerm(v128.load(px + o), l0, e0), t1 = bernoulliTerm(v128.load(px + o, 16), l1, e1);
        const t2 = bernoulliTerm(v128.load(px + o, 32), l2, e2), t3 = bernoulliTerm(v128.load(px + o, 48), l3, e3);
        acc = addF64(addF64(addF64(addF64(acc, t0), t1), t2), t3);
        if (probs != 0) {
          v128.store(pp + o, sigmoidFrom(l0, e0));
          v128.store(pp + o, sigmoidFrom(l1, e1), 16);
          v128.store(pp + o, sigmoidFrom(l2, e2), 32);
          v128.store(pp + o, sigmoidFrom(l3, e3), 48);
        }
      }
      for (; d + 8 <= D; d += 8) {
        const o = <usize>d << 2;
        const l0 = v128.load(pl + o), l1 = v128.load(pl + o, 16);
        const e0 = expNegAbs(l0), e1 = expNegAbs(l1);
        const t0 = bernoulliTerm(v128.load(px + o), l0, e0), t1 = bernoulliTerm(v128.load(px + o, 16), l1, e1);
        acc = addF64(addF64(acc, t0), t1);
        if (probs != 0) {
          v128.store(pp + o, sigmoidFrom(l0, e0));
          v128.store(pp + o, sigmoidFrom(l1, e1), 16);
        }
      }
      for (; d + 4 <= D; d += 4) {
        const o = <usize>d << 2;
        const l = v128.load(pl + o);
        const e = expNegAbs(l);
        acc = addF64(acc, bernoulliTerm(v128.load(px + o), l, e));
        if (probs != 0) v128.store(pp + o, sigmoidFrom(l, e));
      }
      s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    }
    // leftovers (all of it in the scalar build)
    for (; d < D; d++) {
      const o = <usize>d << 2;
      const l = load<f32>(pl + o);
      const xv = load<f32>(px + o);
      const e = Mathf.exp(-Mathf.abs(l));          // in (0, 1]: no overflow for any l
      const sp = max(l, <f32>0) + Mathf.log1p(e);   // softplus(l)
      s += <f64>(xv * l - sp);
      if (probs != 0) {
        const inv: f32 = 1 / (1 + e);
        store<f32>(pp + o, l >= 0 ? inv : e * inv);  // sigmoid(l)
      }
    }
    store<f32>(logp + (<usize>r << 2), <f32>s);
  }
}

/** dl[r,:] = c[r]·(probs[r,:] - x[b,:]) for rows [r0, r1); dl may alias probs. */
export function bernoulliBackward(dl: usize, probs: usize, x: usize, c: usize, K: i32, D: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const cr = load<f32>(c + (<usize>r << 2));
    const pp = probs + (<usize>(r * D) << 2);
    const pd = dl + (<usize>(r * D) << 2);
    const px = x + (<usize>((r / K) * D) << 2);
    let d = 0;
    if (ASC_FEATURE_SIMD) {
      const cv = f32x4.splat(cr);
      for (; d + 4 <= D; d += 4) {
        const o = <usize>d << 2;
        v128.store(pd + o, f32x4.mul(cv, f32x4.sub(v128.load(pp + o), v128.load(px + o))));
      }
    }
    // leftovers
    for (; d < D; d++) {
      const o = <usize>d << 2;
      store<f32>(pd + o, cr * (load<f32>(pp + o) - load<f32>(px + o)));
    }
  }
}

/**
 * logp[r] = -1/2 Σ_d ((x - m)²/var_d + log 2π + logvar_d) for rows [r0, r1), where
 * logvar_d = logvarOut[d] when logvarOut != 0 (a learned per-output variance) else the scalar logVar.
 */
export function gaussianLogProb(logp: usize, mean: usize, x: usize, logvarOut: usize, logVar: f32, K: i32, D: i32, r0: i32, r1: i32): void {
  const invVar0 = <f64>Mathf.exp(-logVar);
  for (let r = r0; r < r1; r++) {
    const pm = mean + (<usize>(r * D) << 2);
    const px = x + (<usize>((r / K) * D) << 2);
    let s: f64 = 0;
    for (let d = 0; d < D; d++) {
      const o = <usize>d << 2;
      const diff = <f64>(load<f32>(px + o) - load<f32>(pm + o));
      if (logvarOut != 0) {
        const lv = <f64>load<f32>(logvarOut + o);
        s += diff * diff * Math.exp(-lv) + lv;
      } else {
        s += diff * diff * invVar0 + <f64>logVar;
      }
    }
    store<f32>(logp + (<usize>r << 2), <f32>(-0.5 * (s + <f64>D * LOG_2PI)));
  }
}

/**
 * dm[r,:] = c[r]·(m - x)/var for rows [r0, r1) (dm may alias mean); var = exp(logvarOut[d]) when
 * learned, else exp(logVar). The learned log-variance's own gradient is gaussianLogvarGrad.
 */
export function gaussianBackward(
  dm: usize, mean: usize, x: usize, c: usize, logvarOut: usize, logVar: f32,
  K: i32, D: i32, r0: i32, r1: i32,
): void {
  const invVar0 = Mathf.exp(-logVar);
  for (let r = r0; r < r1; r++) {
    const cr = load<f32>(c + (<usize>r << 2));
    const pm = mean + (<usize>(r * D) << 2);
    const pd = dm + (<usize>(r * D) << 2);
    const px = x + (<usize>((r / K) * D) << 2);
    for (let d = 0; d < D; d++) {
      const o = <usize>d << 2;
      const diff = load<f32>(pm + o) - load<f32>(px + o);
      const iv = logvarOut != 0 ? Mathf.exp(-load<f32>(logvarOut + o)) : invVar0;
      store<f32>(pd + o, cr * diff * iv);
    }
  }
}

/**
 * dlogvarOut[d] = Σ_{r < R} c[r]·(1 - (x-m)²/var_d)/2 for columns [d0, d1), rows summed in order:
 * the learned log-variance gradient over the whole batch, split by columns between threads (run
 * it before gaussianBackward overwrites the means).
 */
export function gaussianLogvarGrad(
  dlogvarOut: usize, mean: usize, x: usize, c: usize, logvarOut: usize, K: i32, D: i32, R: i32, d0: i32, d1: i32,
): void {
  for (let d = d0; d < d1; d++) store<f32>(dlogvarOut + (<usize>d << 2), 0);
  for (let r = 0; r < R; r++) {
    const cr = load<f32>(c + (<usize>r << 2));
    const pm = mean + (<usize>(r * D) << 2);
    const px = x + (<usize>((r / K) * D) << 2);
    for (let d = d0; d < d1; d++) {
      const o = <usize>d << 2;
      const diff = load<f32>(pm + o) - load<f32>(px + o);
      const iv = Mathf.exp(-load<f32>(logvarOut + o));
      store<f32>(dlogvarOut + o, load<f32>(dlogvarOut + o) + cr * 0.5 * (1 - diff * diff * iv));
    }
  }
}
