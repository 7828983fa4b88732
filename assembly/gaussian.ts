// Diagonal Gaussian posterior q(z|x) = N(mu, diag(exp(logvar))) and standard normal prior.
//   h[B, 2Z]: encoder head output, row b = (mu_b[0:Z], logvar_b[0:Z]); logvar is clamped to
//   ±LOGVAR_MAX before use (exp cannot overflow; the clamp's gradient is 0 outside, like torch.clamp).
//   eps, z: [B, K, Z], row r = b·K + k (an example's K samples are adjacent, so a range of
//   examples is a contiguous range of rows).   sigma = exp(logvar/2),  z = mu + sigma·eps.
// see: docs/design.md, "The estimators' gradients", for every formula below.

export const LOGVAR_MAX: f32 = 30;
const HALF_LOG_2PI: f64 = 0.91893853320467274178;

// @ts-ignore: decorator
@inline function clampLogvar(v: f32): f32 {
  return min(max(v, -LOGVAR_MAX), LOGVAR_MAX);
}

/** z[k,b,:] = mu_b + exp(logvar_b/2)·eps[k,b,:] for b in [b0, b1), all k. */
export function reparameterize(z: usize, eps: usize, h: usize, K: i32, Z: i32, b0: i32, b1: i32): void {
  for (let b = b0; b < b1; b++) {
    const ph = h + (<usize>(b * 2 * Z) << 2);
    const row = <usize>(b * K * Z) << 2, step = <usize>Z << 2;
    // one exp per latent unit, then down the K samples (K = 5000 in evaluation)
    for (let j = 0; j < Z; j++) {
      const jo = <usize>j << 2;
      const mu = load<f32>(ph + jo);
      const sigma = Mathf.exp(clampLogvar(load<f32>(ph + (<usize>Z << 2) + jo)) * 0.5);
      let o = row + jo;
      for (let k = 0; k < K; k++) {
        store<f32>(z + o, mu + sigma * load<f32>(eps + o));
        o += step;
      }
    }
  }
}

/**
 * The Monte Carlo KL of dimension j of example b, mean_k [log q_j(z) - log p_j(z)] =
 * mean_k (z² - eps² - logvar)/2 over the example's K samples, in f64 (the free-bits test of the
 * Monte Carlo estimators: gaussianLogProbs and latentBackward make it with this one function).
 */
// @ts-ignore: decorator
@inline function monteCarloKlDim(z: usize, eps: usize, lv: f64, b: i32, j: i32, K: i32, Z: i32): f64 {
  let s: f64 = 0;
  for (let k = 0; k < K; k++) {
    const o = <usize>((b * K + k) * Z + j) << 2;
    const zv = <f64>load<f32>(z + o), ev = <f64>load<f32>(eps + o);
    s += zv * zv - ev * ev;
  }
  return 0.5 * (s / <f64>K - lv);
}

/**
 * Per row r = b·K + k for examples b in [b0, b1):
 *   logpz[r] = -1/2 Σ_j (z² + log 2π)
 *   logqz[r] = -1/2 Σ_j (eps² + log 2π) - Σ_j logvar/2     (log q at z on the sample path)
 *              - logdet[r]                                 (with a flow: z = z_T, logdet ≠ 0)
 *   logw[r]  = logpx[r] + logpz[r] - logqz[r]
 * Sums in f64. logdet = 0: no flow. With freeBits λ > 0 (no flow), each dimension whose Monte
 * Carlo KL over the example's samples (monteCarloKlDim) is below λ contributes -λ to every row's
 * log w instead of its log p_j - log q_j, so mean_k log w = mean_k log p(x|z) - Σ_j max(λ, KL_j).
 * (O(K²·Z) per example: the floor is tested per row; free bits are a training option, K small.)
 */
