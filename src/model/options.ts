// The options of training and evaluation calls, and their checks: one optimiser step's
// configuration, and whether an estimator suits the model's latent kind.
import { ESTIMATOR_NAMES, makeEstimator, needs, resolveEstimator, type Estimator, type EstimatorName } from "../estimators/index.js";
import { checkBool, checkInt, checkNumber, fail, type MatrixLike } from "../util/validate.js";
import { callThreads } from "./threads.js";
import type { VaeModel } from "./vae-model.js";

export type EstimatorOption = EstimatorName | Estimator;

export interface FitProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** running mean of the training loss (negative objective per example) in this epoch */
  loss: number;
  examplesPerSecond: number;
}

export interface EpochRecord {
  epoch: number;
  /** mean training loss (negative ELBO/bound per example, nats) */
  loss: number;
  /** validation loss (negative ELBO per example, analytic KL, one sample) when validation data was given */
  validationLoss?: number;
  seconds: number;
}

/** Options of one optimiser step (fit and trainStep). */
export interface StepOptions {
  /** Adam β1, β2, ε and L2 weight decay (torch.optim.Adam defaults). */
  betas?: [number, number];
  adamEps?: number;
  weightDecay?: number;
  /** Default 'analytic'. */
  estimator?: EstimatorOption;
  /** Samples of z per example, K. Default 1. */
  samples?: number;
  /** Dynamic binarization: each time an example is used, x ~ Bernoulli(grey level). */
  binarize?: boolean;
  /**
   * Categorical latent only: the Gumbel-softmax temperature τ > 0, a number or, in fit, a
   * schedule (epoch, step) => τ with `step` the model's optimiser step count, e.g. Jang et al.'s
   * annealing (step) => max(0.5, exp(-3e-5·step)). Default 1.
   */
  temperature?: number | ((epoch: number, step: number) => number);
  /** Categorical latent only: straight-through — the decoder sees the hard one-hot sample, gradients flow through the relaxed one. Default false. */
  straightThrough?: boolean;
  /**
   * β-VAE (Higgins et al. 2017): the loss is −E_q[log p(x|z)] + β·KL(q‖p) per example, with the
   * analytic KL ('analytic') or its Monte Carlo estimate log q(z|x) − log p(z) ('td', 'stl'; a
   * Gaussian latent without a flow). Default 1 (the ELBO).
   */
  beta?: number;
  /** KL warm-up: β rises linearly from β/N to β over the first N optimiser steps (the model's step count). Default 0 (none). */
  klWarmup?: number;
  /**
   * Free bits (Kingma et al. 2016), per dimension and example: each dimension's KL term is
   * max(λ, KL_j), so the loss stops pushing a dimension's KL below λ nats. KL_j is the analytic
   * KL ('analytic') or, for 'td' and 'stl', its Monte Carlo estimate over the example's K samples.
   * A Gaussian latent without a flow. Default 0 (none).
   */
  freeBits?: number;
}

export const STEP_KEYS = ["betas", "adamEps", "weightDecay", "estimator", "samples", "binarize", "learningRate", "threads", "temperature", "straightThrough", "beta", "klWarmup", "freeBits"] as const;

export interface FitOptions extends StepOptions {
  epochs?: number;
  batchSize?: number;
  /** A number, or a function of (epoch, stepInEpoch) for schedules. Default 1e-3. */
  learningRate?: number | ((epoch: number, step: number) => number);
  shuffle?: boolean;
  validationData?: MatrixLike;
  onProgress?: (p: FitProgress) => void;
  onEpochEnd?: (r: EpochRecord) => void;
  /** Aborts between steps; the model keeps the parameters of the last completed step. */
  signal?: AbortSignal;
  /**
   * Early stopping: with validationData, stop after `patience` epochs in a row without a lower
   * validation loss, and restore the parameters of the best epoch. Default: none.
   */
  patience?: number;
  /** Threads for this call, at most the model's `threads` (default: all of them). */
  threads?: number;
  /**
   * Record gradient statistics while training: every `every` steps (and before the first),
   * gradientStats on `data` (default: the first 100 training rows) is passed to `onStats`.
   */
  gradientStats?: GradientStatsOptions & { every: number; data?: MatrixLike; onStats: (step: number, stats: GradientStats) => void };
}

