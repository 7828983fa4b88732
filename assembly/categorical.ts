// Discrete latents by the Gumbel-softmax / Concrete relaxation (Jang, Gu & Poole 2017; Maddison,
// Mnih & Teh 2017). The encoder head gives logits l for N categorical variables of C categories,
// [B, N·C]; with standard Gumbel noise g (rng.ts gumbelNoise), the relaxed sample is
//   y_soft = softmax((l + g)/τ)  per variable,
// and the straight-through variant feeds the decoder the hard one-hot argmax(l + g) (an exact
// categorical sample: the Gumbel-max trick) while gradients flow through y_soft. The prior is
// uniform, KL(q‖p) = Σ_c q_c (log q_c + log C) with q = softmax(l), in closed form.
// Rows r = b·K + k as everywhere (K relaxed samples per example). f64 inside each variable.

/**
 * y (decoder input, hard one-hot when `hard`, else y_soft) and ysoft for examples [b0, b1):
 * y_soft = softmax((l + g)/τ) over each group of C. Safe at any τ > 0: the max is subtracted.
 */
export function gumbelSoftmax(
  y: usize, ysoft: usize, g: usize, logits: usize, K: i32, N: i32, C: i32, tau: f64, hard: i32, b0: i32, b1: i32,
): void {
  const Z = N * C;
  for (let b = b0; b < b1; b++) {
    const pl = logits + (<usize>(b * Z) << 2);
    for (let k = 0; k < K; k++) {
      const row = <usize>((b * K + k) * Z) << 2;
      for (let n = 0; n < N; n++) {
        const o = <usize>(n * C) << 2;
        let m: f64 = -Infinity;
        let arg = 0;
        for (let c = 0; c < C; c++) {
          const s = (<f64>load<f32>(pl + o + (<usize>c << 2)) + <f64>load<f32>(g + row + o + (<usize>c << 2))) / tau;
          if (s > m) {
            m = s;
            arg = c;
          }
        }
        let sum: f64 = 0;
        for (let c = 0; c < C; c++) {
          const s = (<f64>load<f32>(pl + o + (<usize>c << 2)) + <f64>load<f32>(g + row + o + (<usize>c << 2))) / tau;
          const e = Math.exp(s - m);
          store<f32>(ysoft + row + o + (<usize>c << 2), <f32>e);
          sum += e;
        }
        for (let c = 0; c < C; c++) {
          const q = ysoft + row + o + (<usize>c << 2);
          const v = <f32>(<f64>load<f32>(q) / sum);
          store<f32>(q, v);
          store<f32>(y + row + o + (<usize>c << 2), hard ? (c == arg ? <f32>1 : <f32>0) : v);
        }
      }
    }
  }
}

/** kl[b] = Σ_n KL(softmax(l_n) ‖ uniform over C) for examples [b0, b1). */
export function categoricalKL(kl: usize, logits: usize, N: i32, C: i32, b0: i32, b1: i32): void {
  const logC = Math.log(<f64>C);
  for (let b = b0; b < b1; b++) {
    const pl = logits + (<usize>(b * N * C) << 2);
    let total: f64 = 0;
    for (let n = 0; n < N; n++) {
      const o = pl + (<usize>(n * C) << 2);
      let m: f64 = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, <f64>load<f32>(o + (<usize>c << 2)));
      let sum: f64 = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(<f64>load<f32>(o + (<usize>c << 2)) - m);
      const lse = m + Math.log(sum);
      for (let c = 0; c < C; c++) {
        const lq = <f64>load<f32>(o + (<usize>c << 2)) - lse;
        total += Math.exp(lq) * (lq + logC);
      }
    }
    store<f32>(kl + (<usize>b << 2), <f32>total);
  }
}

/**
 * ∂loss/∂logits for examples [b0, b1), written (=) into dl [B, N·C]:
 *   Σ_k (1/τ)·ysoft ⊙ (dy − ⟨ysoft, dy⟩)   (through the relaxed sample; the straight-through
 *                                            variant uses the same, with dy taken at the hard y)
 *   + klScale · q ⊙ (log q + log C − KL_n)  (the closed-form KL, q = softmax(l)).
 * dy [B·K, N·C] is ∂loss/∂(decoder input), already weighted per row.
 */
export function categoricalBackward(
  dl: usize, dy: usize, ysoft: usize, logits: usize, K: i32, N: i32, C: i32, tau: f64, klScale: f64, b0: i32, b1: i32,
): void {
  const Z = N * C;
  const logC = Math.log(<f64>C);
  for (let b = b0; b < b1; b++) {
    const pl = logits + (<usize>(b * Z) << 2);
    const pd = dl + (<usize>(b * Z) << 2);
    for (let n = 0; n < N; n++) {
      const o = <usize>(n * C) << 2;
      // KL part
      let m: f64 = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, <f64>load<f32>(pl + o + (<usize>c << 2)));
      let sum: f64 = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(<f64>load<f32>(pl + o + (<usize>c << 2)) - m);
      const lse = m + Math.log(sum);
      let kln: f64 = 0;
      for (let c = 0; c < C; c++) {
        const lq = <f64>load<f32>(pl + o + (<usize>c << 2)) - lse;
        kln += Math.exp(lq) * (lq + logC);
      }
      for (let c = 0; c < C; c++) {
        const lq = <f64>load<f32>(pl + o + (<usize>c << 2)) - lse;
        let grad = klScale * Math.exp(lq) * (lq + logC - kln);
        // relaxed-sample part, summed over the K samples
        for (let k = 0; k < K; k++) {
          const row = <usize>((b * K + k) * Z) << 2;
          let dot: f64 = 0;
          for (let j = 0; j < C; j++) {
            dot += <f64>load<f32>(ysoft + row + o + (<usize>j << 2)) * <f64>load<f32>(dy + row + o + (<usize>j << 2));
          }
          const ys = <f64>load<f32>(ysoft + row + o + (<usize>c << 2));
          grad += (ys * (<f64>load<f32>(dy + row + o + (<usize>c << 2)) - dot)) / tau;
        }
        store<f32>(pd + o + (<usize>c << 2), <f32>grad);
      }
    }
  }
}
