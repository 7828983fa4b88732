// The Variational Autoencoder: a Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), a
// standard normal prior, and a Bernoulli or Gaussian decoder p(x|z), all MLPs, trained with
// Adam. Parameters, gradients, Adam moments, activations and noise live in one WebAssembly
// memory laid out once here (an arena of byte offsets); kernels do all the arithmetic.
import { ACT, GRAD, LOGVAR_MAX, STREAM, type Kernels } from "../bindings/abi.js";
import { Arena } from "../bindings/arena.js";
import { compileBuild, defaultBuild, ensureMemory, instantiate, warmUp, type BuildName, type Runtime } from "../bindings/load.js";
import {
  iafSteps, packedSize, packLayer, scratchFloats, decodeRows, layoutSlots, layoutView, runShare, writeLayout, type FlowPlan, type Layer, type StaticPlan, type Workspace,
} from "./engine.js";
import { CMD, CTRL, CTRL_BYTES, CTRL_F64, ctrlViews, FUSE, type Ctrl } from "./engine/ctrl.js";
import { Pool } from "./pool.js";
import { flushSubnormal, makeEstimator, resolveEstimator, stepFields, type Estimator, type EstimatorName } from "./estimators/index.js";
import { SeededRandom } from "./util/random.js";
import { decodeSafetensors, encodeSafetensors } from "./files/safetensors.js";
import {
  checkBool, checkInt, checkKeys, checkNumber, checkOneOf, fail, invalidValue, toMatrix, VAEArgumentError,
  type Matrix, type MatrixLike,
} from "./util/validate.js";

export type Activation = "relu" | "tanh" | "identity";
const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "identity"];

/** Decoder likelihood: Bernoulli on logits, or Gaussian N(m, variance·I) (fixed or learned per output). */
export type Likelihood =
  | "bernoulli"
  | "gaussian"
  | { type: "bernoulli" }
  | { type: "gaussian"; variance?: number; learnVariance?: boolean };

/**
 * A normalizing flow on q(z|x) (Gaussian latent): z_T = f_T ∘ … ∘ f_1(z_0), z_0 ~ N(mu, σ²),
 * log q(z_T|x) = log q_0(z_0|x) − Σ_t log|det ∂f_t/∂z_{t−1}|.
 *   'planar', 'radial': Rezende & Mohamed 2015, every layer's parameters produced by the encoder
 *     for each example (amortized), with the invertibility constraints of their appendix;
 *   'iaf': inverse autoregressive flow (Kingma et al. 2016), each step a masked autoregressive
 *     network (MADE, one relu hidden layer of `hidden` units, default 4·latentDim) fed the
 *     encoder's context, z_t = σ⊙z_{t−1} + (1 − σ)⊙m, the variable order reversed between steps.
 * `length` T ≥ 1 layers or steps. Trained with 'td' (the default with a flow) or 'iwae'; IAF
 * also with the path-derivative estimators 'stl', 'iwae-stl' and 'dreg' (through its inverse).
 */
export interface FlowOptions {
  type: "planar" | "radial" | "iaf";
  length: number;
  /** IAF only: hidden units of each step's masked network (default 4·latentDim) */
  hidden?: number;
}
const FLOW_TYPES = ["planar", "radial", "iaf"] as const;

export interface VAEOptions {
  /** Data dimension D (784 for MNIST). */
  inputDim?: number;
  /** Latent dimension Z. Default 20 (for a categorical latent: variables × categories, set for you). */
  latentDim?: number;
  /**
   * The latent variable: 'gaussian' (default; q = N(mu, diag σ²), prior N(0, I)), or
   * {type: 'categorical', variables, categories}: N categorical variables with a uniform prior,
   * trained through the Gumbel-softmax / Concrete relaxation (Jang et al. 2017) with the
   * estimator 'analytic' (relaxed ELBO with the closed-form KL); see StepOptions.temperature.
   */
  latent?: "gaussian" | { type: "gaussian" } | { type: "categorical"; variables: number; categories: number };
  /** A normalizing flow on the Gaussian q(z|x) (see FlowOptions). Default none. */
  flow?: FlowOptions | null;
  /** Encoder hidden layer sizes. Default [400]. */
  hidden?: number[];
  /** Decoder hidden layer sizes. Default: `hidden` reversed. */
  decoderHidden?: number[];
  /** Hidden-layer activation. Default 'relu'. */
  activation?: Activation;
  /** Default 'bernoulli'. 'gaussian' means a fixed variance of 1. */
  likelihood?: Likelihood;
  /** Seed for initialisation, shuffling and every noise draw. Default 0. */
  seed?: number;
  /** Which .wasm build to run. Default: 'simd' where supported, else 'scalar'. */
  build?: BuildName;
  /**
   * Threads for training and evaluation: a number, or 'auto' (the cores available). Results
   * are bitwise identical for any thread count. Above 1 the model runs on workers over one shared memory; where shared memory is
   * unavailable (a page without cross-origin isolation, most edge runtimes) it falls back to
   * one thread and says so once. Default 1.
   */
  threads?: number | "auto";
}

export interface ResolvedConfig {
  inputDim: number;
  latentDim: number;
  hidden: number[];
  decoderHidden: number[];
  activation: Activation;
  likelihood: { type: "bernoulli" } | { type: "gaussian"; variance: number; learnVariance: boolean };
  latent: { type: "gaussian" } | { type: "categorical"; variables: number; categories: number };
  flow: { type: "planar" | "radial"; length: number } | { type: "iaf"; length: number; hidden: number } | null;
  seed: number;
}

interface Tensor {
  name: string;
  shape: number[];
  /** offset in floats from the start of the parameter block */
  offset: number;
  size: number;
}

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
}

const STEP_KEYS = ["betas", "adamEps", "weightDecay", "estimator", "samples", "binarize", "learningRate", "threads", "temperature", "straightThrough"] as const;

interface StepConfig {
  K: number; beta1: number; beta2: number; adamEps: number; weightDecay: number; est: Estimator; binarize: boolean; threads: number;
  temperature: number | ((epoch: number, step: number) => number); hard: boolean;
}

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
  /** Threads for this call, at most the model's `threads` (default: all of them). */
  threads?: number;
  /**
   * Record gradient statistics while training: every `every` steps (and before the first),
   * gradientStats on `data` (default: the first 100 training rows) is passed to `onStats`.
   */
  gradientStats?: GradientStatsOptions & { every: number; data?: MatrixLike; onStats: (step: number, stats: GradientStats) => void };
}

