// What every gradient estimator of the (negative) ELBO is, and the row weights it produces.
//
// Every estimator sees the same per-row quantities of one step (row r = b·K + k, K samples of
// B examples): log p(x|z_r), log w_r = log p(x|z_r) + log p(z_r) - log q(z_r|x), KL_b. It
// returns the objective and fills
//   c[r]  the weight of row r in the loss, loss = -Σ_r c_r·log w_r (decoder and likelihood), and
//   r[r]  an extra factor on the encoder's gradient (DReG, the score function),
// and names the encoder gradient mode (assembly/gaussian.ts latentBackward). The decoder,
// likelihood and encoder kernels are shared; only these weights and the mode differ. What an
// estimator needs from the step (the analytic KL, w̃ and the bound, r) it declares in its
// fields; estimators/index.ts turns them into the control block's fields and into what it
// needs of the latent variable.

export interface StepRows {
  K: number;
  B: number;
  logpx: Float32Array; // [B·K], row b·K + k
  logw: Float32Array;  // [B·K]
  kl: Float32Array;    // [B] (filled only when analyticKL)
  wt: Float32Array;    // [B·K] normalized importance weights w̃ (filled only when importanceWeighted)
  bound: Float32Array; // [B] log mean_k w (filled only when importanceWeighted)
  /** the weight β of the KL (β-VAE; 1 for the ELBO): of the analytic KL, or of log p(z) − log q(z|x) in log w */
  beta: number;
  c: Float32Array;     // [B·K] out
  r: Float32Array;     // [B·K] out (when usesEncoderFactor)
}

export interface Estimator {
  /** Name used in options, the CLI and saved metadata. */
  readonly name: string;
  /** Encoder gradient mode (GRAD.analytic | GRAD.total | GRAD.path | GRAD.score, bindings/constants.ts). */
  readonly gradMode: number;
  /** Whether the step must compute the analytic KL (it replaces log p(z) - log q(z|x)). */
  readonly analyticKL: boolean;
  /**
   * Whether the objective weighs its KL term: by β (StepRows.beta) and, in the step's kernels,
   * free bits — the analytic KL, or log p(z) − log q(z|x) of the total and path derivatives.
   * Absent: β, KL warm-up and free bits are refused with this estimator.
   */
  readonly weighsKL?: boolean;
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
export function sumMeanOverK(v: Float32Array, K: number, B: number): number {
  let s = 0;
  for (let i = 0; i < K * B; i++) s += v[i];
  return s / K;
}
