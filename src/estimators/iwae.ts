// The importance weighted bound L_K = log (1/K) Σ_k w_k and its gradient estimators: total
// derivative (IWAE), path derivative (IWAE-STL) and doubly reparameterized (DReG).
import { GRAD } from "../../bindings/abi.js";
import type { Estimator, StepRows } from "./estimator.js";

/**
 * Importance weighted autoencoder bound (Burda, Grosse & Salakhutdinov 2016):
 * L_K = log (1/K) Σ_k w_k, w_k = p(x, z_k)/q(z_k|x), with gradient Σ_k w̃_k ∇ log w_k (total
 * derivative), w̃ = softmax_k log w. L_1 is the ELBO; L_K rises towards log p(x) with K. Its
 * encoder gradient's signal-to-noise ratio falls as K grows (Rainforth et al. 2018): prefer 'dreg'.
 */
export class IWAE implements Estimator {
  readonly name: string = "iwae";
  readonly gradMode: number = GRAD.total;
  readonly analyticKL = false;
  readonly usesEncoderFactor: boolean = false;
  readonly importanceWeighted = true;
  readonly rowWeights: "importance" | undefined = "importance";
  weigh(s: StepRows): number {
    const R = s.K * s.B;
    for (let i = 0; i < R; i++) s.c[i] = s.wt[i] / s.B;
    let total = 0;
    for (let b = 0; b < s.B; b++) total += s.bound[b];
    return total;
  }
}

/**
 * IWAE with the path derivative (Roeder, Wu & Duvenaud 2017): Σ_k w̃_k ∇_path log w_k, the score
 * term of log q stopped. BIASED for K > 1 (the stopped term no longer has zero expectation once
 * weighted by w̃); unbiased only at K = 1, where it is 'stl'. Offered for comparison; prefer
 * 'dreg', which is unbiased with the same low variance near the posterior.
 */
export class IWAEPath extends IWAE {
  override readonly name = "iwae-stl";
  override readonly gradMode = GRAD.path;
}

/**
 * Doubly reparameterized gradient of the IWAE bound (Tucker, Lawson, Gu & Maddison 2018):
 * encoder Σ_k w̃_k² ∇_path log w_k, decoder Σ_k w̃_k ∇θ log w_k. Unbiased for L_K, with an
 * encoder signal-to-noise ratio that grows with K, and zero variance at the exact posterior.
 * Prefer it over 'iwae' for K > 1.
 */
export class DReG extends IWAE {
  override readonly name = "dreg";
  override readonly gradMode = GRAD.path;
  override readonly usesEncoderFactor = true;
  override readonly rowWeights = undefined; // r[] comes from JavaScript
  override weigh(s: StepRows): number {
    const objective = super.weigh(s);
    s.r.set(s.wt.subarray(0, s.K * s.B)); // encoder: w̃ · (w̃/B) = w̃²/B
    return objective;
  }
}