const FIT_KEYS = [
  "epochs", "batchSize", "learningRate", "betas", "adamEps", "weightDecay", "estimator", "samples",
  "binarize", "shuffle", "validationData", "onProgress", "onEpochEnd", "signal", "threads", "gradientStats", "temperature", "straightThrough",
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

const ELBO_KEYS = ["samples", "estimator", "binarize", "seed", "batchSize", "threads"] as const;

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

export interface LogLikelihoodResult {
  /** mean estimate of log p(x) per example, nats (the test NLL is its negative) */
  mean: number;
  perExample: Float64Array;
  /** per-example standard error of the estimate (delta method) */
  standardError: Float64Array;
  samples: number;
}

const DEFAULT_CHUNK = 500;
/** below this many FLOPs a forward or backward pass stays on the calling thread */
const SMALL_WORK_FLOPS = 2e6;

function resolveConfig(fn: string, o: VAEOptions): ResolvedConfig {
  checkKeys(fn, "options", o, ["inputDim", "latentDim", "latent", "flow", "hidden", "decoderHidden", "activation", "likelihood", "seed", "build", "threads"]);
  const inputDim = checkInt(fn, "options.inputDim", o.inputDim ?? 784, 1, 1 << 20);
  let latentDim = checkInt(fn, "options.latentDim", o.latentDim ?? 20, 1, 1 << 16);
  let latent: ResolvedConfig["latent"] = { type: "gaussian" };
  const lt = o.latent ?? "gaussian";
  if (lt === "gaussian" || (typeof lt === "object" && lt !== null && lt.type === "gaussian")) {
    if (typeof lt === "object") checkKeys(fn, "options.latent", lt, ["type"]);
  } else if (typeof lt === "object" && lt !== null && lt.type === "categorical") {
    checkKeys(fn, "options.latent", lt, ["type", "variables", "categories"]);
    const variables = checkInt(fn, "options.latent.variables", lt.variables, 1, 1 << 16);
    const categories = checkInt(fn, "options.latent.categories", lt.categories, 2, 1 << 16);
    if (o.latentDim !== undefined && o.latentDim !== variables * categories) {
      fail(fn, "options.latentDim", `${variables * categories} (variables × categories) or nothing for a categorical latent`, o.latentDim);
    }
    latentDim = variables * categories;
    latent = { type: "categorical", variables, categories };
  } else {
    fail(fn, "options.latent", "'gaussian' or {type: 'categorical', variables, categories}", lt);
  }
  const layers = (arg: string, v: unknown): number[] => {
    if (!Array.isArray(v)) fail(fn, arg, "an array of layer sizes, e.g. [400] (or [] for none)", v);
    return v.map((h, i) => checkInt(fn, `${arg}[${i}]`, h, 1, 1 << 20));
  };
  const hidden = layers("options.hidden", o.hidden ?? [400]);
  const decoderHidden = layers("options.decoderHidden", o.decoderHidden ?? [...hidden].reverse());
  const activation = checkOneOf(fn, "options.activation", o.activation ?? "relu", ACTIVATIONS);
  const seed = checkInt(fn, "options.seed", o.seed ?? 0, 0, 0xffffffff);
  let likelihood: ResolvedConfig["likelihood"];
  const l = o.likelihood ?? "bernoulli";
  if (l === "bernoulli" || (typeof l === "object" && l !== null && l.type === "bernoulli")) {
    likelihood = { type: "bernoulli" };
  } else if (l === "gaussian" || (typeof l === "object" && l !== null && l.type === "gaussian")) {
    const g = typeof l === "object" ? l : { type: "gaussian" as const };
    checkKeys(fn, "options.likelihood", g, ["type", "variance", "learnVariance"]);
    const variance = checkNumber(fn, "options.likelihood.variance", g.variance ?? 1, { gt: 0 });
    const learnVariance = checkBool(fn, "options.likelihood.learnVariance", g.learnVariance ?? false);
    likelihood = { type: "gaussian", variance, learnVariance };
  } else {
    fail(fn, "options.likelihood", "'bernoulli', 'gaussian' or {type: 'gaussian', variance?, learnVariance?}", l);
  }
  let flow: ResolvedConfig["flow"] = null;
  if (o.flow !== undefined && o.flow !== null) {
    const f = o.flow;
    if (typeof f !== "object") fail(fn, "options.flow", "{type: 'planar' | 'radial' | 'iaf', length, hidden?}", f);
    checkKeys(fn, "options.flow", f, ["type", "length", "hidden"]);
    const type = checkOneOf(fn, "options.flow.type", f.type, FLOW_TYPES);
    const length = checkInt(fn, "options.flow.length", f.length, 1, 64);
    if (latent.type !== "gaussian") fail(fn, "options.flow", "no flow with a categorical latent (flows transform a Gaussian q(z|x))", f);
    if (type === "iaf") {
      if (latentDim < 2) fail(fn, "options.latentDim", "at least 2 for an IAF flow (an autoregressive map of one variable has no inputs)", latentDim);
      flow = { type, length, hidden: checkInt(fn, "options.flow.hidden", f.hidden ?? 4 * latentDim, 1, 1 << 16) };
    } else {
      if (f.hidden !== undefined) fail(fn, "options.flow.hidden", "nothing: it sizes IAF's masked networks only", f.hidden);
      flow = { type, length };
    }
  }
  return { inputDim, latentDim, hidden, decoderHidden, activation, likelihood, latent, flow, seed };
}

/**
 * MADE masks (Germain et al. 2015) of IAF step t (0-based) for Z variables and H hidden units:
 * variable j has degree j+1 on even steps and Z−j on odd ones (the order reversed between
 * steps), hidden unit k has degree 1 + k mod (Z−1); hidden k sees input j when deg(k) ≥ deg(j),
 * and outputs m_j, s_j see hidden k when deg(j) > deg(k), so m_j and s_j depend only on the
 * variables before j in the step's order.
 */
export function madeMasks(Z: number, H: number, t: number): { hidden: Float32Array; out: Float32Array } {
  const deg = (j: number) => (t % 2 === 0 ? j + 1 : Z - j);
  const hdeg = (k: number) => 1 + (k % (Z - 1));
  const hidden = new Float32Array(H * Z), out = new Float32Array(2 * Z * H);
  for (let k = 0; k < H; k++) for (let j = 0; j < Z; j++) hidden[k * Z + j] = hdeg(k) >= deg(j) ? 1 : 0;
  for (let j = 0; j < Z; j++) {
    for (let k = 0; k < H; k++) out[j * H + k] = out[(Z + j) * H + k] = deg(j) > hdeg(k) ? 1 : 0;
  }
  return { hidden, out };
}

let warnedNoSharedMemory = false;

/** Cores available to this runtime (navigator.hardwareConcurrency, or Node's os.availableParallelism). */
async function availableCores(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  if (typeof process !== "undefined" && process.versions?.node) {
    const os = await import("node:os");
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return 1;
}

/** The thread count to use: `threads` (or 'auto': the cores) limited by what the runtime allows. */
function resolveThreads(fn: string, threads: unknown, cores: number): number {
  let n: number;
  if (threads === "auto") {
    n = Math.max(1, cores);
  } else {
    n = checkInt(fn, "options.threads", threads, 1, 256);
  }
  const why = n > 1 ? threadsUnavailable() : null;
  if (why) {
    if (!warnedNoSharedMemory) {
      warnedNoSharedMemory = true;
      console.warn(`vae-wasm: ${n} threads were asked for, but ${why}; running on one thread`);
    }
    n = 1;
  }
  return n;
}

/** Why this context cannot run the worker pool, or null when it can. */
function threadsUnavailable(): string | null {
  const g = globalThis as { crossOriginIsolated?: boolean; window?: unknown };
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined" || g.crossOriginIsolated === false) {
    return "this runtime has no shared memory (a page needs cross-origin isolation: the headers " +
      "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  }
  if (g.window !== undefined) {
    return "a browser's main thread may not block in Atomics.wait (create the model inside a Web Worker to use threads)";
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return "this runtime cannot create a shared WebAssembly.Memory";
  }
  return null;
}

export class VAE {
  readonly config: ResolvedConfig;
  readonly build: BuildName;
  private rt: Runtime;
  private k: Kernels;
  private arena: Arena;
  private tensors: Tensor[] = [];
  private enc: Layer[] = [];
  private dec: Layer[] = [];
  private flow: FlowPlan | null = null;
  private decLogvar = -1; // float offset of the learned per-output log-variance, or -1
  private nParams = 0;
  private pParams = 0; // byte pointers of the four parameter-sized blocks
  private pGrads = 0;
  private pM = 0;
  private pV = 0;
  private paramsEnd = 0;
  private ws: Workspace | null = null;
  private disposed = false;
  /** multiply-adds of one decoder row's forward (a proxy for a step's cost per row) */
  private flopsPerRow = 0;
  private plan!: StaticPlan;
  private pCtrl = 0;
  private ctrl!: Ctrl;
  private pool: Pool | null = null;
  /** Threads the model runs on (1 = the calling thread only). */
  readonly threads: number;
  /** Optimiser steps taken (Adam's t, and the RNG step key of training noise). */
  private steps = 0;

  /** Creates a model (loads and compiles the WebAssembly build once per process). */
  static async create(options: VAEOptions = {}): Promise<VAE> {
    const config = resolveConfig("VAE.create", options);
    const build = options.build ?? defaultBuild();
    checkOneOf("VAE.create", "options.build", build, ["relaxed", "simd", "scalar"] as const);
    const threads = resolveThreads("VAE.create", options.threads ?? 1, options.threads === "auto" ? await availableCores() : 1);
    const module = await compileBuild(build, threads > 1);
    warmUp(module, build, threads > 1); // once per module: the first training step runs optimised code
    const vae = new VAE(config, build, module, threads);
    if (threads > 1) {
      try {
        vae.pool = await Pool.start(module, vae.rt.memory, vae.plan, vae.pCtrl, vae.ctrl, threads);
      } catch (e) {
        vae.dispose();
        throw e;
      }
    }
    return vae;
  }

  private constructor(config: ResolvedConfig, build: BuildName, module: WebAssembly.Module, threads: number) {
    this.config = config;
    this.build = build;
    this.threads = threads;
    // Parameters are laid out first; instantiate with room for them, grow for the workspace.
    this.rt = instantiate(module, build, 1 << 20, threads > 1);
    this.k = this.rt.k;
    this.arena = new Arena(this.k.heapBase());
    this.layout();
    this.initParameters();
    this.repack();
  }

  // ---------------------------------------------------------------- layout

  private addTensor(name: string, shape: number[], offset: number): void {
    this.tensors.push({ name, shape, offset, size: shape.reduce((a, b) => a * b, 1) });
  }

  private layout(): void {
    const { inputDim: D, latentDim: Z, hidden, decoderHidden, activation } = this.config;
    const act = ACT[activation];
    let off = 0;
    let packedOff = 0;
    const linear = (inDim: number, outDim: number, a: number): Layer => {
      const l = { inDim, outDim, act: a, w: off, b: off + inDim * outDim, pk: packedOff };
      off += inDim * outDim + outDim;
      packedOff += packedSize(l);
      return l;
    };
    let prev = D;
    hidden.forEach((h, i) => {
      const l = linear(prev, h, act);
      this.addTensor(`encoder.hidden.${i}.weight`, [h, prev], l.w);
      this.addTensor(`encoder.hidden.${i}.bias`, [h], l.b);
      this.enc.push(l);
      prev = h;
    });
    if (this.config.latent.type === "categorical") {
      // logits of the N·C categories, variable n's C categories contiguous
      const head = linear(prev, Z, ACT.identity);
      this.addTensor("encoder.logits.weight", [Z, prev], head.w);
      this.addTensor("encoder.logits.bias", [Z], head.b);
      this.enc.push(head);
    } else {
      // One [2Z, H] head: rows 0..Z-1 give mu, rows Z..2Z-1 give logvar ([out, in] layout makes
      // each a contiguous block, exposed as two nn.Linear-style tensors).
      const head = linear(prev, 2 * Z, ACT.identity);
      this.addTensor("encoder.mu.weight", [Z, prev], head.w);
      this.addTensor("encoder.logvar.weight", [Z, prev], head.w + Z * prev);
      this.addTensor("encoder.mu.bias", [Z], head.b);
      this.addTensor("encoder.logvar.bias", [Z], head.b + Z);
      this.enc.push(head);
    }
    const top = hidden.length ? hidden[hidden.length - 1] : D;
    const fc = this.config.flow;
    let maskOff = 0;
    const masks: { l: Layer; mask: Float32Array }[] = []; // written into the mask block below
    if (fc) {
      const T = fc.length;
      const H = fc.type === "iaf" ? fc.hidden : 0;
      const P = fc.type === "planar" ? T * (2 * Z + 1) : fc.type === "radial" ? T * (Z + 2) : T * H;
      const head = linear(top, P, ACT.identity);
      this.addTensor("encoder.flow.weight", [P, top], head.w);
      this.addTensor("encoder.flow.bias", [P], head.b);
      const iaf: Layer[] = [];
      for (let t = 0; t < (fc.type === "iaf" ? T : 0); t++) {
        const made = madeMasks(Z, H, t);
        const l1: Layer = { ...linear(Z, H, ACT.identity), mask: maskOff }; // relu after the context (engine)
        maskOff += H * Z;
        const l2: Layer = { ...linear(H, 2 * Z, ACT.identity), mask: maskOff };
        maskOff += 2 * Z * H;
        this.addTensor(`encoder.iaf.${t}.hidden.weight`, [H, Z], l1.w);
        this.addTensor(`encoder.iaf.${t}.hidden.bias`, [H], l1.b);
        this.addTensor(`encoder.iaf.${t}.out.weight`, [2 * Z, H], l2.w);
        this.addTensor(`encoder.iaf.${t}.out.bias`, [2 * Z], l2.b);
        masks.push({ l: l1, mask: made.hidden }, { l: l2, mask: made.out });
        iaf.push(l1, l2);
      }
      this.flow = { kind: fc.type, T, P, H, head, iaf };
    }
    prev = Z;
    decoderHidden.forEach((h, i) => {
      const l = linear(prev, h, act);
      this.addTensor(`decoder.hidden.${i}.weight`, [h, prev], l.w);
      this.addTensor(`decoder.hidden.${i}.bias`, [h], l.b);
      this.dec.push(l);
      prev = h;
    });
    const out = linear(prev, D, ACT.identity);
    this.addTensor("decoder.out.weight", [D, prev], out.w);
    this.addTensor("decoder.out.bias", [D], out.b);
    this.dec.push(out);
    if (this.config.likelihood.type === "gaussian" && this.config.likelihood.learnVariance) {
      this.decLogvar = off;
      this.addTensor("decoder.logvar", [D], off);
      off += D;
    }
    this.nParams = off;
    this.flopsPerRow = 2 * this.layers().reduce((a, l) => a + l.inDim * l.outDim, 0);
    this.pParams = this.arena.floats(off);
    this.pGrads = this.arena.floats(off);
    this.pM = this.arena.floats(off);
    this.pV = this.arena.floats(off);
    const pPacked = this.arena.floats(packedOff);
    const pMask = maskOff ? this.arena.floats(maskOff) : 0;
    this.pCtrl = this.arena.floats(CTRL_BYTES / 4);
    const slots = layoutSlots(this.enc.length, this.dec.length, this.threads, iafSteps({ flow: this.flow }));
    const pLayout = this.arena.floats(slots);
    this.paramsEnd = this.arena.end;
    ensureMemory(this.rt, this.paramsEnd);
    this.ctrl = ctrlViews(this.rt.memory.buffer, this.pCtrl);
    for (const { l, mask } of masks) this.f32(pMask + 4 * l.mask!, mask.length).set(mask);
    const lik = this.config.likelihood;
    const lat = this.config.latent;
    this.plan = {
      D, Z, enc: this.enc, dec: this.dec, flow: this.flow, pMask,
      latent: lat.type === "categorical" ? { type: "categorical", N: lat.variables, C: lat.categories } : { type: "gaussian" },
      likelihood: lik.type === "bernoulli" ? { type: "bernoulli" } : { type: "gaussian", logVar: Math.log(lik.variance) },
      decLogvar: this.decLogvar, nParams: off, pParams: this.pParams, pGrads: this.pGrads,
      pM: this.pM, pV: this.pV, pPacked, pLayout, layoutSlots: slots,
    };
  }

  /**
   * Re-packs every layer's forward panels from the parameters: after anything but the Adam step
   * (which re-packs what it updates) changed a weight.
   */
  private repack(): void {
    // masked (IAF) weights are kept exactly 0 where masked: Adam never moves them (their gradient is masked too)
    for (const l of this.flow?.iaf ?? []) this.k.maskMul(this.pParams + 4 * l.w, this.plan.pMask + 4 * l.mask!, 0, l.inDim * l.outDim);
    for (const l of this.layers()) packLayer(this.k, this.plan, l, 0, l.outDim);
  }

  /** Every dense layer, in parameter order. */
  private layers(): Layer[] {
    return [...this.enc, ...(this.flow ? [this.flow.head, ...this.flow.iaf] : []), ...this.dec];
  }

  /** PyTorch nn.Linear's default initialisation: weight and bias ~ U(-1/√in, 1/√in). */
  private initParameters(): void {
    const rng = new SeededRandom(this.config.seed, 1);
    const p = this.f32(this.pParams, this.nParams);
    for (const l of this.layers()) {
      // weight then bias, one stream: (2·rng.next() − 1)/√in each, drawn in WebAssembly
      const n = l.inDim * l.outDim + l.outDim;
      this.k.initUniform(this.pParams + 4 * l.w, n, rng.state32, 1 / Math.sqrt(l.inDim));
      rng.advance(n);
    }
    if (this.decLogvar >= 0) {
      p.fill(Math.log((this.config.likelihood as { variance: number }).variance), this.decLogvar, this.decLogvar + this.config.inputDim);
    }
    if (this.flow?.kind === "iaf") {
      // s's bias starts at 1: σ(s) ≈ 0.73, each step close to the identity (Kingma et al. 2016, sec. 4)
      for (let t = 1; t < this.flow.iaf.length; t += 2) p.fill(1, this.flow.iaf[t].b + this.config.latentDim, this.flow.iaf[t].b + 2 * this.config.latentDim);
    }
    // Adam's m and v start at 0: a fresh memory is zero-filled
  }

  /** Lays out activations for up to B examples × K samples (re-lays only when outgrown). */
  private workspace(B: number, K: number): Workspace {
    const R = B * K;
    if (this.ws && this.ws.B >= B && this.ws.R >= R) return this.ws;
    const Bc = Math.max(B, this.ws?.B ?? 0);
    const Rc = Math.max(R, this.ws?.R ?? 0);
    const { inputDim: D, latentDim: Z } = this.config;
    const a = this.arena;
    a.reset(this.paramsEnd);
    const f = this.flow;
    // (IAF's path derivative keeps H f64 per row in the scratch: within 8·H floats)
    const maxDim = Math.max(D, 2 * Z, ...this.config.hidden, ...this.config.decoderHidden, f?.P ?? 0, f?.H ?? 0);
    const T = iafSteps({ flow: f });
    const ws: Workspace = {
      B: Bc, R: Rc,
      scratch: Array.from({ length: this.threads }, () => a.floats(scratchFloats(Math.max(maxDim, Rc)))),
      x: a.floats(Bc * D),
      enc: this.enc.slice(0, -1).map((l) => a.floats(Bc * l.outDim)),
      dEnc: this.enc.slice(0, -1).map((l) => a.floats(Bc * l.outDim)),
      h: a.floats(Bc * 2 * Z),
      dh: a.floats(Bc * 2 * Z),
      eps: a.floats(Rc * Z),
      z: a.floats(Rc * Z),
      zs: a.floats(Rc * Z),
      dz: a.floats(Rc * Z),
      dec: this.dec.slice(0, -1).map((l) => a.floats(Rc * l.outDim)),
      dDec: this.dec.slice(0, -1).map((l) => a.floats(Rc * l.outDim)),
      out: a.floats(Rc * D),
      dOut: a.floats(Rc * D),
      logpx: a.floats(Rc), logpz: a.floats(Rc), logqz: a.floats(Rc), logw: a.floats(Rc),
      c: a.floats(Rc), r: a.floats(Rc), wt: a.floats(Rc),
      kl: a.floats(Bc), bound: a.floats(Bc),
      hf: f ? a.floats(Bc * f.P) : 0, dhf: f ? a.floats(Bc * f.P) : 0,
      zf: f ? a.floats(f.T * Rc * Z) : 0, logdet: f ? a.floats(Rc) : 0,
      iafHid: Array.from({ length: T }, () => a.floats(Rc * f!.H)), iafOut: Array.from({ length: T }, () => a.floats(Rc * 2 * Z)),
      dIafHid: Array.from({ length: T }, () => a.floats(Rc * f!.H)), dIafOut: Array.from({ length: T }, () => a.floats(Rc * 2 * Z)),
      fv: T ? a.floats(Rc * Z) : 0, ones: T ? a.floats(Rc) : 0, zeros: T ? a.floats(Rc) : 0,
      // the sparse first layer needs SIMD (gemmSparseA); the scalar build always runs it dense
      xs: this.k.simdLevel() > 0 ? a.floats(2 * Bc * (D + 1)) : 0,
    };
    this.grow(a.end);
    writeLayout(layoutView(this.rt.memory.buffer, this.plan), ws);
    this.ws = ws;
    return ws;
  }

  /**
   * Grows the memory to `bytes`. Growing a non-shared memory detaches its old ArrayBuffer, so
   * the control-block views are re-made here, the one place memory grows after layout.
   */
  private grow(bytes: number): void {
    ensureMemory(this.rt, bytes);
    this.ctrl = ctrlViews(this.rt.memory.buffer, this.pCtrl);
  }

  private f32(bytePtr: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, bytePtr, n);
  }

  private checkAlive(fn: string): void {
    if (this.disposed) throw new Error(`${fn}: this VAE was disposed; create or load a new one`);
  }

  // ---------------------------------------------------------------- passes

  /**
   * Runs one engine command (arguments already in the control block): inline on one thread, or
   * shared with the pool's workers. The arithmetic is the same either way.
   */
  private dispatch(ws: Workspace, cmd: number, threads = this.threads): void {
    const i = this.ctrl.i;
    // Work too small to pay for waking the workers (~20–40 µs a round trip) runs inline; the
    // split never changes the numbers.
    if (threads > 1 && cmd !== CMD.faultThrow && cmd !== CMD.faultExit) {
      const rows = i[CTRL.B] * (cmd === CMD.encode ? 1 : Math.max(1, i[CTRL.K]));
      if (rows * this.flopsPerRow < SMALL_WORK_FLOPS) threads = 1;
    }
    i[CTRL.cmd] = cmd;
    if (this.pool && threads > 1) this.pool.run(this.k, this.plan, ws, threads); // (writes the active count)
    else runShare(this.k, this.plan, ws, this.ctrl, 0, 1);
  }

  /** Forward over B examples in ws.x with K samples; eps drawn at (seed, stream, step) unless drawEps is false. */
  private forward(ws: Workspace, B: number, K: number, est: Estimator, o: {
    drawEps: boolean; seed?: number; epsStream?: number; step?: number; rowOffset?: number;
    binarize?: boolean; binStream?: number; threads?: number; tau?: number; hard?: boolean; fuse?: number;
  }): void {
    const i = this.ctrl.i;
    i[CTRL.fuse] = o.fuse ?? FUSE.none;
    this.ctrl.f[CTRL_F64.tau] = o.tau ?? 1;
    i[CTRL.hard] = o.hard ? 1 : 0;
    i[CTRL.B] = B; i[CTRL.K] = K;
    const f = stepFields(est);
    i[CTRL.needKL] = f.needKL;
    i[CTRL.iw] = f.iw;
    i[CTRL.drawEps] = o.drawEps ? 1 : 0;
    i[CTRL.seed] = o.seed ?? this.config.seed;
    i[CTRL.epsStream] = o.epsStream ?? STREAM.eps;
    i[CTRL.step] = o.step ?? 0;
    i[CTRL.rowOffset] = o.rowOffset ?? 0;
    i[CTRL.k0] = 0;
    i[CTRL.binarize] = o.binarize ? 1 : 0;
    i[CTRL.binStream] = o.binStream ?? STREAM.binarize;
    this.dispatch(ws, CMD.forward, o.threads);
  }

  /**
   * Backward for the weights the estimator wrote: the row-wise chain, then every parameter
   * gradient, then (adam = true, arguments already in the control block) the Adam update.
   */
  private backward(ws: Workspace, B: number, K: number, est: Estimator, threads?: number, adam = false, rowsDone = false): void {
    this.backwardArgs(B, K, est, adam);
    if (!rowsDone) this.dispatch(ws, CMD.backward, threads);
    this.dispatch(ws, CMD.weights, threads);
  }

  private backwardArgs(B: number, K: number, est: Estimator, adam: boolean): void {
    const i = this.ctrl.i;
    i[CTRL.B] = B; i[CTRL.K] = K;
    const f = stepFields(est);
    i[CTRL.gradMode] = f.gradMode;
    i[CTRL.useR] = f.useR;
    i[CTRL.adam] = adam ? 1 : 0;
    this.ctrl.f[CTRL_F64.klScale] = 1 / B;
  }

  /** The estimator's view of one step's rows; its subnormal row weights then flushed to 0 (flushSubnormal). */
  private weigh(ws: Workspace, B: number, K: number, est: Estimator): number {
    const R = K * B;
    const c = this.f32(ws.c, R), r = this.f32(ws.r, R);
    const objective = est.weigh({
      K, B,
      logpx: this.f32(ws.logpx, R), logw: this.f32(ws.logw, R), kl: this.f32(ws.kl, B),
      wt: this.f32(ws.wt, R), bound: this.f32(ws.bound, B),
      c, r,
    });
    flushSubnormal(c, R);
    if (est.usesEncoderFactor) flushSubnormal(r, R);
    return objective;
  }

  /** Copies rows of `m` (by index list or a contiguous range) into ws.x. */
  private loadBatch(ws: Workspace, m: Matrix, idx: Uint32Array | null, start: number, B: number): void {
    const D = this.config.inputDim;
    const x = this.f32(ws.x, B * D);
    if (idx) {
      for (let b = 0; b < B; b++) {
        const i = idx[start + b];
        x.set(m.data.subarray(i * D, (i + 1) * D), b * D);
      }
    } else {
      x.set(m.data.subarray(start * D, (start + B) * D));
    }
  }

  // ---------------------------------------------------------------- public API

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.nParams;
  }

  /** Optimiser steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Names and shapes of every parameter tensor, in storage order (see README for the PyTorch mapping). */
  get parameterShapes(): Record<string, number[]> {
    return Object.fromEntries(this.tensors.map((t) => [t.name, [...t.shape]]));
  }

  /** Copies of every parameter tensor by name (PyTorch nn.Linear layout: weight [out, in]). */
  stateDict(): Record<string, Float32Array> {
    this.checkAlive("VAE.stateDict");
    const p = this.f32(this.pParams, this.nParams);
    return Object.fromEntries(this.tensors.map((t) => [t.name, p.slice(t.offset, t.offset + t.size)]));
  }

  /** Sets parameters by name; every given tensor must match its shape. Others keep their values. */
  loadStateDict(dict: Record<string, ArrayLike<number>>, opts: { strict?: boolean } = {}): void {
    const fn = "VAE.loadStateDict";
    this.checkAlive(fn);
    if (!dict || typeof dict !== "object") fail(fn, "dict", "an object of name → Float32Array", dict);
    const byName = new Map(this.tensors.map((t) => [t.name, t]));
    for (const name of Object.keys(dict)) {
      if (!byName.has(name)) fail(fn, `dict['${name}']`, `one of the model's tensors (${[...byName.keys()].join(", ")})`, name);
    }
    if (opts.strict) {
      for (const name of byName.keys()) if (!(name in dict)) fail(fn, "dict", `every tensor of the model (missing '${name}')`, Object.keys(dict));
    }
    const p = this.f32(this.pParams, this.nParams);
    for (const [name, values] of Object.entries(dict)) {
      const t = byName.get(name)!;
      if (!values || typeof (values as ArrayLike<number>).length !== "number" || values.length !== t.size) {
        fail(fn, `dict['${name}']`, `${t.size} values (shape [${t.shape.join(", ")}])`, values);
      }
      for (let i = 0; i < t.size; i++) {
        if (!Number.isFinite(values[i])) fail(fn, `dict['${name}'][${i}]`, "a finite number", values[i]);
      }
      p.set(values, t.offset);
    }
    this.repack();
  }

  /**
   * Sets the decoder's output bias from the data mean, so training starts at the marginal:
   * logit(mean) for a Bernoulli decoder (mean clipped to [1e-3, 1 − 1e-3]), the mean for a
   * Gaussian one. The IWAE paper's initialisation.
   */
  initializeOutputBias(x: MatrixLike): void {
    const fn = "VAE.initializeOutputBias";
    this.checkAlive(fn);
    const m = this.inputMatrix(fn, x);
    const D = this.config.inputDim;
    const mean = new Float64Array(D);
    for (let i = 0; i < m.rows; i++) for (let d = 0; d < D; d++) mean[d] += m.data[i * D + d];
    const out = this.dec[this.dec.length - 1];
    const bias = this.f32(this.pParams + 4 * out.b, D);
    for (let d = 0; d < D; d++) {
      const p = mean[d] / m.rows;
      if (this.config.likelihood.type === "bernoulli") {
        const q = Math.min(Math.max(p, 1e-3), 1 - 1e-3);
        bias[d] = Math.log(q / (1 - q));
      } else {
        bias[d] = p;
      }
    }
  }

  /**
   * mu and logvar of q(z|x) for every row of x ([N, D] → two [N, Z] arrays). With a flow, of the
   * base distribution q_0(z_0|x) (the flow then moves the sample; see reconstruct).
   */
  encode(x: MatrixLike): { mu: Float32Array; logvar: Float32Array } {
    const fn = "VAE.encode";
    this.checkAlive(fn);
    this.needGaussian(fn, "; use latentProbs(x) for q(y|x)");
    const m = this.inputMatrix(fn, x);
    const Z = this.config.latentDim;
    const mu = new Float32Array(m.rows * Z);
    const logvar = new Float32Array(m.rows * Z);
    this.forEachHead(m, 2 * Z, (h, s, B) => {
      for (let b = 0; b < B; b++) {
        mu.set(h.subarray(b * 2 * Z, b * 2 * Z + Z), (s + b) * Z);
        logvar.set(h.subarray(b * 2 * Z + Z, (b + 1) * 2 * Z), (s + b) * Z);
      }
    });
    return { mu, logvar };
  }

  /** Runs the encoder over x in chunks; `use` gets each chunk's head outputs [B, width] and its first row. */
  private forEachHead(m: Matrix, width: number, use: (h: Float32Array, s: number, B: number) => void): void {
    for (let s = 0; s < m.rows; s += DEFAULT_CHUNK) {
      const B = Math.min(DEFAULT_CHUNK, m.rows - s);
      const ws = this.workspace(B, 1);
      this.loadBatch(ws, m, null, s, B);
      this.encodeBatch(ws, B);
      use(this.f32(ws.h, B * width), s, B);
    }
  }

  /** Throws for a categorical latent, where `fn` has no meaning. */
  private needGaussian(fn: string, hint = ""): void {
    if (this.config.latent.type === "categorical") {
      throw new Error(`${fn}: this model's latent is categorical (Gumbel-softmax); ${fn} needs a Gaussian latent${hint}`);
    }
  }

  /**
   * Categorical latent: q(y|x) for every row of x, [N, variables·categories], each variable's
   * categories summing to 1 (softmax of the encoder's logits).
   */
  latentProbs(x: MatrixLike): Float32Array {
    const fn = "VAE.latentProbs";
    this.checkAlive(fn);
    if (this.config.latent.type !== "categorical") fail(fn, "this model", "a categorical latent (use encode for a Gaussian one)", "gaussian");
    const { categories: C } = this.config.latent;
    const m = this.inputMatrix(fn, x);
    const Z = this.config.latentDim;
    const out = new Float32Array(m.rows * Z);
    this.forEachHead(m, Z, (h, s, B) => {
      for (let g = 0; g < B * Z; g += C) {
        let mx = -Infinity, sum = 0;
        for (let c = 0; c < C; c++) mx = Math.max(mx, h[g + c]);
        for (let c = 0; c < C; c++) sum += Math.exp(h[g + c] - mx);
        for (let c = 0; c < C; c++) out[s * Z + g + c] = Math.exp(h[g + c] - mx) / sum;
      }
    });
    return out;
  }

  /** One-hot codes [n, Z] from category indices (categorical latent). */
  private oneHot(pick: (row: number, variable: number) => number, n: number): Float32Array {
    const { variables: N, categories: C } = this.config.latent as { variables: number; categories: number };
    const z = new Float32Array(n * N * C);
    for (let r = 0; r < n; r++) for (let v = 0; v < N; v++) z[(r * N + v) * C + pick(r, v)] = 1;
    return z;
  }

  /**
   * Decoder output for every row of z ([N, Z] → [N, D]): Bernoulli probabilities
   * (sigmoid of the logits) or Gaussian means.
   */
  decode(z: MatrixLike): Float32Array {
    const fn = "VAE.decode";
    this.checkAlive(fn);
    const m = toMatrix(fn, "z", z, this.config.latentDim);
    const D = this.config.inputDim;
    const Z = this.config.latentDim;
    const out = new Float32Array(m.rows * D);
    for (let s = 0; s < m.rows; s += DEFAULT_CHUNK) {
      const R = Math.min(DEFAULT_CHUNK, m.rows - s);
      const ws = this.workspace(1, R);
      this.f32(ws.z, R * Z).set(m.data.subarray(s * Z, (s + R) * Z));
      decodeRows(this.k, this.plan, ws, 0, R, ws.scratch[0]);
      const y = this.f32(ws.out, R * D);
      if (this.config.likelihood.type === "bernoulli") {
        for (let i = 0; i < R * D; i++) out[s * D + i] = 1 / (1 + Math.exp(-y[i]));
      } else {
        out.set(y, s * D);
      }
    }
    return out;
  }

  /** Reconstructions of x: decode(mu(x)) by default, or decode of one sampled z when sample is true. */
  reconstruct(x: MatrixLike, opts: { sample?: boolean; seed?: number } = {}): Float32Array {
    const fn = "VAE.reconstruct";
    checkKeys(fn, "options", opts, ["sample", "seed"]);
    if (this.config.latent.type === "categorical") {
      // the mode of q(y|x), or an exact sample by the Gumbel-max trick
      const { categories: C } = this.config.latent;
      const q = this.latentProbs(x);
      const rows = q.length / this.config.latentDim, N = this.config.latentDim / C;
      let g: Float32Array | null = null;
      if (checkBool(fn, "options.sample", opts.sample ?? false)) {
        const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
        const ws = this.workspace(rows, 1);
        this.k.gumbelNoise(ws.eps, seed, STREAM.prior, 0, 1, this.config.latentDim, 0, rows, 0, 0);
        g = this.f32(ws.eps, rows * this.config.latentDim).slice();
      }
      return this.decode(this.oneHot((r, v) => {
        let best = 0, arg = 0;
        for (let c = 0; c < C; c++) {
          const i = (r * N + v) * C + c;
          const score = g ? Math.log(q[i]) + g[i] : q[i];
          if (c === 0 || score > best) [best, arg] = [score, c];
        }
        return arg;
      }, rows));
    }
    if (this.config.flow) return this.reconstructThroughFlow(fn, x, opts);
    const { mu, logvar } = this.encode(x);
    if (!checkBool(fn, "options.sample", opts.sample ?? false)) return this.decode(mu);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const eps = this.normals(mu.length / this.config.latentDim, seed, STREAM.prior);
    for (let i = 0; i < mu.length; i++) mu[i] += Math.exp(Math.min(Math.max(logvar[i], -LOGVAR_MAX), LOGVAR_MAX) / 2) * eps[i];
    return this.decode(mu);
  }

  /** reconstruct with a flow: decode z_T = f(mu) (eps = 0), or of one sample z_T = f(mu + σ·eps). */
  private reconstructThroughFlow(fn: string, x: MatrixLike, opts: { sample?: boolean; seed?: number }): Float32Array {
    this.checkAlive(fn);
    const m = this.inputMatrix(fn, x);
    const sample = checkBool(fn, "options.sample", opts.sample ?? false);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const { inputDim: D, latentDim: Z } = this.config;
    const out = new Float32Array(m.rows * D);
    const est = makeEstimator("td");
    for (let s = 0; s < m.rows; s += DEFAULT_CHUNK) {
      const B = Math.min(DEFAULT_CHUNK, m.rows - s);
      const ws = this.workspace(B, 1);
      this.loadBatch(ws, m, null, s, B);
      // the same keys as reconstruct without a flow: (seed, prior stream, example index)
      if (sample) this.k.randomNormal(ws.eps, seed, STREAM.prior, 0, 1, Z, 0, B, s, 0);
      else this.f32(ws.eps, B * Z).fill(0);
      this.forward(ws, B, 1, est, { drawEps: false }); // ws.out: probabilities (Bernoulli) or means
      out.set(this.f32(ws.out, B * D), s * D);
    }
    return out;
  }

  /** n samples from the model: z ~ N(0, I), decoded (probabilities or means), [n, D]. */
  sample(n: number, opts: { seed?: number } = {}): Float32Array {
    const fn = "VAE.sample";
    this.checkAlive(fn);
    checkInt(fn, "n", n, 1);
    checkKeys(fn, "options", opts, ["seed"]);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    if (this.config.latent.type === "categorical") {
      // y ~ the uniform prior: each variable's category uniformly at random
      const rng = new SeededRandom(seed, STREAM.prior);
      const C = this.config.latent.categories;
      return this.decode(this.oneHot(() => Math.floor(rng.next() * C), n));
    }
    return this.decode(this.normals(n, seed, STREAM.prior));
  }

  /** n·Z standard normals from the counter-based RNG (row b = example). */
  private normals(n: number, seed: number, stream: number): Float32Array {
    const Z = this.config.latentDim;
    const ws = this.workspace(1, n);
    this.k.randomNormal(ws.eps, seed, stream, 0, 1, Z, 0, n, 0, 0);
    return this.f32(ws.eps, n * Z).slice();
  }

  /**
   * Mean ELBO per example (nats; higher is better) of x: analytic KL and one sample by default,
   * as the PyTorch example's test loss (which is its negative). With estimator 'td'/'stl' the
   * Monte Carlo ELBO mean_k log w; with 'iwae' the IWAE bound. Noise is keyed by `seed` (default:
   * the model's) and each example's index, so `batchSize` does not change the result.
   */
  elbo(x: MatrixLike, opts: ElboOptions = {}): number {
    const fn = "VAE.elbo";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ELBO_KEYS);
    const m = this.inputMatrix(fn, x);
    const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
    const est = resolveEstimator(fn, "options.estimator", opts.estimator ?? this.defaultEstimator);
    this.checkLatentEstimator(fn, "options.estimator", est);
    const binarize = checkBool(fn, "options.binarize", opts.binarize ?? false);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const chunk = checkInt(fn, "options.batchSize", opts.batchSize ?? Math.max(1, Math.floor(4 * DEFAULT_CHUNK / K)), 1);
    // a categorical latent is evaluated as the discrete model it is: exact categorical samples
    // (Gumbel-max, the hard one-hot) with the closed-form KL, whatever temperature it trained at
    const hard = this.config.latent.type === "categorical";
    const threads = this.callThreads(fn, opts.threads);
    let total = 0;
    for (let s = 0; s < m.rows; s += chunk) {
      const B = Math.min(chunk, m.rows - s);
      const ws = this.workspace(B, K);
      this.loadBatch(ws, m, null, s, B);
      // keyed by the example's index: the result does not depend on batchSize
      this.forward(ws, B, K, est, {
        drawEps: true, seed, epsStream: STREAM.evalEps, step: 0, rowOffset: s, binarize, binStream: STREAM.evalBinarize, threads, hard,
      });
      total += this.weigh(ws, B, K, est);
    }
    return total / m.rows;
  }

  /**
   * Importance-sampled log p(x) per example: log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x), with
   * K = `samples` (default 5000, the papers' test NLL is its negative). The encoder runs once per
   * example; samples are drawn and decoded in chunks of `sampleChunk` so memory stays bounded
   * (about `batchSize`·`sampleChunk` decoder rows at a time), and the log-sum-exp is accumulated
   * in f64. Noise is keyed by (seed, example index, sample index), so the result does not depend
   * on the chunk sizes. `binarize` draws one Bernoulli binarization of x (keyed by seed and the
   * example index) first. Also returns each estimate's standard error (delta method:
   * sqrt(Var(w)/K)/mean(w)).
   */
  logLikelihood(x: MatrixLike, opts: LogLikelihoodOptions = {}): LogLikelihoodResult {
    const fn = "VAE.logLikelihood";
    this.checkAlive(fn);
    this.needGaussian(fn);
    checkKeys(fn, "options", opts, ["samples", "batchSize", "sampleChunk", "seed", "binarize", "onProgress", "threads"]);
    const threads = this.callThreads(fn, opts.threads);
    const m = this.inputMatrix(fn, x);
    const K = checkInt(fn, "options.samples", opts.samples ?? 5000, 1, 1 << 24);
    const Kc = checkInt(fn, "options.sampleChunk", opts.sampleChunk ?? Math.min(K, 500), 1, 1 << 16);
    const Bc = checkInt(fn, "options.batchSize", opts.batchSize ?? Math.max(1, Math.floor(5000 / Math.min(K, Kc))), 1, 1 << 16);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const binarize = checkBool(fn, "options.binarize", opts.binarize ?? false);
    if (binarize && this.config.likelihood.type !== "bernoulli") fail(fn, "options.binarize", "false for a Gaussian likelihood", binarize);
    if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") fail(fn, "options.onProgress", "a function", opts.onProgress);
    const perExample = new Float64Array(m.rows), standardError = new Float64Array(m.rows);
    for (let s = 0; s < m.rows; s += Bc) {
      const B = Math.min(Bc, m.rows - s);
      const kc = Math.min(Kc, K);
      const ws = this.workspace(B, kc);
      this.loadBatch(ws, m, null, s, B);
      const ci = this.ctrl.i;
      ci[CTRL.B] = B; ci[CTRL.binarize] = binarize ? 1 : 0; ci[CTRL.seed] = seed; ci[CTRL.step] = 0;
      ci[CTRL.binStream] = STREAM.evalBinarize; ci[CTRL.rowOffset] = s;
      this.dispatch(ws, CMD.encode, threads);
      // streaming log-sum-exp per example: running max, Σ exp(lw - max), Σ exp(2(lw - max))
      const mx = new Float64Array(B).fill(-Infinity), s1 = new Float64Array(B), s2 = new Float64Array(B);
      for (let k0 = 0; k0 < K; k0 += kc) {
        const kn = Math.min(kc, K - k0);
        ci[CTRL.K] = kn; ci[CTRL.k0] = k0; ci[CTRL.drawEps] = 1; ci[CTRL.epsStream] = STREAM.evalEps;
        this.dispatch(ws, CMD.sample, threads);
        const lw = this.f32(ws.logw, kn * B);
        for (let b = 0; b < B; b++) {
          let cm = mx[b];
          for (let j = 0; j < kn; j++) cm = Math.max(cm, lw[b * kn + j]);
          if (cm === -Infinity) continue;
          const scale = Math.exp(mx[b] - cm); // 0 on the first chunk
          let a1 = s1[b] * scale, a2 = s2[b] * scale * scale;
          for (let j = 0; j < kn; j++) {
            const e = Math.exp(lw[b * kn + j] - cm);
            a1 += e;
            a2 += e * e;
          }
          mx[b] = cm; s1[b] = a1; s2[b] = a2;
        }
      }
      for (let b = 0; b < B; b++) {
        perExample[s + b] = mx[b] + Math.log(s1[b] / K);
        const mean = s1[b] / K, meanSq = s2[b] / K;
        standardError[s + b] = Math.sqrt(Math.max(meanSq - mean * mean, 0) / K) / mean;
      }
      opts.onProgress?.(s + B, m.rows);
    }
    let sum = 0;
    for (const v of perExample) sum += v;
    if (!Number.isFinite(sum)) throw new Error(`${fn}: the estimate is ${sum}; a decoder output or log-weight is not finite`);
    return { mean: sum / m.rows, perExample, standardError, samples: K };
  }

  /** Mean IWAE bound L_K = E log (1/K) Σ_k w_k per example (nats); L_1 is the ELBO. */
  iwaeBound(x: MatrixLike, opts: Omit<LogLikelihoodOptions, "onProgress"> & { samples: number }): number {
    if (!opts || typeof opts.samples !== "number") fail("VAE.iwaeBound", "options.samples", "the number of importance samples K", opts?.samples);
    return this.logLikelihood(x, opts).mean;
  }

  /**
   * Active latent units (Burda et al. 2016, sec. 5.2): unit j is active when
   * Cov_x(E_{q(z|x)}[z_j]) = Var_x(mu_j(x)) exceeds `threshold` (default 1e-2).
   */
  activeUnits(x: MatrixLike, opts: { threshold?: number } = {}): { count: number; variances: Float64Array } {
    const fn = "VAE.activeUnits";
    this.needGaussian(fn);
    checkKeys(fn, "options", opts, ["threshold"]);
    const threshold = checkNumber(fn, "options.threshold", opts.threshold ?? 1e-2, { min: 0 });
    const { mu } = this.encode(x);
    const Z = this.config.latentDim, n = mu.length / Z;
    const mean = new Float64Array(Z), variances = new Float64Array(Z);
    for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) mean[j] += mu[i * Z + j] / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) variances[j] += (mu[i * Z + j] - mean[j]) ** 2 / n;
    return { count: variances.reduce((c, v) => c + (v > threshold ? 1 : 0), 0), variances };
  }

  /** Encoder over the B examples in ws.x (all threads). */
  private encodeBatch(ws: Workspace, B: number): void {
    const ci = this.ctrl.i;
    ci[CTRL.B] = B; ci[CTRL.binarize] = 0;
    this.dispatch(ws, CMD.encode);
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
    const fn = "VAE.lossAndGrads";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ["estimator", "samples", "eps", "seed", "step", "temperature", "straightThrough"]);
    const m = this.inputMatrix(fn, x);
    const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
    const est = resolveEstimator(fn, "options.estimator", opts.estimator ?? this.defaultEstimator);
    this.checkLatentEstimator(fn, "options.estimator", est);
    const relax = this.relaxationOptions(fn, opts, false);
    const B = m.rows;
    const Z = this.config.latentDim;
    const ws = this.workspace(B, K);
    this.loadBatch(ws, m, null, 0, B);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const step = checkInt(fn, "options.step", opts.step ?? 0, 0, 0xffffffff);
    if (opts.eps !== undefined) {
      const e = toMatrix(fn, "options.eps", opts.eps, Z);
      if (e.rows !== K * B) fail(fn, "options.eps", `${K * B * Z} values ([rows=${B}, samples=${K}, latentDim=${Z}])`, opts.eps);
      this.f32(ws.eps, K * B * Z).set(e.data);
    }
    this.forward(ws, B, K, est, { drawEps: opts.eps === undefined, seed, step, tau: relax.temperature as number, hard: relax.hard });
    const objective = this.weigh(ws, B, K, est);
    if (!Number.isFinite(objective)) throw new Error(`${fn}: the objective is ${objective} at these parameters and inputs`);
    this.backward(ws, B, K, est);
    const g = this.f32(this.pGrads, this.nParams);
    const grads = Object.fromEntries(this.tensors.map((t) => [t.name, g.slice(t.offset, t.offset + t.size)]));
    return { loss: -objective / B, grads };
  }

  /**
   * Gradient statistics of several estimators at the current parameters (nothing is updated).
   * For draw d = 0…draws−1 every estimator sees the SAME noise (the RNG at step d), so their
   * differences are paired. Per parameter group (each tensor, plus 'encoder', 'decoder' and
   * 'all'): the norm of the mean gradient, the trace of its covariance, the signal-to-noise
   * ratio ‖E g‖/√tr Var g, the mean over parameters of |E g_i|/sd(g_i), and a paired t-statistic
   * against the reference estimator (the first) for "same expectation": the mean over draws of
   * u = Σ_i (g_i − g_ref,i)·s_i, s a fixed random ±1 direction, over its standard error
   * (≈ N(0, 1) when the expectations agree). Moments are accumulated in f64 in WebAssembly.
   */
  gradientStats(x: MatrixLike, opts: GradientStatsOptions = {}): GradientStats {
    const fn = "VAE.gradientStats";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ["estimators", "draws", "samples", "seed"]);
    const m = this.inputMatrix(fn, x);
    const names = opts.estimators ?? ["td", "stl"];
    if (!Array.isArray(names) || names.length === 0) fail(fn, "options.estimators", "a non-empty array of estimator names", names);
    const ests = names.map((e, i) => resolveEstimator(fn, `options.estimators[${i}]`, e));
    ests.forEach((e, i) => this.checkLatentEstimator(fn, `options.estimators[${i}]`, e));
    const N = checkInt(fn, "options.draws", opts.draws ?? 100, 2, 1 << 20);
    const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const B = m.rows, P = this.nParams;
    const ws = this.workspace(B, K);
    const mark = this.arena.end;
    try {
      const f64s = (n: number) => this.arena.floats(2 * n); // byte pointer to n f64
      const acc = ests.map(() => ({ sum: f64s(P), sq: f64s(P), dsum: f64s(P), dsq: f64s(P) }));
      const pRef = this.arena.floats(P), pDir = this.arena.floats(P);
      this.grow(this.arena.end);
      const mem = () => this.rt.memory.buffer;
      new Uint8Array(mem(), acc[0].sum, this.arena.end - acc[0].sum).fill(0);
      const dir = new Float32Array(mem(), pDir, P);
      const rng = new SeededRandom(seed, 11);
      for (let i = 0; i < P; i++) dir[i] = rng.next() < 0.5 ? -1 : 1;
      // groups: each tensor's float range, and unions
      const groups: { name: string; ranges: [number, number][] }[] = this.tensors.map((t) => ({ name: t.name, ranges: [[t.offset, t.offset + t.size]] }));
      const encRanges = this.tensors.filter((t) => t.name.startsWith("encoder.")).map((t) => [t.offset, t.offset + t.size] as [number, number]);
      const decRanges = this.tensors.filter((t) => t.name.startsWith("decoder.")).map((t) => [t.offset, t.offset + t.size] as [number, number]);
      groups.push({ name: "encoder", ranges: encRanges }, { name: "decoder", ranges: decRanges }, { name: "all", ranges: [...encRanges, ...decRanges] });
      const proj = ests.map(() => this.tensors.map(() => new Float64Array(N))); // per tensor, per draw
      for (let d = 0; d < N; d++) {
        ests.forEach((est, e) => {
          this.loadBatch(ws, m, null, 0, B);
          this.forward(ws, B, K, est, { drawEps: true, seed, step: d });
          const objective = this.weigh(ws, B, K, est);
          if (!Number.isFinite(objective)) throw new Error(`${fn}: the objective is ${objective} at draw ${d} for '${est.name}'`);
          this.backward(ws, B, K, est);
          this.k.accumulateMoments(acc[e].sum, acc[e].sq, this.pGrads, 0, P);
          if (e === 0) {
            new Uint8Array(mem()).copyWithin(pRef, this.pGrads, this.pGrads + 4 * P);
          } else {
            this.tensors.forEach((t, ti) => {
              proj[e][ti][d] = this.k.accumulateDifference(acc[e].dsum, acc[e].dsq, this.pGrads, pRef, pDir, t.offset, t.offset + t.size);
            });
          }
        });
      }
      const out: GradientStats = { draws: N, samples: K, reference: ests[0].name, groups: groups.map((g) => g.name), estimators: {} };
      ests.forEach((est, e) => {
        const sum = new Float64Array(mem(), acc[e].sum, P), sq = new Float64Array(mem(), acc[e].sq, P);
        const perGroup: Record<string, GroupStats> = {};
        for (const g of groups) {
          let mean2 = 0, trace = 0, snrSum = 0, snrCount = 0;
          for (const [i0, i1] of g.ranges) {
            for (let i = i0; i < i1; i++) {
              const mu = sum[i] / N;
              const v = Math.max(0, (sq[i] - N * mu * mu) / (N - 1));
              mean2 += mu * mu;
              trace += v;
              if (v > 0) {
                snrSum += Math.abs(mu) / Math.sqrt(v);
                snrCount++;
              }
            }
          }
          // paired t-statistic of the projected difference to the reference
          let t = 0;
          if (e > 0) {
            const tensorIdx = g.ranges.map(([i0]) => this.tensors.findIndex((tt) => tt.offset === i0));
            let su = 0, su2 = 0;
            for (let d = 0; d < N; d++) {
              let u = 0;
              for (const ti of tensorIdx) u += proj[e][ti][d];
              su += u;
              su2 += u * u;
            }
            const mu = su / N, sd = Math.sqrt(Math.max(0, (su2 - N * mu * mu) / (N - 1)));
            t = sd > 0 ? mu / (sd / Math.sqrt(N)) : mu === 0 ? 0 : Infinity * Math.sign(mu);
          }
          perGroup[g.name] = {
            meanNorm: Math.sqrt(mean2), varianceTrace: trace, snr: trace > 0 ? Math.sqrt(mean2 / trace) : Infinity,
            meanSnr: snrCount ? snrSum / snrCount : NaN, t,
          };
        }
        out.estimators[est.name] = perGroup;
      });
      return out;
    } finally {
      this.arena.reset(mark);
    }
  }

  /** The noise ([N, K, Z], row n·K + k) that lossAndGrads / fit draw for N rows at (seed, step). */
  noise(rows: number, opts: { samples?: number; seed?: number; step?: number } = {}): Float32Array {
    const fn = "VAE.noise";
    this.checkAlive(fn);
    checkInt(fn, "rows", rows, 1);
    const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const step = checkInt(fn, "options.step", opts.step ?? 0, 0, 0xffffffff);
    const ws = this.workspace(rows, K);
    const draw = this.config.latent.type === "categorical" ? this.k.gumbelNoise : this.k.randomNormal; // Gumbel for a categorical latent
    draw(ws.eps, seed, STREAM.eps, step, K, this.config.latentDim, 0, rows, 0, 0);
    // (the same draws forward() makes chunk by chunk: keys depend only on the example and sample)
    return this.f32(ws.eps, K * rows * this.config.latentDim).slice();
  }

  /** Validates optimiser and estimator options shared by fit and trainStep. */
  private stepConfig(fn: string, o: StepOptions): StepConfig {
    const K = checkInt(fn, "options.samples", o.samples ?? 1, 1, 1 << 16);
    const betas = o.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) fail(fn, "options.betas", "a pair [β1, β2]", betas);
    const beta1 = checkNumber(fn, "options.betas[0]", betas[0], { min: 0, lt: 1 });
    const beta2 = checkNumber(fn, "options.betas[1]", betas[1], { min: 0, lt: 1 });
    const adamEps = checkNumber(fn, "options.adamEps", o.adamEps ?? 1e-8, { gt: 0 });
    const weightDecay = checkNumber(fn, "options.weightDecay", o.weightDecay ?? 0, { min: 0 });
    const est = resolveEstimator(fn, "options.estimator", o.estimator ?? this.defaultEstimator);
    const binarize = checkBool(fn, "options.binarize", o.binarize ?? false);
    if (binarize && this.config.likelihood.type !== "bernoulli") {
      fail(fn, "options.binarize", "false for a Gaussian likelihood (binarization makes Bernoulli data)", binarize);
    }
    const threads = this.callThreads(fn, (o as { threads?: unknown }).threads);
    this.checkLatentEstimator(fn, "options.estimator", est);
    const { temperature, hard } = this.relaxationOptions(fn, o, true);
    return { K, beta1, beta2, adamEps, weightDecay, est, binarize, threads, temperature, hard };
  }

  /** temperature and straightThrough: only for a categorical latent; a schedule only where allowed. */
  private relaxationOptions(fn: string, o: StepOptions, schedule: boolean): { temperature: StepConfig["temperature"]; hard: boolean } {
    const categorical = this.config.latent.type === "categorical";
    for (const key of ["temperature", "straightThrough"] as const) {
      if (o[key] !== undefined && !categorical) fail(fn, `options.${key}`, "nothing: it applies to a categorical latent only (VAE.create({latent: {type: 'categorical', …}}))", o[key]);
    }
    let temperature = o.temperature ?? 1;
    if (typeof temperature === "function") {
      if (!schedule) fail(fn, "options.temperature", "a number > 0 (schedules are for fit)", temperature);
    } else {
      temperature = checkNumber(fn, "options.temperature", temperature, { gt: 0 });
    }
    return { temperature, hard: checkBool(fn, "options.straightThrough", o.straightThrough ?? false) };
  }

  /** 'analytic', or 'td' with a flow (whose q has no closed-form KL). */
  get defaultEstimator(): EstimatorName {
    return this.config.flow ? "td" : "analytic";
  }

  /**
   * A categorical latent has no density at the relaxed sample here: only the analytic-KL
   * estimator. A flow: only total-derivative estimators without an analytic KL ('td', 'iwae').
   */
  private checkLatentEstimator(fn: string, arg: string, est: Estimator): void {
    const f = this.config.flow;
    const pathOk = f?.type === "iaf" && est.gradMode === GRAD.path; // IAF: stl, iwae-stl, dreg through its inverse
    if (f && !pathOk && (est.gradMode !== GRAD.total || est.analyticKL || est.usesEncoderFactor)) {
      const allowed = f.type === "iaf" ? "'td', 'iwae', 'stl', 'iwae-stl' or 'dreg'" : "'td' or 'iwae'";
      const why = est.analyticKL
        ? "the KL of a flow's q(z_T|x) to the prior has no closed form"
        : f.type === "iaf"
          ? `'${est.name}' needs ∇φ log q(z|x) at a fixed z, i.e. the flow's inverse as a function of its parameters, which this library does not compute`
          : `'${est.name}' needs ∂log q(z|x)/∂z at fixed encoder parameters, i.e. the flow's inverse at z_T (a ${f.type} flow has no closed-form inverse)`;
      fail(fn, arg, `${allowed} for a model with a ${f.type} flow: ${why}`, est.name);
    }
    if (this.config.latent.type === "categorical" && est.name !== "analytic") {
      fail(fn, arg, "'analytic' for a categorical latent (the relaxed ELBO with the closed-form KL to the uniform prior, as in " +
        "Jang et al. 2017); the other estimators need log q at the relaxed sample, which this library does not provide", est.name);
    }
  }

  /** The current temperature of a step config. */
  private tauAt(fn: string, cfg: StepConfig, epoch: number): number {
    const t = cfg.temperature;
    return typeof t === "function" ? checkNumber(fn, `options.temperature(${epoch}, ${this.steps})`, t(epoch, this.steps), { gt: 0 }) : t;
  }

  /**
   * One optimiser step on the B examples already in ws.x: binarize (if asked), draw eps at
   * (seed, step), forward, backward, Adam. Returns the summed objective; throws before the
   * update when it is not finite.
   */
  private step(fn: string, ws: Workspace, B: number, cfg: StepConfig, lr: number, where: string, tau = 1): number {
    // row-local weights: the backward rows run inside the forward dispatch (one barrier fewer)
    const fuse = stepFields(cfg.est).fuse;
    if (fuse) this.backwardArgs(B, cfg.K, cfg.est, true);
    this.forward(ws, B, cfg.K, cfg.est, { drawEps: true, step: this.steps, binarize: cfg.binarize, threads: cfg.threads, tau, hard: cfg.hard, fuse });
    const objective = this.weigh(ws, B, cfg.K, cfg.est);
    if (!Number.isFinite(objective)) {
      throw new Error(
        `${fn}: the loss became ${-objective} ${where}(optimiser step ${this.steps + 1}); ` +
        "the parameters are those of the last finite step. Try a lower learningRate, or check the data scale.");
    }
    const t = this.steps + 1;
    const f = this.ctrl.f;
    f[CTRL_F64.stepSize] = lr / (1 - Math.pow(cfg.beta1, t));
    f[CTRL_F64.invSqrtBc2] = 1 / Math.sqrt(1 - Math.pow(cfg.beta2, t));
    f[CTRL_F64.beta1] = cfg.beta1; f[CTRL_F64.beta2] = cfg.beta2; f[CTRL_F64.eps] = cfg.adamEps; f[CTRL_F64.weightDecay] = cfg.weightDecay;
    this.backward(ws, B, cfg.K, cfg.est, cfg.threads, true, fuse !== FUSE.none); // gradients and the Adam update
    this.steps = t;
    return objective;
  }

  /**
   * One Adam step on one batch (rows of x), for users who write their own training loop.
   * Returns the batch loss (negative objective per example) before the update. Noise and
   * binarization are keyed by the model's seed and step count, as in fit.
   */
  trainStep(x: MatrixLike, options: StepOptions & { learningRate?: number } = {}): number {
    const fn = "VAE.trainStep";
    this.checkAlive(fn);
    checkKeys(fn, "options", options, STEP_KEYS);
    // the batch's values are checked after the copy, by a vector scan in WebAssembly (a
    // JavaScript pass over 100×784 values cost ~0.15 ms, serial time in every step)
    const m = this.inputMatrix(fn, x, "x", true);
    const cfg = this.stepConfig(fn, options);
    const lr = checkNumber(fn, "options.learningRate", options.learningRate ?? 1e-3, { gt: 0 });
    const ws = this.workspace(m.rows, cfg.K);
    this.loadBatch(ws, m, null, 0, m.rows);
    const bad = this.k.firstInvalid(ws.x, m.data.length, this.config.likelihood.type === "bernoulli" ? 1 : 0);
    if (bad >= 0) invalidValue(fn, "x", m.data, m.cols, bad);
    return -this.step(fn, ws, m.rows, cfg, lr, "", this.tauAt(fn, cfg, 0)) / m.rows;
  }

  /**
   * Trains with Adam. Resolves with one record per epoch. Between steps it yields to the event
   * loop (so progress can render and `signal` can abort); an abort rejects with the signal's
   * reason and leaves the parameters of the last completed step in place. A non-finite loss
   * stops training before the update that would spread it, with an error saying what to try.
   */
  async fit(data: MatrixLike, options: FitOptions = {}): Promise<EpochRecord[]> {
    const fn = "VAE.fit";
    this.checkAlive(fn);
    checkKeys(fn, "options", options, FIT_KEYS);
    const m = this.inputMatrix(fn, data, "data");
    const epochs = checkInt(fn, "options.epochs", options.epochs ?? 10, 1);
    const batch = checkInt(fn, "options.batchSize", options.batchSize ?? 128, 1, 1 << 20);
    const lrOpt = options.learningRate ?? 1e-3;
    if (typeof lrOpt !== "function") checkNumber(fn, "options.learningRate", lrOpt, { gt: 0 });
    const cfg = this.stepConfig(fn, options);
    const shuffle = checkBool(fn, "options.shuffle", options.shuffle ?? true);
    const val = options.validationData !== undefined ? this.inputMatrix(fn, options.validationData, "options.validationData") : null;
    for (const cb of ["onProgress", "onEpochEnd"] as const) {
      if (options[cb] !== undefined && typeof options[cb] !== "function") fail(fn, `options.${cb}`, "a function", options[cb]);
    }
    const signal = options.signal;
    if (signal !== undefined && (typeof signal !== "object" || typeof signal.aborted !== "boolean")) {
      fail(fn, "options.signal", "an AbortSignal", signal);
    }
    signal?.throwIfAborted();
    let record: ((force: boolean) => void) | null = null;
    if (options.gradientStats !== undefined) {
      const g = options.gradientStats;
      checkKeys(fn, "options.gradientStats", g, ["every", "data", "onStats", "estimators", "draws", "samples", "seed"]);
      const every = checkInt(fn, "options.gradientStats.every", g.every, 1);
      if (typeof g.onStats !== "function") fail(fn, "options.gradientStats.onStats", "a function (step, stats) => void", g.onStats);
      const probe = g.data !== undefined ? this.inputMatrix(fn, g.data, "options.gradientStats.data")
        : { data: m.data.subarray(0, Math.min(100, m.rows) * m.cols), rows: Math.min(100, m.rows), cols: m.cols };
      const { every: _e, data: _d, onStats: _o, ...statsOpts } = g;
      record = (force) => {
        if (force || this.steps % every === 0) g.onStats(this.steps, this.gradientStats(probe, statsOpts));
      };
      record(true);
    }

    const stepsPerEpoch = Math.ceil(m.rows / batch);
    let ws = this.workspace(Math.min(batch, m.rows), cfg.K);
    const history: EpochRecord[] = [];
    let lastYield = performance.now();
    for (let epoch = 0; epoch < epochs; epoch++) {
      const t0 = performance.now();
      const order = shuffle ? new SeededRandom(this.config.seed ^ 0x5bd1e995, this.steps).permutation(m.rows) : null;
      let lossSum = 0;
      let seen = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        const B = Math.min(batch, m.rows - s * batch);
        const lr = typeof lrOpt === "function" ? checkNumber(fn, `options.learningRate(${epoch}, ${s})`, lrOpt(epoch, s), { gt: 0 }) : lrOpt;
        // re-fetched every step (free when unchanged): a callback may have used the model with a
        // bigger batch (encode, gradientStats…) and so re-laid the workspace
        ws = this.workspace(Math.min(batch, m.rows), cfg.K);
        this.loadBatch(ws, m, order, s * batch, B);
        lossSum -= this.step(fn, ws, B, cfg, lr, `at epoch ${epoch + 1}, step ${s + 1} `, this.tauAt(fn, cfg, epoch));
        seen += B;
        record?.(false);
        if (options.onProgress) {
          const dt = (performance.now() - t0) / 1000;
          options.onProgress({ epoch: epoch + 1, epochs, step: s + 1, stepsPerEpoch, loss: lossSum / seen, examplesPerSecond: seen / Math.max(dt, 1e-9) });
        }
        if (performance.now() - lastYield > 50) {
          await new Promise<void>((resolve) => setTimeout(resolve, 0));
          lastYield = performance.now();
          signal?.throwIfAborted();
        }
      }
      const rec: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, seconds: (performance.now() - t0) / 1000 };
      if (val) rec.validationLoss = -this.elbo(val);
      history.push(rec);
      options.onEpochEnd?.(rec);
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      signal?.throwIfAborted();
    }
    return history;
  }

  /** A per-call thread count: 1..this.threads (default all). */
  private callThreads(fn: string, t: unknown): number {
    if (t === undefined) return this.threads;
    return checkInt(fn, "options.threads", t, 1, this.threads);
  }

  /** @internal test hook: makes worker 1 throw ('throw') or exit ('exit') during a command. */
  _injectWorkerFault(kind: "throw" | "exit"): void {
    const ws = this.workspace(1, 1);
    this.dispatch(ws, kind === "throw" ? CMD.faultThrow : CMD.faultExit);
  }

  /** @internal commands the worker pool has run (tests) */
  get _poolRuns(): number {
    return this.pool?.runs ?? 0;
  }

  /**
   * @internal tests: how every later command is split between the threads (cumulative cuts,
   * cut[0] = 0, cut[T] = 1), instead of the pool's balancer; null restores it.
   */
  _setCuts(f: ((cmd: number, T: number) => number[]) | null): void {
    if (this.pool) this.pool.cutsOverride = f;
  }

  /** @internal the pool's workers (tests) */
  get _workers(): readonly unknown[] {
    return this.pool?._workers ?? [];
  }

  private inputMatrix(fn: string, x: unknown, arg = "x", deferValues = false): Matrix {
    return toMatrix(fn, arg, x, this.config.inputDim, { unit: this.config.likelihood.type === "bernoulli", deferValues });
  }

  /** Releases the model's WebAssembly memory; every later call throws. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
    this.disposed = true;
    this.ws = null;
    // Drop the references; the memory is garbage collected with the instance.
    this.rt = null as unknown as Runtime;
    this.k = null as unknown as Kernels;
  }

  /**
   * The model as a safetensors file: tensors named as in `parameterShapes` with PyTorch
   * nn.Linear layout, the configuration and step count in the header's metadata.
   */
  save(opts: { metadata?: Record<string, string> } = {}): Uint8Array {
    const fn = "VAE.save";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ["metadata"]);
    const extra = opts.metadata ?? {};
    for (const [k, v] of Object.entries(extra)) {
      if (typeof v !== "string") fail(fn, `options.metadata['${k}']`, "a string (safetensors metadata is string → string)", v);
    }
    const p = this.f32(this.pParams, this.nParams);
    const tensors = this.tensors.map((t) => ({ name: t.name, shape: t.shape, data: p.subarray(t.offset, t.offset + t.size) }));
    return encodeSafetensors(tensors, { ...extra, format: FORMAT, config: JSON.stringify(this.config), steps: String(this.steps) });
  }

  /**
   * Loads a model written by save(), or any safetensors file with the documented tensor names
   * (e.g. weights exported from PyTorch, README) when `options.config` gives the architecture.
   */
  static async load(bytes: Uint8Array, options: { config?: VAEOptions; build?: BuildName; threads?: number | "auto" } = {}): Promise<VAE> {
    const fn = "VAE.load";
    checkKeys(fn, "options", options, ["config", "build", "threads"]);
    const { tensors, metadata } = decodeSafetensors(bytes, fn);
    let config: VAEOptions;
    if (options.config) {
      config = options.config;
    } else if (metadata.config) {
      config = JSON.parse(metadata.config) as VAEOptions;
    } else {
      throw new Error(`${fn}: the file has no vae-wasm configuration in its metadata; pass options.config ` +
        "({inputDim, latentDim, hidden, decoderHidden, activation, likelihood}) to load foreign weights");
    }
    const vae = await VAE.create({ ...config, build: options.build, threads: options.threads });
    const dict: Record<string, Float32Array> = {};
    for (const t of vae.tensors) {
      const f = tensors.get(t.name);
      if (!f) throw new Error(`${fn}: tensor '${t.name}' (shape [${t.shape.join(", ")}]) is missing from the file (it has: ${[...tensors.keys()].join(", ")})`);
      if (f.shape.join(",") !== t.shape.join(",")) {
        throw new Error(`${fn}: tensor '${t.name}' has shape [${f.shape.join(", ")}] in the file; the configuration needs [${t.shape.join(", ")}]`);
      }
      dict[t.name] = f.data;
    }
    vae.loadStateDict(dict);
    if (metadata.steps && /^\d+$/.test(metadata.steps)) vae.steps = Number(metadata.steps);
    return vae;
  }
}

const FORMAT = "vae-wasm/1";

export { VAEArgumentError };
