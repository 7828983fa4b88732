// Training a VAE: one optimiser step (forward, the estimator's weights, backward, Adam), the
// public trainStep, fit over epochs, and lossAndGrads (the same computation without the update).
import { checkBool, checkInt, checkKeys, checkNumber, fail, invalidValue, toMatrix, type MatrixLike } from "../util/validate.js";
import type { Workspace } from "../nn/workspace.js";
import { gradientStats } from "./diagnostics.js";
import { elbo } from "./evaluate.js";
import {
  estimatorFor, FIT_KEYS, klWeight, relaxationOptions, STEP_KEYS, stepConfig,
  type EpochRecord, type FitOptions, type LossAndGrads, type StepConfig, type StepOptions, type EstimatorOption,
} from "./options.js";
import { epochOrder, trainEpochs } from "./train.js";
import type { VaeModel } from "./vae-model.js";
import { stepFields } from "../estimators/index.js";
import { FUSE } from "../engine/ctrl.js";
import { checkSameData, CUSTOM, LiveRun, resumedOptions, SCHEDULE, type StoredOption } from "./checkpoint.js";

/** The options of a run as a checkpoint keeps them (model/checkpoint.ts). */
function storedOptions(o: FitOptions, cfg: StepConfig, epochs: number, batchSize: number, shuffle: boolean): Record<string, StoredOption> {
  const lr = o.learningRate ?? 1e-3;
  const stored: Record<string, StoredOption> = {
    epochs, batchSize, shuffle, learningRate: typeof lr === "function" ? SCHEDULE : lr,
    estimator: typeof o.estimator === "object" ? CUSTOM : cfg.est.name, samples: cfg.K, binarize: cfg.binarize,
    betas: [cfg.beta1, cfg.beta2], adamEps: cfg.adamEps, weightDecay: cfg.weightDecay, beta: cfg.beta, klWarmup: cfg.klWarmup, freeBits: cfg.freeBits,
  };
  if (o.temperature !== undefined) stored.temperature = typeof o.temperature === "function" ? SCHEDULE : o.temperature;
  if (o.straightThrough !== undefined) stored.straightThrough = cfg.hard;
  return stored;
}

/** The current temperature of a step config. */
function tauAt(m: VaeModel, fn: string, cfg: StepConfig, epoch: number): number {
  const t = cfg.temperature;
  return typeof t === "function" ? checkNumber(fn, `options.temperature(${epoch}, ${m.steps})`, t(epoch, m.steps), { gt: 0 }) : t;
}

/**
 * One optimiser step on the B examples already in ws.x: binarize (if asked), draw eps at
 * (seed, step), forward, backward, Adam. Returns the summed objective; throws before the
 * update when it is not finite.
 */
function step(m: VaeModel, fn: string, ws: Workspace, B: number, cfg: StepConfig, lr: number, where: string, tau = 1): number {
  const r = m.runner;
  // β, warmed up linearly over the first klWarmup optimiser steps
  const beta = cfg.klWarmup ? cfg.beta * Math.min(1, (m.steps + 1) / cfg.klWarmup) : cfg.beta;
  r.caller = fn; // (a callback between steps may have used the model under another name)
  r.backwardArgs(B, cfg.K, cfg.est, { lr, beta1: cfg.beta1, beta2: cfg.beta2, adamEps: cfg.adamEps, weightDecay: cfg.weightDecay, t: m.adamSteps + 1 }, beta);
  // row-local weights: the backward rows run inside the forward dispatch (one barrier fewer)
  const fuse = stepFields(cfg.est).fuse;
  r.forward(ws, B, cfg.K, cfg.est, { drawEps: true, seed: m.config.seed, step: m.steps, binarize: cfg.binarize, threads: cfg.threads, tau, hard: cfg.hard, fuse, freeBits: cfg.freeBits });
  const objective = r.weigh(ws, B, cfg.K, cfg.est, beta);
  if (!Number.isFinite(objective)) {
    throw new Error(
      `${fn}: the loss became ${-objective} ${where}(optimiser step ${m.steps + 1}); ` +
      "the parameters are those of the last finite step. Try a lower learningRate, or check the data scale.");
  }
  r.backward(ws, cfg.threads, fuse !== FUSE.none); // gradients and the Adam update
  m.steps++;
  m.adamSteps++;
  return objective;
}

/**
 * One Adam step on one batch (rows of x), for users who write their own training loop.
 * Returns the batch loss (negative objective per example) before the update.
 */