export function gaussianLogProbs(
  logw: usize, logpz: usize, logqz: usize, logpx: usize,
  z: usize, eps: usize, h: usize, K: i32, Z: i32, b0: i32, b1: i32, logdet: usize, freeBits: f32,
): void {
  for (let b = b0; b < b1; b++) {
    const plv = h + (<usize>(b * 2 * Z + Z) << 2);
    let slv: f64 = 0;
    for (let j = 0; j < Z; j++) slv += <f64>clampLogvar(load<f32>(plv + (<usize>j << 2)));
    for (let k = 0; k < K; k++) {
      const r = b * K + k;
      const o = <usize>(r * Z) << 2;
      let sz: f64 = 0, se: f64 = 0;
      for (let j = 0; j < Z; j++) {
        const zv = <f64>load<f32>(z + o + (<usize>j << 2));
        const ev = <f64>load<f32>(eps + o + (<usize>j << 2));
        sz += zv * zv;
        se += ev * ev;
      }
      const lpz = -0.5 * sz - <f64>Z * HALF_LOG_2PI;
      const ro = <usize>r << 2;
      let lqz = -0.5 * se - <f64>Z * HALF_LOG_2PI - 0.5 * slv;
      if (logdet) lqz -= <f64>load<f32>(logdet + ro);
      store<f32>(logpz + ro, <f32>lpz);
      store<f32>(logqz + ro, <f32>lqz);
      let floorShift: f64 = 0; // Σ over floored j of (log q_j - log p_j) - λ
      if (freeBits > 0) {
        for (let j = 0; j < Z; j++) {
          const lv = <f64>clampLogvar(load<f32>(plv + (<usize>j << 2)));
          if (monteCarloKlDim(z, eps, lv, b, j, K, Z) < <f64>freeBits) {
            const zv = <f64>load<f32>(z + o + (<usize>j << 2)), ev = <f64>load<f32>(eps + o + (<usize>j << 2));
            floorShift += 0.5 * (zv * zv - ev * ev - lv) - <f64>freeBits;
          }
        }
      }
      store<f32>(logw + ro, <f32>(<f64>load<f32>(logpx + ro) + lpz - lqz + floorShift));
    }
  }
}

/**
 * kl[b] = KL(q(z|x_b) ‖ N(0, I)) = 1/2 Σ_j (mu² + exp(logvar) - 1 - logvar), b in [b0, b1); with
 * freeBits λ > 0, Σ_j max(λ, KL_j) (free bits per dimension and example, Kingma et al. 2016).
 */
export function klStandardNormal(kl: usize, h: usize, Z: i32, freeBits: f32, b0: i32, b1: i32): void {
  for (let b = b0; b < b1; b++) {
    const ph = h + (<usize>(b * 2 * Z) << 2);
    let s: f64 = 0;
    for (let j = 0; j < Z; j++) {
      const mu = <f64>load<f32>(ph + (<usize>j << 2));
      const lv = <f64>clampLogvar(load<f32>(ph + (<usize>(Z + j) << 2)));
      const t = mu * mu + Math.exp(lv) - 1 - lv;
      // (the floor compares 1/2·t with λ: the same test as latentBackward's)
      s += freeBits > 0 && 0.5 * t < <f64>freeBits ? 2 * <f64>freeBits : t;
    }
    store<f32>(kl + (<usize>b << 2), <f32>(0.5 * s));
  }
}

// Encoder-head gradient modes of latentBackward (the estimators pick one; bindings/constants.ts
// is generated from these exports, so the TypeScript side never retypes them).
export const GRAD_ANALYTIC: i32 = 0;              // analytic KL + reparameterized likelihood (Kingma & Welling)
export const GRAD_TOTAL: i32 = 1;                 // total derivative of the MC ELBO / IWAE (TD)
export const GRAD_PATH: i32 = 2;                  // path derivative: score term of log q stopped (STL, DReG)
export const GRAD_SCORE: i32 = 3;                 // score function (REINFORCE): no gradient through z
export const GRAD_BASE: i32 = 4;                  // TOTAL at the base z0 of a flow: dz = ∂L/∂z0 already holds the prior's term
export const GRAD_ANALYTIC_PER_EXAMPLE: i32 = 5;  // ANALYTIC with example b's KL weighted by klScale·c[b·K] (M2's per-class rows, klScale = β)
export const GRAD_BASE_PATH: i32 = 6;             // PATH at the base z0 of a flow: dz = ∂L/∂z0 (path, already × r); no score term

