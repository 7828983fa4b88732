// What a trained VAE computes without training: codes, reconstructions and samples, the ELBO,
// the importance-sampled log-likelihood and the active units. Noise is keyed by seed and
// example index, so chunk sizes never change a result.
import { STREAM } from "../../bindings/abi.js";
import { CTRL, CMD } from "../engine/ctrl.js";
import { checkBool, checkInt, checkKeys, checkNumber, fail, toMatrix, type MatrixLike } from "../util/validate.js";
import { ELBO_KEYS, estimatorFor, type ElboOptions, type LogLikelihoodOptions, type LogLikelihoodResult } from "./options.js";
import { callThreads } from "./threads.js";
import { CHUNK, type VaeModel } from "./vae-model.js";

/** Throws for a latent kind without a Gaussian q(z|x), where `fn` has no meaning. */
function needGaussian(m: VaeModel, fn: string, hint = ""): void {
  if (!m.kind.encode) throw new Error(`${fn}: this model's latent is ${m.kind.describe}; ${fn} needs a Gaussian latent${hint}`);
}

/**
 * mu and logvar of q(z|x) for every row of x ([N, D] → two [N, Z] arrays). With a flow, of the
 * base distribution q_0(z_0|x) (the flow then moves the sample; see reconstruct).
 */
export function encode(m: VaeModel, x: MatrixLike): { mu: Float32Array; logvar: Float32Array } {
  const fn = "VAE.encode";
  m.checkAlive(fn);
  needGaussian(m, fn, "; use latentProbs(x) for q(y|x)");
  return m.kind.encode!(m, m.input(fn, x));
}

/** A categorical latent's q(y|x) for every row of x. */
export function latentProbs(m: VaeModel, x: MatrixLike): Float32Array {
  const fn = "VAE.latentProbs";
  m.checkAlive(fn);
  if (!m.kind.latentProbs) fail(fn, "this model", "a categorical latent (use encode for a Gaussian one)", "gaussian");
  return m.kind.latentProbs(m, m.input(fn, x));
}

/** Decoder outputs for every row of z: Bernoulli probabilities or Gaussian means. */
export function decode(m: VaeModel, z: MatrixLike): Float32Array {
  const fn = "VAE.decode";
  m.checkAlive(fn);
  return m.decode(toMatrix(fn, "z", z, m.config.latentDim).data);
}

/** Reconstructions of x through the latent kind: of the mean code, or of one sample. */
export function reconstruct(m: VaeModel, x: MatrixLike, opts: { sample?: boolean; seed?: number }): Float32Array {
  const fn = "VAE.reconstruct";
  m.checkAlive(fn);
  checkKeys(fn, "options", opts, ["sample", "seed"]);
  const sample = checkBool(fn, "options.sample", opts.sample ?? false);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  return m.kind.reconstruct(m, m.input(fn, x), sample, seed);
}

/** n samples from the model: codes from the prior, decoded. */
export function sample(m: VaeModel, n: number, opts: { seed?: number }): Float32Array {
  const fn = "VAE.sample";
  m.checkAlive(fn);
  checkInt(fn, "n", n, 1);
  checkKeys(fn, "options", opts, ["seed"]);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  return m.decode(m.kind.samplePrior(m, n, seed));
}

/** The noise ([N, K, Z], row n·K + k) that lossAndGrads / fit draw for N rows at (seed, step). */
export function noise(m: VaeModel, rows: number, opts: { samples?: number; seed?: number; step?: number }): Float32Array {
  const fn = "VAE.noise";
  m.checkAlive(fn);
  checkInt(fn, "rows", rows, 1);
  const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  const step = checkInt(fn, "options.step", opts.step ?? 0, 0, 0xffffffff);
  const ws = m.runner.workspace(rows, K);
  const draw = m.kind.noise === "gumbel" ? m.k.gumbelNoise : m.k.randomNormal;
  draw(ws.eps, seed, STREAM.eps, step, K, m.config.latentDim, 0, rows, 0, 0);
  // (the same draws the forward makes chunk by chunk: keys depend only on the example and sample)
  return m.f32(ws.eps, K * rows * m.config.latentDim).slice();
}