export const FIT_KEYS = [
  "epochs", "batchSize", "learningRate", "betas", "adamEps", "weightDecay", "estimator", "samples",
  "binarize", "shuffle", "validationData", "onProgress", "onEpochEnd", "signal", "threads", "gradientStats", "temperature", "straightThrough",
  "beta", "klWarmup", "freeBits", "patience",
] as const;

export interface LossAndGrads {
  /** negative objective per example (nats), averaged over the batch */
  loss: number;
  /** gradient of `loss` for every parameter, by tensor name (copies) */
  grads: Record<string, Float32Array>;
}

export interface ElboOptions {
  /** threads for this call, at most the model's (default all) */
  threads?: number;
  samples?: number;
  estimator?: EstimatorOption;
  binarize?: boolean;
  seed?: number;
  batchSize?: number;
}

export const ELBO_KEYS = ["samples", "estimator", "binarize", "seed", "batchSize", "threads"] as const;

export interface LogLikelihoodOptions {
  /** importance samples K (default 5000) */
  samples?: number;
  /** examples per encoder pass (default ≈ 5000 / sampleChunk) */
  batchSize?: number;
  /** samples decoded per pass (default min(K, 500)) */
  sampleChunk?: number;
  seed?: number;
  /** binarize x first (Bernoulli draws of the grey levels, keyed by seed and example) */
  binarize?: boolean;
  /** called after each batch of examples with (done, total) */
  onProgress?: (done: number, total: number) => void;
  /** threads for this call, at most the model's (default all) */
  threads?: number;
}

export interface LogLikelihoodResult {
  /** mean estimate of log p(x) per example, nats (the test NLL is its negative) */
  mean: number;
  perExample: Float64Array;
  /** per-example standard error of the estimate (delta method) */
  standardError: Float64Array;
  samples: number;
}

export interface GradientStatsOptions {
  /** estimators to compare; the first is the reference of the t-tests (default ['td', 'stl']) */
  estimators?: EstimatorOption[];
  /** gradient draws per estimator (default 100) */
  draws?: number;
  samples?: number;
  seed?: number;
}

export interface GroupStats {
  /** ‖E g‖ */
  meanNorm: number;
  /** tr Var g = Σ_i Var g_i */
  varianceTrace: number;
  /** ‖E g‖ / √(tr Var g) */
  snr: number;
  /** mean over parameters with Var > 0 of |E g_i| / sd(g_i) */
  meanSnr: number;
  /** paired t-statistic of "same expectation as the reference" (0 for the reference itself) */
  t: number;
}

export interface GradientStats {
  draws: number;
  samples: number;
  reference: string;
  groups: string[];
  /** estimator name → group name → statistics */
  estimators: Record<string, Record<string, GroupStats>>;
}

/** One optimiser step's configuration (fit and trainStep). */
export interface StepConfig {
  K: number; beta1: number; beta2: number; adamEps: number; weightDecay: number; est: Estimator; binarize: boolean; threads: number;
  temperature: number | ((epoch: number, step: number) => number); hard: boolean;
  /** the KL weight and its warm-up steps (0: none) */
  beta: number; klWarmup: number; freeBits: number;
}

/**
 * Refuses an estimator the model's latent kind cannot serve (its needs are not all provided),
 * with the kind's reason and the estimators it takes.
 */
export function checkLatentEstimator(m: VaeModel, fn: string, arg: string, est: Estimator): void {
  const provided = m.kind.provides;
  const missing = needs(est).filter((c) => !provided.includes(c));
  if (missing.length === 0) return;
  // the estimators this kind takes, those with fewer needs first
  const allowed = ESTIMATOR_NAMES.map((n) => ({ n, needs: needs(makeEstimator(n)) }))
    .filter((e) => e.needs.every((c) => provided.includes(c)))
    .sort((a, b) => a.needs.length - b.needs.length).map((e) => e.n);
  fail(fn, arg, m.kind.refuse(est.name, missing, allowed), est.name);
}

/** An estimator option (name or object), checked against the model's latent kind. */
export function estimatorFor(m: VaeModel, fn: string, arg: string, e: unknown): Estimator {
  const est = resolveEstimator(fn, arg, e ?? m.defaultEstimator);
  checkLatentEstimator(m, fn, arg, est);
  return est;
}