/**
 * Gradient of the loss w.r.t. the encoder head, dh[b, 0:Z] = dmu, dh[b, Z:2Z] = dlogvar, written
 * (not accumulated) for b in [b0, b1). Inputs:
 *   dz[B,K,Z] = ∂loss/∂z through the decoder only (= -c·∂log p(x|z)/∂z),
 *   c[B·K]    = the weight of row r in the loss, loss = -Σ_r c_r·log w_r (1/(K·B) for the ELBO, w̃/B for IWAE),
 *   r[B·K]    = an extra per-row factor on the encoder path (w̃ for DReG), or 0 for all ones,
 *   klScale   = ANALYTIC: the weight of the analytic KL term (β/B for a batch mean);
 *               TOTAL, PATH: β, the weight of log p(z) - log q(z|x) beside log p(x|z) (c·β
 *               replaces c below; 1 for the ELBO and the IWAE bounds); the other modes ignore it,
 *   freeBits  = λ: in the ANALYTIC modes, a dimension whose KL_j is below λ gets no KL gradient
 *               (its term is the constant floor λ; klStandardNormal makes the same test); in
 *               TOTAL and PATH, a dimension whose Monte Carlo KL over the example's samples is
 *               below λ gets no prior or entropy gradient (gaussianLogProbs makes the same test).
 * Per row, with e = eps, s = sigma (docs/design.md derives them):
 *   ANALYTIC: dmu = Σ_k dz + klScale·mu,               dlv = Σ_k dz·s·e/2 + klScale·(s² - 1)/2
 *   TOTAL:    dmu = Σ_k (dz + c·z),                    dlv = Σ_k [(dz + c·z)·s·e/2 - c/2]
 *   PATH:     dmu = Σ_k r·(dz + c·(z - e/s)),          dlv = Σ_k r·(dz + c·(z - e/s))·s·e/2
 *   SCORE:    dmu = Σ_k r·e/s,                         dlv = Σ_k r·(e² - 1)/2
 *             (∇ log q(z|x) at fixed z; r = -(log w - baseline)·c carries the reward; dz unused)
 *   ANALYTIC_PER_EXAMPLE: ANALYTIC with the KL weight klScale·c[b·K] per example
 *   BASE_PATH: dmu = Σ_k dz,                         dlv = Σ_k dz·s·e/2   (PATH at a flow's base)
 *   BASE:     dmu = Σ_k dz,                            dlv = Σ_k [dz·s·e/2 - c/2]
 *             (TOTAL at the base of a flow: dz = ∂L/∂z0 from flowBackward, which added the
 *             prior's gradient at z_T; -c/2 is log q0's own derivative on the sample path)
 */
