// The Variational Autoencoder: an encoder q(z|x) (a Gaussian N(mu(x), diag exp(logvar(x))) by
// default, a categorical relaxed by Gumbel-softmax, or a Gaussian moved by a normalizing flow),
// its prior, and a Bernoulli or Gaussian decoder p(x|z), all MLPs, trained with Adam on
// WebAssembly kernels. This class is the public API; each method is a few lines over
// src/model/ (the model's state, training, evaluation, diagnostics).
import type { BuildName } from "../bindings/load.js";
import type { VAEOptions, ResolvedConfig } from "./model/config.js";
import { gradientStats } from "./model/diagnostics.js";
import {
  activeUnits, decode, elbo, encode, latentProbs, logLikelihood, noise, reconstruct, sample,
} from "./model/evaluate.js";
import { interpolate, traversal, type Traversal } from "./model/explore.js";
import { fit, lossAndGrads, trainStep } from "./model/fit.js";
import { bind } from "./model/internals.js";
import type {
  ElboOptions, EpochRecord, EstimatorOption, FitOptions, GradientStats, GradientStatsOptions, LogLikelihoodOptions,
  LogLikelihoodResult, LossAndGrads, StepOptions,
} from "./model/options.js";
import { VaeModel } from "./model/vae-model.js";
import { checkKeys, fail, VAEArgumentError, type MatrixLike } from "./util/validate.js";

/** Metadata keys the library writes itself. */
const RESERVED_METADATA = ["format", "config", "steps", "checksum", "checkpoint"];

/** A save's or checkpoint's own metadata, checked: strings, and none of the keys the library writes. */
function userMetadata(fn: string, opts: { metadata?: Record<string, string> }): Record<string, string> {
  checkKeys(fn, "options", opts, ["metadata"]);
  const extra = opts.metadata ?? {};
  for (const [k, v] of Object.entries(extra)) {
    if (typeof v !== "string") fail(fn, `options.metadata['${k}']`, "a string (safetensors metadata is string → string)", v);
    if (RESERVED_METADATA.includes(k)) fail(fn, "options.metadata", `keys other than ${RESERVED_METADATA.join(", ")} (the library writes those)`, k);
  }
  return extra;
}

export class VAE {
  readonly #m: VaeModel;

  private constructor(m: VaeModel) {
    this.#m = m;
    bind(this, m);
  }

  /** Creates a model (loads and compiles the WebAssembly build once per process). */
  static async create(options: VAEOptions = {}): Promise<VAE> {
    return new VAE(await VaeModel.create("VAE.create", options));
  }

  /**
   * Loads a model written by save() or checkpoint(), or any safetensors file with the documented
   * tensor names (e.g. weights exported from PyTorch, README) when `options.config` gives the
   * architecture. Adam starts afresh (step 0, zero moments); a checkpoint's optimizer state is
   * ignored (VAE.resume reads it).
   */
  static async load(bytes: Uint8Array, options: { config?: VAEOptions; build?: BuildName; threads?: number | "auto" } = {}): Promise<VAE> {
    return new VAE(await VaeModel.load("VAE.load", bytes, options));
  }

  /**
   * A model from a file written by checkpoint(), with Adam's moments and step and the run's
   * position: the next fit() continues that run exactly where it stopped (same data; the run's
   * options unless given again), bit for bit as if it had never stopped, on any thread count.
   */
  static async resume(bytes: Uint8Array, options: { build?: BuildName; threads?: number | "auto" } = {}): Promise<VAE> {
    return new VAE(await VaeModel.load("VAE.resume", bytes, options, true));
  }

  /** The resolved configuration (saved with the model). */
  get config(): ResolvedConfig {
    return this.#m.config;
  }

  /** The WebAssembly build it runs. */
  get build(): BuildName {
    return this.#m.build;
  }

  /**
   * Threads the model runs on (1 = the calling thread only). After a pool worker died it is 1
   * until fit() starts a new pool.
   */
  get threads(): number {
    return this.#m.runningThreads;
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.#m.params.n;
  }

  /** Optimiser steps taken so far. */
  get stepCount(): number {
    return this.#m.steps;
  }

  /** Names and shapes of every parameter tensor, in storage order (see README for the PyTorch mapping). */
  get parameterShapes(): Record<string, number[]> {
    return this.#m.params.shapes();
  }

  /** 'analytic', or 'td' with a flow (whose q has no closed-form KL). */
  get defaultEstimator(): "analytic" | "td" {
    return this.#m.defaultEstimator;
  }