/**
 * Mean ELBO per example (nats; higher is better) of x: analytic KL and one sample by default,
 * as the PyTorch example's test loss (which is its negative). With estimator 'td'/'stl' the
 * Monte Carlo ELBO mean_k log w; with 'iwae' the IWAE bound. Noise is keyed by `seed` (default:
 * the model's) and each example's index, so `batchSize` does not change the result. A relaxed
 * (categorical) latent is evaluated as the discrete model it is: exact categorical samples
 * (Gumbel-max, the hard one-hot) with the closed-form KL, whatever temperature it trained at.
 */
export function elbo(m: VaeModel, x: MatrixLike, opts: ElboOptions): number {
  const fn = "VAE.elbo";
  m.checkAlive(fn);
  checkKeys(fn, "options", opts, ELBO_KEYS);
  const x0 = m.input(fn, x);
  const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
  const est = estimatorFor(m, fn, "options.estimator", opts.estimator);
  const binarize = checkBool(fn, "options.binarize", opts.binarize ?? false);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  const threads = callThreads(fn, opts.threads, m.threads);
  const chunk = checkInt(fn, "options.batchSize", opts.batchSize ?? evenExamples(Math.max(1, Math.floor(m.rowsPerPass(4 * CHUNK) / K)), threads), 1);
  let total = 0;
  for (let s = 0; s < x0.rows; s += chunk) {
    const B = Math.min(chunk, x0.rows - s);
    const ws = m.runner.workspace(B, K);
    m.runner.loadBatch(ws, x0, null, s, B);
    // keyed by the example's index: the result does not depend on batchSize
    m.runner.forward(ws, B, K, est, {
      drawEps: true, seed, epsStream: STREAM.evalEps, step: 0, rowOffset: s, binarize, binStream: STREAM.evalBinarize, threads, hard: m.kind.relaxed,
    });
    total += m.runner.weigh(ws, B, K, est);
  }
  return total / x0.rows;
}

/**
 * Examples per evaluation pass: n rounded down to a multiple of the threads when there are enough.
 * A pass's rows are split by examples, and with few examples of many rows each (K samples) an
 * uneven split idles a thread: 3 conv-mnist digits a pass on 2 threads left one idle a third of
 * the time. Results do not depend on it (noise is keyed by example and sample).
 */
export function evenExamples(n: number, threads: number): number {
  return n >= threads ? n - (n % threads) : n;
}

/**
 * Importance-sampled log p(x) per example: log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x), with
 * K = `samples` (default 5000, the papers' test NLL is its negative). The encoder runs once per
 * example; samples are drawn and decoded in chunks of `sampleChunk` so memory stays bounded
 * (about `batchSize`·`sampleChunk` decoder rows at a time); the log-sum-exp runs in f64 over
 * each example's K log-weights in sample order. Noise is keyed by (seed, example index, sample
 * index), so the result does not depend on the chunk sizes or the thread count, bit for bit.
 * `binarize` draws one Bernoulli binarization of x (keyed by seed and the example index) first.
 * Also returns each estimate's standard error (delta method: sqrt(Var(w)/K)/mean(w)).
 */
