// The score-function (REINFORCE) estimator, for variance comparisons.
import { GRAD } from "../../bindings/abi.js";
import type { Estimator, StepRows } from "./estimator.js";

/**
 * Score-function (REINFORCE) estimator of the ELBO gradient for the encoder, for variance
 * comparisons: (1/K) Σ_k (log w_k - b_k) ∇φ log q(z_k|x), with z_k not differentiated. The
 * baseline b_k is the mean log w of the OTHER K - 1 samples of the same example when K ≥ 2
 * (leave-one-out, unbiased), and for K = 1 an exponential moving average of past batches' mean
 * log w (decay 0.9, kept in this object). The decoder gets the ordinary ELBO gradient.
 * Orders of magnitude noisier than the reparameterized estimators; do not train with it.
 */
export class ScoreFunction implements Estimator {
  readonly name = "score";
  readonly gradMode = GRAD.score;
  readonly analyticKL = false;
  readonly usesEncoderFactor = true;
  private average: number | null = null;
  weigh(s: StepRows): number {
    const { K, B } = s;
    const c = 1 / (K * B);
    s.c.fill(c, 0, K * B);
    let total = 0;
    for (let b = 0; b < B; b++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += s.logw[b * K + k];
      total += sum / K;
      for (let k = 0; k < K; k++) {
        const lw = s.logw[b * K + k];
        const baseline = K >= 2 ? (sum - lw) / (K - 1) : this.average ?? 0;
        s.r[b * K + k] = -(lw - baseline) * c; // loss = -objective
      }
    }
    if (K === 1) {
      const mean = total / B;
      this.average = this.average === null ? mean : 0.9 * this.average + 0.1 * mean;
    }
    return total;
  }
}