/** temperature and straightThrough: only for a relaxed (categorical) latent; a schedule only where allowed. */
export function relaxationOptions(m: VaeModel, fn: string, o: StepOptions, schedule: boolean): { temperature: StepConfig["temperature"]; hard: boolean } {
  for (const key of ["temperature", "straightThrough"] as const) {
    if (o[key] !== undefined && !m.kind.relaxed) fail(fn, `options.${key}`, "nothing: it applies to a categorical latent only (VAE.create({latent: {type: 'categorical', …}}))", o[key]);
  }
  let temperature = o.temperature ?? 1;
  if (typeof temperature === "function") {
    if (!schedule) fail(fn, "options.temperature", "a number > 0 (schedules are for fit)", temperature);
  } else {
    temperature = checkNumber(fn, "options.temperature", temperature, { gt: 0 });
  }
  return { temperature, hard: checkBool(fn, "options.straightThrough", o.straightThrough ?? false) };
}

/** Validates the optimiser and estimator options shared by fit and trainStep. */
export function stepConfig(m: VaeModel, fn: string, o: StepOptions): StepConfig {
  const K = checkInt(fn, "options.samples", o.samples ?? 1, 1, 1 << 16);
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) fail(fn, "options.betas", "a pair [β1, β2]", betas);
  const beta1 = checkNumber(fn, "options.betas[0]", betas[0], { min: 0, lt: 1 });
  const beta2 = checkNumber(fn, "options.betas[1]", betas[1], { min: 0, lt: 1 });
  const adamEps = checkNumber(fn, "options.adamEps", o.adamEps ?? 1e-8, { gt: 0 });
  const weightDecay = checkNumber(fn, "options.weightDecay", o.weightDecay ?? 0, { min: 0 });
  const est = resolveEstimator(fn, "options.estimator", o.estimator ?? m.defaultEstimator);
  const binarize = checkBool(fn, "options.binarize", o.binarize ?? false);
  if (binarize && m.config.likelihood.type !== "bernoulli") {
    fail(fn, "options.binarize", "false for a Gaussian likelihood (binarization makes Bernoulli data)", binarize);
  }
  const threads = callThreads(fn, (o as { threads?: unknown }).threads, m.threads);
  checkLatentEstimator(m, fn, "options.estimator", est);
  const { temperature, hard } = relaxationOptions(m, fn, o, true);
  const { beta, klWarmup, freeBits } = klWeight(m, fn, est, o.beta, o.klWarmup, o.freeBits);
  return { K, beta1, beta2, adamEps, weightDecay, est, binarize, threads, temperature, hard, beta, klWarmup, freeBits };
}

/**
 * β, the warm-up and free bits, checked: they need an estimator whose objective has a KL term
 * (analytic, td, stl), and free bits a per-dimension KL (a Gaussian latent without a flow); the
 * Monte Carlo estimators need a latent whose log p(z) − log q(z|x) the kernels weigh.
 */
export function klWeight(m: VaeModel, fn: string, est: Estimator, betaOpt: unknown, warmupOpt: unknown, freeBitsOpt: unknown):
  { beta: number; klWarmup: number; freeBits: number } {
  const beta = checkNumber(fn, "options.beta", betaOpt ?? 1, { min: 0 });
  const klWarmup = checkInt(fn, "options.klWarmup", warmupOpt ?? 0, 0);
  const freeBits = checkNumber(fn, "options.freeBits", freeBitsOpt ?? 0, { min: 0 });
  const used = [["options.beta", beta !== 1, betaOpt], ["options.klWarmup", klWarmup !== 0, warmupOpt], ["options.freeBits", freeBits > 0, freeBitsOpt]] as const;
  const first = used.find((u) => u[1]);
  if (!first) return { beta, klWarmup, freeBits };
  const [arg, , given] = first;
  if (!est.weighsKL) {
    fail(fn, arg, `left out with estimator '${est.name}': a KL weight or floor needs an objective with a KL term ('analytic', 'td' or 'stl'); ` +
      "an importance-weighted bound or the score function has none to weigh", given);
  }
  if (!est.analyticKL && !m.kind.provides.includes("weighedDensity")) {
    fail(fn, arg, `left out for ${m.kind.describe} with estimator '${est.name}': β, KL warm-up and free bits need a plain Gaussian latent with 'td' or 'stl' ` +
      "(a flow's log-determinant is not split per dimension in this version)", given);
  }
  if (freeBits > 0 && !m.kind.encode) {
    fail(fn, "options.freeBits", `left out for ${m.kind.describe}: free bits floor each dimension of a Gaussian latent's KL`, freeBitsOpt);
  }
  return { beta, klWarmup, freeBits };
}