export function logLikelihood(m: VaeModel, x: MatrixLike, opts: LogLikelihoodOptions): LogLikelihoodResult {
  const fn = "VAE.logLikelihood";
  m.checkAlive(fn);
  needGaussian(m, fn);
  checkKeys(fn, "options", opts, ["samples", "batchSize", "sampleChunk", "seed", "binarize", "onProgress", "threads"]);
  const threads = callThreads(fn, opts.threads, m.threads);
  const x0 = m.input(fn, x);
  const K = checkInt(fn, "options.samples", opts.samples ?? 5000, 1, 1 << 24);
  // (about 5000 decoder rows a pass; fewer for a model whose rows take more memory, a conv model's:
  // 138 on 2 threads for conv-mnist). A pass's rows are split between the threads by examples, so
  // a pass holds at least one example per thread where memory allows (smaller sample chunks)
  const rows = m.rowsPerPass(5000);
  let kcDefault = Math.min(K, 500, rows);
  if (Math.floor(rows / kcDefault) < threads && x0.rows >= threads) kcDefault = Math.max(1, Math.floor(rows / threads));
  const Kc = checkInt(fn, "options.sampleChunk", opts.sampleChunk ?? kcDefault, 1, 1 << 16);
  const Bc = checkInt(fn, "options.batchSize", opts.batchSize ?? evenExamples(Math.max(1, Math.floor(rows / Math.min(K, Kc))), threads), 1, 1 << 16);
  const seed = checkInt(fn, "options.seed", opts.seed ?? m.config.seed, 0, 0xffffffff);
  const binarize = checkBool(fn, "options.binarize", opts.binarize ?? false);
  if (binarize && m.config.likelihood.type !== "bernoulli") fail(fn, "options.binarize", "false for a Gaussian likelihood", binarize);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") fail(fn, "options.onProgress", "a function", opts.onProgress);
  const perExample = new Float64Array(x0.rows), standardError = new Float64Array(x0.rows);
  // every example's K log-weights of a pass (4 bytes each), then an exact log-sum-exp over them
  // in sample order: the same numbers whatever the chunk sizes and thread count
  const all = new Float32Array(Math.min(Bc, x0.rows) * K);
  for (let s = 0; s < x0.rows; s += Bc) {
    const B = Math.min(Bc, x0.rows - s);
    const kc = Math.min(Kc, K);
    const ws = m.runner.workspace(B, kc);
    m.runner.loadBatch(ws, x0, null, s, B);
    const ci = m.runner.ints;
    ci[CTRL.B] = B; ci[CTRL.binarize] = binarize ? 1 : 0; ci[CTRL.seed] = seed; ci[CTRL.step] = 0;
    ci[CTRL.binStream] = STREAM.evalBinarize; ci[CTRL.rowOffset] = s;
    m.runner.dispatch(ws, CMD.encode, threads);
    for (let k0 = 0; k0 < K; k0 += kc) {
      const kn = Math.min(kc, K - k0);
      ci[CTRL.K] = kn; ci[CTRL.k0] = k0; ci[CTRL.drawEps] = 1; ci[CTRL.epsStream] = STREAM.evalEps;
      m.runner.dispatch(ws, CMD.sample, threads);
      const lw = m.f32(ws.logw, kn * B);
      for (let b = 0; b < B; b++) all.set(lw.subarray(b * kn, (b + 1) * kn), b * K + k0);
    }
    for (let b = 0; b < B; b++) {
      const lw = all.subarray(b * K, (b + 1) * K);
      let mx = -Infinity;
      for (let j = 0; j < K; j++) mx = Math.max(mx, lw[j]);
      let s1 = 0, s2 = 0;
      if (mx !== -Infinity) {
        for (let j = 0; j < K; j++) {
          const e = Math.exp(lw[j] - mx);
          s1 += e;
          s2 += e * e;
        }
      }
      // Σ exp(lw − max) and Σ exp(2(lw − max)): log p̂ and the delta-method standard error
      perExample[s + b] = mx + Math.log(s1 / K);
      const mean = s1 / K, meanSq = s2 / K;
      standardError[s + b] = Math.sqrt(Math.max(meanSq - mean * mean, 0) / K) / mean;
    }
    opts.onProgress?.(s + B, x0.rows);
    m.runner.caller = fn; // (the callback may have used the model under another name)
  }
  let sum = 0;
  for (const v of perExample) sum += v;
  if (!Number.isFinite(sum)) throw new Error(`${fn}: the estimate is ${sum}; a decoder output or log-weight is not finite`);
  return { mean: sum / x0.rows, perExample, standardError, samples: K };
}

/**
 * Active latent units (Burda et al. 2016, sec. 5.2): unit j is active when
 * Cov_x(E_{q(z|x)}[z_j]) = Var_x(mu_j(x)) exceeds `threshold` (default 1e-2).
 */
export function activeUnits(m: VaeModel, x: MatrixLike, opts: { threshold?: number }): { count: number; variances: Float64Array } {
  const fn = "VAE.activeUnits";
  needGaussian(m, fn);
  checkKeys(fn, "options", opts, ["threshold"]);
  const threshold = checkNumber(fn, "options.threshold", opts.threshold ?? 1e-2, { min: 0 });
  const { variances } = columnMoments(encode(m, x).mu, m.config.latentDim);
  return { count: variances.reduce((c, v) => c + (v > threshold ? 1 : 0), 0), variances };
}

/** The mean and (population) variance of every column of an [n, Z] matrix, in f64. */
export function columnMoments(a: Float32Array, Z: number): { mean: Float64Array; variances: Float64Array } {
  const n = a.length / Z;
  const mean = new Float64Array(Z), variances = new Float64Array(Z);
  for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) mean[j] += a[i * Z + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) variances[j] += (a[i * Z + j] - mean[j]) ** 2 / n;
  return { mean, variances };
}
