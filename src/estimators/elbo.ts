// Single-sample-style estimators of the ELBO (with K samples: their mean): the analytic KL,
// the total derivative and the path derivative ("sticking the landing").
import { GRAD } from "../../bindings/abi.js";
import { sumMeanOverK, type Estimator, type StepRows } from "./estimator.js";

/**
 * Analytic KL (Kingma & Welling 2014, eq. 10): ELBO = E_q[log p(x|z)] - KL(q‖p), with the KL in
 * closed form and only the likelihood estimated by reparameterized samples; with β ≠ 1 the
 * β-VAE objective E_q[log p(x|z)] - β·KL (Higgins et al. 2017). The PyTorch and
 * Keras example VAEs use this. Prefer it for a Gaussian q with a standard normal prior: lowest
 * variance of the single-sample estimators, but it needs a closed-form KL (no flows).
 */
export class AnalyticKL implements Estimator {
  readonly name = "analytic";
  readonly gradMode = GRAD.analytic;
  readonly analyticKL = true;
  readonly weighsKL = true;
  readonly usesEncoderFactor = false;
  readonly rowWeights = "uniform";
  weigh(s: StepRows): number {
    s.c.fill(1 / (s.K * s.B), 0, s.K * s.B);
    let kl = 0;
    for (let b = 0; b < s.B; b++) kl += s.kl[b];
    return sumMeanOverK(s.logpx, s.K, s.B) - s.beta * kl;
  }
}

/**
 * Total derivative of the Monte Carlo ELBO, mean_k log w_k (Kingma & Welling 2014, eq. 6): every
 * path through which (mu, logvar) reach log w is differentiated, including the score function
 * ∂log q/∂φ at fixed z, whose expectation is zero but whose variance is not. The baseline the
 * seed improves upon; prefer 'stl' for a Gaussian q. With β ≠ 1 the objective is
 * mean_k [log p(x|z) + β·(log p(z) − log q(z|x))] (the β-VAE's, with the KL estimated by samples).
 */
export class TotalDerivative implements Estimator {
  readonly name: string = "td";
  readonly gradMode: number = GRAD.total;
  readonly analyticKL = false;
  readonly weighsKL = true;
  readonly usesEncoderFactor = false;
  readonly rowWeights = "uniform";
  weigh(s: StepRows): number {
    s.c.fill(1 / (s.K * s.B), 0, s.K * s.B);
    if (s.beta === 1) return sumMeanOverK(s.logw, s.K, s.B);
    return (1 - s.beta) * sumMeanOverK(s.logpx, s.K, s.B) + s.beta * sumMeanOverK(s.logw, s.K, s.B);
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
