// Gradient estimators of the (negative) ELBO, as small interchangeable objects.
//
// Every estimator sees the same per-row quantities of one step (row r = k·B + b, K samples of
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
  logpx: Float32Array; // [K·B]
  logw: Float32Array;  // [K·B]
  kl: Float32Array;    // [B] (filled only when analyticKL)
  c: Float32Array;     // [K·B] out
  r: Float32Array;     // [K·B] out (when usesEncoderFactor)
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
  /** Fills c (and r); returns Σ_b objective_b (the ELBO or bound summed over the batch). */
  weigh(rows: StepRows): number;
}

/** Mean over k of a [K·B] row quantity, summed over b, in f64. */
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

export type EstimatorName = "analytic" | "td" | "stl";
export const ESTIMATOR_NAMES: readonly EstimatorName[] = ["analytic", "td", "stl"];

export function makeEstimator(name: EstimatorName): Estimator {
  switch (name) {
    case "analytic": return new AnalyticKL();
    case "td": return new TotalDerivative();
    case "stl": return new PathDerivative();
  }
}