export function latentBackward(
  dh: usize, dz: usize, z: usize, eps: usize, h: usize, c: usize, r: usize,
  K: i32, Z: i32, mode: i32, klScale: f32, freeBits: f32, b0: i32, b1: i32,
): void {
  for (let b = b0; b < b1; b++) {
    const ph = h + (<usize>(b * 2 * Z) << 2);
    const pd = dh + (<usize>(b * 2 * Z) << 2);
    for (let j = 0; j < Z; j++) {
      const jo = <usize>j << 2;
      const lvRaw = load<f32>(ph + (<usize>Z << 2) + jo);
      const lv = clampLogvar(lvRaw);
      const sigma = Mathf.exp(lv * 0.5);
      let gmu: f32 = 0, glv: f32 = 0;
      if (mode == GRAD_SCORE) {
        const invSigma: f32 = 1 / sigma;
        for (let k = 0; k < K; k++) {
          const row = b * K + k;
          const e = load<f32>(eps + (<usize>(row * Z) << 2) + jo);
          const rr = load<f32>(r + (<usize>row << 2));
          gmu += rr * e * invSigma;
          glv += rr * (e * e - 1) * 0.5;
        }
      } else if (mode == GRAD_ANALYTIC || mode == GRAD_ANALYTIC_PER_EXAMPLE) {
        const ks = mode == GRAD_ANALYTIC ? klScale : klScale * load<f32>(c + (<usize>(b * K) << 2));
        for (let k = 0; k < K; k++) {
          const o = (<usize>((b * K + k) * Z) << 2) + jo;
          const g = load<f32>(dz + o);
          gmu += g;
          glv += g * sigma * load<f32>(eps + o) * 0.5;
        }
        const mu = load<f32>(ph + jo);
        let floored = false;
        if (freeBits > 0) {
          const m = <f64>mu, l = <f64>lv;
          floored = 0.5 * (m * m + Math.exp(l) - 1 - l) < <f64>freeBits;
        }
        if (!floored) {
          gmu += ks * mu;
          glv += ks * (sigma * sigma - 1) * 0.5;
        }
      } else {
        const invSigma: f32 = 1 / sigma;
        // TOTAL and PATH: the prior and entropy terms weighted by β, or dropped under the floor
        let klw: f32 = 1;
        if (mode == GRAD_TOTAL || mode == GRAD_PATH) {
          klw = klScale;
          if (freeBits > 0 && monteCarloKlDim(z, eps, <f64>lv, b, j, K, Z) < <f64>freeBits) klw = 0;
        }
        for (let k = 0; k < K; k++) {
          const row = b * K + k;
          const o = (<usize>(row * Z) << 2) + jo;
          const cr = load<f32>(c + (<usize>row << 2)) * klw;
          const e = load<f32>(eps + o);
          const zv = load<f32>(z + o);
          let g: f32;
          if (mode == GRAD_BASE_PATH) {
            g = load<f32>(dz + o);
            gmu += g;
            glv += g * sigma * e * 0.5;
          } else if (mode == GRAD_TOTAL || mode == GRAD_BASE) {
            g = load<f32>(dz + o);
            if (mode == GRAD_TOTAL) g += cr * zv;
            gmu += g;
            glv += g * sigma * e * 0.5 - cr * 0.5;
          } else {
            g = load<f32>(dz + o) + cr * (zv - e * invSigma);
            if (r != 0) g *= load<f32>(r + (<usize>row << 2));
            gmu += g;
            glv += g * sigma * e * 0.5;
          }
        }
      }
      store<f32>(pd + jo, gmu);
      // the clamp passes no gradient outside its range
      store<f32>(pd + (<usize>Z << 2) + jo, lvRaw == lv ? glv : 0);
    }
  }
}

/**
 * Multi-sample weights for b in [b0, b1): bound[b] = logsumexp_k logw[b,k] - log K (stable, f64)
 * and wt[b,k] = softmax_k logw[b,k] (the normalized importance weights w̃).
 */
export function importanceWeights(bound: usize, wt: usize, logw: usize, K: i32, b0: i32, b1: i32): void {
  for (let b = b0; b < b1; b++) {
    let m: f64 = -Infinity;
    for (let k = 0; k < K; k++) m = max(m, <f64>load<f32>(logw + (<usize>(b * K + k) << 2)));
    let s: f64 = 0;
    for (let k = 0; k < K; k++) s += Math.exp(<f64>load<f32>(logw + (<usize>(b * K + k) << 2)) - m);
    for (let k = 0; k < K; k++) {
      const o = <usize>(b * K + k) << 2;
      store<f32>(wt + o, <f32>(Math.exp(<f64>load<f32>(logw + o) - m) / s));
    }
    store<f32>(bound + (<usize>b << 2), <f32>(m + Math.log(s) - Math.log(<f64>K)));
  }
}