export function trainStep(m: VaeModel, x: MatrixLike, options: StepOptions & { learningRate?: number }): number {
  const fn = "VAE.trainStep";
  m.checkAlive(fn);
  checkKeys(fn, "options", options, STEP_KEYS);
  // the batch's values are checked after the copy, by a vector scan in WebAssembly (a
  // JavaScript pass over 100×784 values cost ~0.15 ms, serial time in every step)
  const x0 = m.input(fn, x, "x", true);
  const cfg = stepConfig(m, fn, options);
  const lr = checkNumber(fn, "options.learningRate", options.learningRate ?? 1e-3, { gt: 0 });
  m.run = null; // (a step outside fit: no run for a checkpoint to continue)
  m.resumeFrom = null;
  const ws = m.runner.workspace(x0.rows, cfg.K);
  m.runner.loadBatch(ws, x0, null, 0, x0.rows);
  const bad = m.k.firstInvalid(ws.x, x0.data.length, m.config.likelihood.type === "bernoulli" ? 1 : 0);
  if (bad >= 0) invalidValue(fn, "x", x0.data, x0.cols, bad);
  return -step(m, fn, ws, x0.rows, cfg, lr, "", tauAt(m, fn, cfg, 0)) / x0.rows;
}

/**
 * Trains with Adam. Resolves with one record per epoch. Between steps it yields to the event
 * loop (so progress can render and `signal` can abort); an abort rejects with the signal's
 * reason and leaves the parameters of the last completed step in place. A non-finite loss
 * stops training before the update that would spread it, with an error saying what to try.
 */
export async function fit(m: VaeModel, data: MatrixLike, given: FitOptions): Promise<EpochRecord[]> {
  const fn = "VAE.fit";
  m.checkAlive(fn);
  checkKeys(fn, "options", given, FIT_KEYS);
  const x = m.input(fn, data, "data");
  // after VAE.resume: the checkpoint's run goes on where it stopped, with its options unless given
  const resume = m.resumeFrom;
  const options = resume ? resumedOptions(fn, resume.options, given, ["batchSize", "shuffle"]) : given;
  if (resume) checkSameData(fn, "data", resume, x);
  const epochs = checkInt(fn, "options.epochs", options.epochs ?? 10, 1);
  const batch = checkInt(fn, "options.batchSize", options.batchSize ?? 128, 1, 1 << 20);
  const lrOpt = options.learningRate ?? 1e-3;
  if (typeof lrOpt !== "function") checkNumber(fn, "options.learningRate", lrOpt, { gt: 0 });
  const cfg = stepConfig(m, fn, options);
  const shuffle = checkBool(fn, "options.shuffle", options.shuffle ?? true);
  const val = options.validationData !== undefined ? m.input(fn, options.validationData, "options.validationData") : null;
  for (const cb of ["onProgress", "onEpochEnd"] as const) {
    if (options[cb] !== undefined && typeof options[cb] !== "function") fail(fn, `options.${cb}`, "a function", options[cb]);
  }
  const signal = options.signal;
  if (signal !== undefined && (typeof signal !== "object" || typeof signal.aborted !== "boolean")) {
    fail(fn, "options.signal", "an AbortSignal", signal);
  }
  signal?.throwIfAborted();
  await m.ensurePool(fn); // (after a worker died: a new pool)
  let record: ((force: boolean) => void) | null = null;
  if (options.gradientStats !== undefined) {
    const g = options.gradientStats;
    checkKeys(fn, "options.gradientStats", g, ["every", "data", "onStats", "estimators", "draws", "samples", "seed"]);
    const every = checkInt(fn, "options.gradientStats.every", g.every, 1);
    if (typeof g.onStats !== "function") fail(fn, "options.gradientStats.onStats", "a function (step, stats) => void", g.onStats);
    const probe = g.data !== undefined ? m.input(fn, g.data, "options.gradientStats.data")
      : { data: x.data.subarray(0, Math.min(100, x.rows) * x.cols), rows: Math.min(100, x.rows), cols: x.cols };
    const { every: _e, data: _d, onStats: _o, ...statsOpts } = g;
    record = (force) => {
      if (force || m.steps % every === 0) g.onStats(m.steps, gradientStats(m, probe, statsOpts));
    };
    record(true);
  }
  const patience = options.patience === undefined ? 0 : checkInt(fn, "options.patience", options.patience, 1);
  if (patience && !val) fail(fn, "options.patience", "given with options.validationData (the loss it watches)", patience);
  let best = { loss: Infinity, epoch: 0, params: null as Record<string, Float32Array> | null }, stale = 0;
  const B0 = Math.min(batch, x.rows);
  m.runner.workspace(B0, cfg.K);
  const from = resume?.position ?? { epoch: 0, step: 0, epochStart: m.steps, lossSum: 0, seen: 0, seconds: 0 };
  m.resumeFrom = null;
  const run = m.run = new LiveRun(x, storedOptions(options, cfg, epochs, batch, shuffle), from);
  return trainEpochs<EpochRecord>({
    epochs, rows: x.rows, batchSize: batch, signal, from,
    at: (p) => (run.position = p),
    steps: () => m.steps,
    order: (epochStart) => epochOrder(m.config.seed, epochStart, x.rows, shuffle),
    step: (order, start, B, epoch, s) => {
      const lr = typeof lrOpt === "function" ? checkNumber(fn, `options.learningRate(${epoch}, ${s})`, lrOpt(epoch, s), { gt: 0 }) : lrOpt;
      // re-fetched every step (free when unchanged): a callback may have used the model with a
      // bigger batch (encode, gradientStats…) and so re-laid the workspace
      const ws = m.runner.workspace(B0, cfg.K);
      m.runner.loadBatch(ws, x, order, start, B);
      const loss = -step(m, fn, ws, B, cfg, lr, `at epoch ${epoch + 1}, step ${s + 1} `, tauAt(m, fn, cfg, epoch));
      record?.(false);
      return loss;
    },
    progress: options.onProgress && ((epoch, s, stepsPerEpoch, lossSum, seen, seconds) => options.onProgress!({
      epoch: epoch + 1, epochs, step: s + 1, stepsPerEpoch, loss: lossSum / seen, examplesPerSecond: seen / Math.max(seconds, 1e-9),
    })),
    record: (epoch, lossSum, seen, seconds) => {
      const rec: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, seconds };
      if (val) rec.validationLoss = -elbo(m, val, {});
      if (patience) {
        if (rec.validationLoss! < best.loss) [best, stale] = [{ loss: rec.validationLoss!, epoch: rec.epoch, params: m.params.dict() }, 0];
        else stale++;
      }
      return rec;
    },
    done: () => {
      if (!patience || stale < patience) return false;
      // (the best epoch's parameters back; Adam's moments stay those of the last step)
      m.params.load(fn, best.params!);
      return true;
    },
    onEpochEnd: options.onEpochEnd,
  });
}

