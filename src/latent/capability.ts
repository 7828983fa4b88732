// What a latent variable's q(z|x) can give an estimator. Each latent kind declares the ones it
// provides, each estimator needs some (estimators/index.ts needs), and a model refuses an
// estimator whose needs its latent kind does not provide, with the kind's reason.
export type Capability =
  /** KL(q(z|x) ‖ p(z)) in closed form */
  | "analyticKL"
  /** log q(z|x) at the sample, differentiable along the sampling path (total derivative) */
  | "density"
  /** ∂log q(z|x)/∂z with q's parameters held fixed: the path derivative's stopped score */
  | "pathScore"
  /** ∇φ log q(z|x) at a fixed z: the score function */
  | "paramScore"
  /**
   * log p(z) − log q(z|x) weighed per dimension by the Monte Carlo estimators: β and free bits
   * with the total and path derivatives
   */
  | "weighedDensity";
