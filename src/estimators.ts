// Gradient estimators of the (negative) ELBO, as small interchangeable objects.
//
// Every estimator sees the same per-row quantities of one step (row r = b·K + k, K samples of
// B examples): log p(x|z_r), log w_r = log p(x|z_r) + log p(z_r) - log q(z_r|x), KL_b. It
// returns the objective and fills
//   c[r]  the weight of row r in the loss, loss = -Σ_r c_r·log w_r (decoder and likelihood), and
//   r[r]  an extra factor on the encoder's path gradient (DReG only),
// and names the encoder gradient mode (assembly/gaussian.ts latentBackward). The decoder,
// likelihood and encoder kernels are shared; only these weights and the mode differ.
// see: ../shared/DESIGN.md, table of dL/dmu and dL/dlogvar per estimator.
import { GRAD } from "../bindings/abi.js";

export interface StepRows {
  K: number;
  B: number;
  logpx: Float32Array; // [B·K], row b·K + k
  logw: Float32Array;  // [B·K]
  kl: Float32Array;    // [B] (filled only when analyticKL)
  wt: Float32Array;    // [B·K] normalized importance weights w̃ (filled only when importanceWeighted)
  bound: Float32Array; // [B] log mean_k w (filled only when importanceWeighted)
  c: Float32Array;     // [B·K] out
  r: Float32Array;     // [B·K] out (when usesEncoderFactor)
}

export interface Estimator {
  /** Name used in options, the CLI and saved metadata. */
  readonly name: string;
  /** Encoder gradient mode (GRAD.analytic | GRAD.total | GRAD.path). */
  readonly gradMode: number;
  /** Whether the step must compute the analytic KL (it replaces log p(z) - log q(z|x)). */
  readonly analyticKL: boolean;
  /** Whether r[] is filled (a per-row factor on the encoder path gradient). */
  readonly usesEncoderFactor: boolean;
  /** Whether the step must compute w̃ and the IWAE bound (in WebAssembly) before weigh. */
  readonly importanceWeighted?: boolean;
  /**
   * When c is one of two fixed row-local forms — 'uniform' c = 1/(K·B), or 'importance'
   * c = w̃/B — and r is unused, a training step computes c inside the forward dispatch and runs
   * the row-wise backward there too (one barrier fewer per step); weigh must fill the same values.
   */
  readonly rowWeights?: "uniform" | "importance";
  /** Fills c (and r); returns Σ_b objective_b (the ELBO or bound summed over the batch). */
  weigh(rows: StepRows): number;
}

/** The smallest normal f32, 2^-126. */
export const F32_MIN_NORMAL = 2 ** -126;

/**
 * Sets the subnormal values of a[0:n) to 0: the row weights c and r after every weigh (and the
 * kernel that writes c inside a fused training step, assembly/stats.ts setWeights, by the same
 * rule). Importance weights of hopeless samples reach 1e-40 and below; x86 cores take a
 * microcode assist on subnormal operands, and a few such rows made every GEMM of the IWAE
 * backward that reads them ~20 % slower (the K = 5 benchmark step lost 4 %). WebAssembly has no
 * flush-to-zero mode (PyTorch's torch.set_flush_denormal), so the weights are flushed where they
 * are made. A weight below 2^-126 moves no f32 gradient sum that any normal-weight row reaches.
 */
export function flushSubnormal(a: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) if (Math.abs(a[i]) < F32_MIN_NORMAL) a[i] = 0;
}

/** Mean over k of a [B·K] row quantity, summed over b, in f64. */
function sumMeanOverK(v: Float32Array, K: number, B: number): number {
  let s = 0;
  for (let i = 0; i < K * B; i++) s += v[i];
  return s / K;
}

/**
 * Analytic KL (Kingma & Welling 2014, eq. 10): ELBO = E_q[log p(x|z)] - KL(q‖p), with the KL in
 * closed form and only the likelihood estimated by reparameterized samples. The PyTorch and
 * Keras example VAEs use this. Prefer it for a Gaussian q with a standard normal prior: lowest
 * variance of the single-sample estimators, but it needs a closed-form KL (no flows).
 */
export class AnalyticKL implements Estimator {
  readonly name = "analytic";
  readonly gradMode = GRAD.analytic;
  readonly analyticKL = true;
  readonly usesEncoderFactor = false;
  readonly rowWeights = "uniform";
  weigh(s: StepRows): number {
    s.c.fill(1 / (s.K * s.B), 0, s.K * s.B);
    let kl = 0;
    for (let b = 0; b < s.B; b++) kl += s.kl[b];
    return sumMeanOverK(s.logpx, s.K, s.B) - kl;
  }
}

/**
 * Total derivative of the Monte Carlo ELBO, mean_k log w_k (Kingma & Welling 2014, eq. 6): every
 * path through which (mu, logvar) reach log w is differentiated, including the score function
 * ∂log q/∂φ at fixed z, whose expectation is zero but whose variance is not. The baseline the
 * seed improves upon; prefer 'stl' for a Gaussian q.
 */
export class TotalDerivative implements Estimator {
  readonly name: string = "td";
  readonly gradMode: number = GRAD.total;
  readonly analyticKL = false;
  readonly usesEncoderFactor = false;
  readonly rowWeights = "uniform";
  weigh(s: StepRows): number {
    s.c.fill(1 / (s.K * s.B), 0, s.K * s.B);
    return sumMeanOverK(s.logw, s.K, s.B);
  }
}

/**
 * Path derivative / "sticking the landing" (Roeder, Wu & Duvenaud 2017): the total derivative
 * with the score term of log q stopped. Unbiased for the ELBO; when q equals the true posterior,
 * log p(x,z) - log q(z|x) is constant in z and the gradient is exactly zero for every sample
 * (zero variance). Prefer it over 'td' whenever q can approach the posterior.
 */
export class PathDerivative extends TotalDerivative {
  override readonly name = "stl";
  override readonly gradMode = GRAD.path;
}

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

export type EstimatorName = "analytic" | "td" | "stl" | "iwae" | "iwae-stl" | "dreg" | "score";
export const ESTIMATOR_NAMES: readonly EstimatorName[] = ["analytic", "td", "stl", "iwae", "iwae-stl", "dreg", "score"];

export function makeEstimator(name: EstimatorName): Estimator {
  switch (name) {
    case "analytic": return new AnalyticKL();
    case "td": return new TotalDerivative();
    case "stl": return new PathDerivative();
    case "iwae": return new IWAE();
    case "iwae-stl": return new IWAEPath();
    case "dreg": return new DReG();
    case "score": return new ScoreFunction();
  }
}