/**
 * The loss (negative objective per example, averaged over the rows of x) and the gradient of
 * every parameter, without updating anything. `eps` ([N, K, Z]: row n·K + k) fixes the noise
 * so any outside implementation can reproduce the computation exactly; otherwise it is drawn
 * from (seed, step). x is used as given (no binarization).
 */
export function lossAndGrads(m: VaeModel, x: MatrixLike, opts: {
  estimator?: EstimatorOption; samples?: number; eps?: Float32Array | number[]; seed?: number; step?: number;
  temperature?: number; straightThrough?: boolean; beta?: number; freeBits?: number;
}): LossAndGrads {
  const fn = "VAE.lossAndGrads";
  m.checkAlive(fn);
  checkKeys(fn, "options", opts, ["estimator", "samples", "eps", "seed", "step", "temperature", "straightThrough", "beta", "freeBits"]);
  const x0 = m.input(fn, x);
  const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
  const est = estimatorFor(m, fn, "options.estimator", opts.estimator);
  const relax = relaxationOptions(m, fn, opts, false);
  const { beta, freeBits } = klWeight(m, fn, est, opts.beta, undefined, opts.freeBits);
  const B = x0.rows;
  const Z = m.config.latentDim;
  const ws = m.runner.workspace(B, K);
  m.runner.loadBatch(ws, x0, null, 0, B);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  const stepKey = checkInt(fn, "options.step", opts.step ?? 0, 0, 0xffffffff);
  if (opts.eps !== undefined) {
    const e = toMatrix(fn, "options.eps", opts.eps, Z);
    if (e.rows !== K * B) fail(fn, "options.eps", `${K * B * Z} values ([rows=${B}, samples=${K}, latentDim=${Z}])`, opts.eps);
    m.f32(ws.eps, K * B * Z).set(e.data);
  }
  m.runner.forward(ws, B, K, est, { drawEps: opts.eps === undefined, seed, step: stepKey, tau: relax.temperature as number, hard: relax.hard, freeBits });
  const objective = m.runner.weigh(ws, B, K, est, beta);
  if (!Number.isFinite(objective)) throw new Error(`${fn}: the objective is ${objective} at these parameters and inputs`);
  m.runner.backwardArgs(B, K, est, null, beta);
  m.runner.backward(ws);
  return { loss: -objective / B, grads: m.params.dict("gradients") };
}