  /** Copies of every parameter tensor by name (PyTorch nn.Linear layout: weight [out, in]). */
  stateDict(): Record<string, Float32Array> {
    this.#m.checkAlive("VAE.stateDict");
    return this.#m.params.dict();
  }

  /** Sets parameters by name; every given tensor must match its shape. Others keep their values. */
  loadStateDict(dict: Record<string, ArrayLike<number>>, opts: { strict?: boolean } = {}): void {
    this.#m.checkAlive("VAE.loadStateDict");
    this.#m.params.load("VAE.loadStateDict", dict, opts.strict);
  }

  /**
   * Sets the decoder's output bias from the data mean, so training starts at the marginal:
   * logit(mean) for a Bernoulli decoder, the mean for a Gaussian one (the IWAE paper's initialisation).
   */
  initializeOutputBias(x: MatrixLike): void {
    const fn = "VAE.initializeOutputBias";
    this.#m.checkAlive(fn);
    this.#m.initializeOutputBias(this.#m.input(fn, x));
  }

  /**
   * mu and logvar of q(z|x) for every row of x ([N, D] → two [N, Z] arrays). With a flow, of the
   * base distribution q_0(z_0|x) (the flow then moves the sample; see reconstruct).
   */
  encode(x: MatrixLike): { mu: Float32Array; logvar: Float32Array } {
    return encode(this.#m, x);
  }

  /**
   * Categorical latent: q(y|x) for every row of x, [N, variables·categories], each variable's
   * categories summing to 1 (softmax of the encoder's logits).
   */
  latentProbs(x: MatrixLike): Float32Array {
    return latentProbs(this.#m, x);
  }

  /**
   * Decoder output for every row of z ([N, Z] → [N, D]): Bernoulli probabilities
   * (sigmoid of the logits) or Gaussian means.
   */
  decode(z: MatrixLike): Float32Array {
    return decode(this.#m, z);
  }

  /**
   * Reconstructions of x: decode(mu(x)) by default, or decode of one sampled z when sample is
   * true (with a flow: z_T = f(mu), or f of a sample; categorical: the mode, or a Gumbel-max sample).
   */
  reconstruct(x: MatrixLike, opts: { sample?: boolean; seed?: number } = {}): Float32Array {
    return reconstruct(this.#m, x, opts);
  }

  /** n samples from the model: z from the prior, decoded (probabilities or means), [n, D]. */
  sample(n: number, opts: { seed?: number } = {}): Float32Array {
    return sample(this.#m, n, opts);
  }

  /**
   * Mean ELBO per example (nats; higher is better) of x: analytic KL and one sample by default,
   * as the PyTorch example's test loss (which is its negative). With estimator 'td'/'stl' the
   * Monte Carlo ELBO mean_k log w; with 'iwae' the IWAE bound. Noise is keyed by `seed` (default:
   * the model's) and each example's index, so `batchSize` does not change the result.
   */
  elbo(x: MatrixLike, opts: ElboOptions = {}): number {
    return elbo(this.#m, x, opts);
  }

  /**
   * Importance-sampled log p(x) per example with K = `samples` importance samples (default
   * 5000; the papers' test NLL is its negative), streamed in chunks of samples with an f64
   * log-sum-exp; the noise is keyed by example and sample index, so chunk sizes never change
   * the result. Also each estimate's standard error.
   */
  logLikelihood(x: MatrixLike, opts: LogLikelihoodOptions = {}): LogLikelihoodResult {
    return logLikelihood(this.#m, x, opts);
  }

  /** Mean IWAE bound L_K = E log (1/K) Σ_k w_k per example (nats); L_1 is the ELBO. */
  iwaeBound(x: MatrixLike, opts: Omit<LogLikelihoodOptions, "onProgress"> & { samples: number }): number {
    if (!opts || typeof opts.samples !== "number") fail("VAE.iwaeBound", "options.samples", "the number of importance samples K", opts?.samples);
    return logLikelihood(this.#m, x, opts).mean;
  }

  /**
   * Active latent units (Burda et al. 2016, sec. 5.2): unit j is active when
   * Var_x(E_q[z_j]) exceeds `threshold` (default 1e-2).
   */
  activeUnits(x: MatrixLike, opts: { threshold?: number } = {}): { count: number; variances: Float64Array } {
    return activeUnits(this.#m, x, opts);
  }

  /**
   * The loss (negative objective per example, averaged over the rows of x) and the gradient of
   * every parameter, without updating anything. `eps` ([N, K, Z]: row n·K + k) fixes the noise
   * so any outside implementation can reproduce the computation exactly; otherwise it is drawn
   * from (seed, step). x is used as given (no binarization).
   */
  lossAndGrads(x: MatrixLike, opts: {
    estimator?: EstimatorOption; samples?: number; eps?: Float32Array | number[]; seed?: number; step?: number;
    temperature?: number; straightThrough?: boolean;
  } = {}): LossAndGrads {
    return lossAndGrads(this.#m, x, opts);
  }

  /**
   * Gradient statistics of several estimators at the current parameters (nothing is updated),
   * every estimator on the same noise: per parameter group (each tensor, 'encoder', 'decoder',
   * 'all') the norm of the mean gradient, the trace of its covariance, the SNR and a paired
   * t-statistic against the first estimator.
   */
  gradientStats(x: MatrixLike, opts: GradientStatsOptions = {}): GradientStats {
    return gradientStats(this.#m, x, opts);
  }

  /** The noise ([N, K, Z], row n·K + k) that lossAndGrads / fit draw for N rows at (seed, step). */
  noise(rows: number, opts: { samples?: number; seed?: number; step?: number } = {}): Float32Array {
    return noise(this.#m, rows, opts);
  }

  /**
   * One Adam step on one batch (rows of x), for users who write their own training loop.
   * Returns the batch loss (negative objective per example) before the update. Noise and
   * binarization are keyed by the model's seed and step count, as in fit.
   */
  trainStep(x: MatrixLike, options: StepOptions & { learningRate?: number } = {}): number {
    return trainStep(this.#m, x, options);
  }

  /**
   * Trains with Adam. Resolves with one record per epoch. Between steps it yields to the event
   * loop (so progress can render and `signal` can abort); an abort rejects with the signal's
   * reason and leaves the parameters of the last completed step in place. A non-finite loss
   * stops training before the update that would spread it, with an error saying what to try.
   */
  fit(data: MatrixLike, options: FitOptions = {}): Promise<EpochRecord[]> {
    return fit(this.#m, data, options);
  }

  /**
   * The model as a safetensors file: tensors named as in `parameterShapes` with PyTorch
   * nn.Linear layout, the configuration and step count in the header's metadata.
   */
  save(opts: { metadata?: Record<string, string> } = {}): Uint8Array {
    this.#m.checkAlive("VAE.save");
    return this.#m.save(userMetadata("VAE.save", opts));
  }

  /**
   * The model and its whole training state as one safetensors file: the parameters (it is a
   * model file: VAE.load reads it), Adam's moments (tensors optimizer.exp_avg.NAME and
   * optimizer.exp_avg_sq.NAME) and step, and the current or last fit's position (epoch, step in
   * it, the epoch's running loss), options and a CRC-32 of its data. Take it between steps (in
   * onProgress or onEpochEnd) or after fit stopped (an abort); VAE.resume continues from it.
   */
  checkpoint(opts: { metadata?: Record<string, string> } = {}): Uint8Array {
    this.#m.checkAlive("VAE.checkpoint");
    return this.#m.save(userMetadata("VAE.checkpoint", opts), true);
  }

  /**
   * Latent traversal: each dimension varied over quantiles of N(0, 1) (default 9, from the 5 % to
   * the 95 % quantile) while the others stay at row `row` (default 0) of `data`'s code mu(x);
   * dimensions ordered by their mean KL over `data`, most used first, each with its activity
   * (inactive below `threshold`, default 0.01). `images`: Z·steps decoded rows. Gaussian latents
   * without a flow.
   */
  traversal(data: MatrixLike, options: { row?: number; steps?: number; quantile?: number; threshold?: number } = {}): Traversal {
    return traversal(this.#m, data, options);
  }

  /**
   * The decoded path between the codes of rows `a` and `b` ([steps, D], default 10 points):
   * `path: 'linear'` (default) or `'spherical'`. Gaussian latents without a flow.
   */
  interpolate(a: MatrixLike, b: MatrixLike, options: { steps?: number; path?: "linear" | "spherical" } = {}): Float32Array {
    return interpolate(this.#m, a, b, options);
  }

  /** Releases the model's WebAssembly memory and terminates its workers; every later call throws. */
  dispose(): void {
    this.#m.dispose();
  }
}

export { VAEArgumentError };
export type { LatentDimension, Traversal } from "./model/explore.js";
export type { Activation, FlowOptions, Likelihood, ResolvedConfig, VAEOptions } from "./model/config.js";
export type {
  ElboOptions, EpochRecord, EstimatorOption, FitOptions, FitProgress, GradientStats, GradientStatsOptions, GroupStats,
  LogLikelihoodOptions, LogLikelihoodResult, LossAndGrads, StepOptions,
} from "./model/options.js";
