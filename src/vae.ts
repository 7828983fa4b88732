// The Variational Autoencoder: a Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), a
// standard normal prior, and a Bernoulli or Gaussian decoder p(x|z), all MLPs, trained with
// Adam. Parameters, gradients, Adam moments, activations and noise live in one WebAssembly
// memory laid out once here (an arena of byte offsets); kernels do all the arithmetic.
import { ACT, STREAM, type Kernels } from "../bindings/abi.js";
import { Arena } from "../bindings/arena.js";
import { compileBuild, defaultBuild, ensureMemory, instantiate, type BuildName, type Runtime } from "../bindings/load.js";
import { ESTIMATOR_NAMES, makeEstimator, type Estimator, type EstimatorName } from "./estimators.js";
import { SeededRandom } from "./random.js";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.js";
import {
  checkBool, checkInt, checkKeys, checkNumber, checkOneOf, fail, toMatrix, VAEArgumentError,
  type Matrix, type MatrixLike,
} from "./validate.js";

export type Activation = "relu" | "tanh" | "identity";
const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "identity"];

/** Decoder likelihood: Bernoulli on logits, or Gaussian N(m, variance·I) (fixed or learned per output). */
export type Likelihood =
  | "bernoulli"
  | "gaussian"
  | { type: "bernoulli" }
  | { type: "gaussian"; variance?: number; learnVariance?: boolean };

export interface VAEOptions {
  /** Data dimension D (784 for MNIST). */
  inputDim?: number;
  /** Latent dimension Z. Default 20. */
  latentDim?: number;
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
}

export interface ResolvedConfig {
  inputDim: number;
  latentDim: number;
  hidden: number[];
  decoderHidden: number[];
  activation: Activation;
  likelihood: { type: "bernoulli" } | { type: "gaussian"; variance: number; learnVariance: boolean };
  seed: number;
}

interface Tensor {
  name: string;
  shape: number[];
  /** offset in floats from the start of the parameter block */
  offset: number;
  size: number;
}

interface Layer {
  inDim: number;
  outDim: number;
  act: number;
  /** float offsets in the parameter block */
  w: number;
  b: number;
}

interface Workspace {
  B: number; // capacity in examples
  R: number; // capacity in rows (K·B)
  x: number;
  enc: number[]; // outputs of encoder hidden layers [B, H]
  dEnc: number[];
  h: number; // head output [B, 2Z]
  dh: number;
  eps: number; // [R, Z]
  z: number;
  dz: number;
  dec: number[]; // outputs of decoder hidden layers [R, H]
  dDec: number[];
  out: number; // decoder output [R, D]
  logpx: number; logpz: number; logqz: number; logw: number; c: number; r: number;
  kl: number; bound: number; wt: number;
  scratch: number;
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
}

const STEP_KEYS = ["betas", "adamEps", "weightDecay", "estimator", "samples", "binarize", "learningRate"] as const;

interface StepConfig {
  K: number; beta1: number; beta2: number; adamEps: number; weightDecay: number; est: Estimator; binarize: boolean;
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
}

const FIT_KEYS = [
  "epochs", "batchSize", "learningRate", "betas", "adamEps", "weightDecay", "estimator", "samples",
  "binarize", "shuffle", "validationData", "onProgress", "onEpochEnd", "signal",
] as const;

export interface LossAndGrads {
  /** negative objective per example (nats), averaged over the batch */
  loss: number;
  /** gradient of `loss` for every parameter, by tensor name (copies) */
  grads: Record<string, Float32Array>;
}

export interface ElboOptions {
  samples?: number;
  estimator?: EstimatorOption;
  binarize?: boolean;
  seed?: number;
  batchSize?: number;
}

const ELBO_KEYS = ["samples", "estimator", "binarize", "seed", "batchSize"] as const;

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

function resolveConfig(fn: string, o: VAEOptions): ResolvedConfig {
  checkKeys(fn, "options", o, ["inputDim", "latentDim", "hidden", "decoderHidden", "activation", "likelihood", "seed", "build"]);
  const inputDim = checkInt(fn, "options.inputDim", o.inputDim ?? 784, 1, 1 << 20);
  const latentDim = checkInt(fn, "options.latentDim", o.latentDim ?? 20, 1, 1 << 16);
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
  return { inputDim, latentDim, hidden, decoderHidden, activation, likelihood, seed };
}

function resolveEstimator(fn: string, arg: string, e: unknown): Estimator {
  if (typeof e === "object" && e !== null && typeof (e as Estimator).weigh === "function") return e as Estimator;
  return makeEstimator(checkOneOf(fn, arg, e, ESTIMATOR_NAMES));
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
  private decLogvar = -1; // float offset of the learned per-output log-variance, or -1
  private nParams = 0;
  private pParams = 0; // byte pointers of the four parameter-sized blocks
  private pGrads = 0;
  private pM = 0;
  private pV = 0;
  private paramsEnd = 0;
  private ws: Workspace | null = null;
  private disposed = false;
  /** Optimiser steps taken (Adam's t, and the RNG step key of training noise). */
  private steps = 0;

  /** Creates a model (loads and compiles the WebAssembly build once per process). */
  static async create(options: VAEOptions = {}): Promise<VAE> {
    const config = resolveConfig("VAE.create", options);
    const build = options.build ?? defaultBuild();
    checkOneOf("VAE.create", "options.build", build, ["relaxed", "simd", "scalar"] as const);
    const module = await compileBuild(build);
    return new VAE(config, build, module);
  }

  private constructor(config: ResolvedConfig, build: BuildName, module: WebAssembly.Module) {
    this.config = config;
    this.build = build;
    // Parameters are laid out first; instantiate with room for them, grow for the workspace.
    this.rt = instantiate(module, build, 1 << 20);
    this.k = this.rt.k;
    this.arena = new Arena(this.k.heapBase());
    this.layout();
    this.initParameters();
  }

  // ---------------------------------------------------------------- layout

  private addTensor(name: string, shape: number[], offset: number): void {
    this.tensors.push({ name, shape, offset, size: shape.reduce((a, b) => a * b, 1) });
  }

  private layout(): void {
    const { inputDim: D, latentDim: Z, hidden, decoderHidden, activation } = this.config;
    const act = ACT[activation];
    let off = 0;
    const linear = (inDim: number, outDim: number, a: number): Layer => {
      const l = { inDim, outDim, act: a, w: off, b: off + inDim * outDim };
      off += inDim * outDim + outDim;
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
    // One [2Z, H] head: rows 0..Z-1 give mu, rows Z..2Z-1 give logvar ([out, in] layout makes
    // each a contiguous block, exposed as two nn.Linear-style tensors).
    const head = linear(prev, 2 * Z, ACT.identity);
    this.addTensor("encoder.mu.weight", [Z, prev], head.w);
    this.addTensor("encoder.logvar.weight", [Z, prev], head.w + Z * prev);
    this.addTensor("encoder.mu.bias", [Z], head.b);
    this.addTensor("encoder.logvar.bias", [Z], head.b + Z);
    this.enc.push(head);
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
    this.pParams = this.arena.floats(off);
    this.pGrads = this.arena.floats(off);
    this.pM = this.arena.floats(off);
    this.pV = this.arena.floats(off);
    this.paramsEnd = this.arena.end;
    ensureMemory(this.rt, this.paramsEnd);
  }

  /** PyTorch nn.Linear's default initialisation: weight and bias ~ U(-1/√in, 1/√in). */
  private initParameters(): void {
    const rng = new SeededRandom(this.config.seed, 1);
    const p = this.f32(this.pParams, this.nParams);
    for (const l of [...this.enc, ...this.dec]) {
      const bound = 1 / Math.sqrt(l.inDim);
      for (let i = 0; i < l.inDim * l.outDim + l.outDim; i++) p[l.w + i] = (2 * rng.next() - 1) * bound;
    }
    if (this.decLogvar >= 0) {
      p.fill(Math.log((this.config.likelihood as { variance: number }).variance), this.decLogvar, this.decLogvar + this.config.inputDim);
    }
    this.f32(this.pM, 2 * this.nParams).fill(0); // m and v are adjacent
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
    const maxDim = Math.max(D, 2 * Z, ...this.config.hidden, ...this.config.decoderHidden);
    const ws: Workspace = {
      B: Bc, R: Rc,
      x: a.floats(Bc * D),
      enc: this.enc.slice(0, -1).map((l) => a.floats(Bc * l.outDim)),
      dEnc: this.enc.slice(0, -1).map((l) => a.floats(Bc * l.outDim)),
      h: a.floats(Bc * 2 * Z),
      dh: a.floats(Bc * 2 * Z),
      eps: a.floats(Rc * Z),
      z: a.floats(Rc * Z),
      dz: a.floats(Rc * Z),
      dec: this.dec.slice(0, -1).map((l) => a.floats(Rc * l.outDim)),
      dDec: this.dec.slice(0, -1).map((l) => a.floats(Rc * l.outDim)),
      out: a.floats(Rc * D),
      logpx: a.floats(Rc), logpz: a.floats(Rc), logqz: a.floats(Rc), logw: a.floats(Rc),
      c: a.floats(Rc), r: a.floats(Rc), wt: a.floats(Rc),
      kl: a.floats(Bc), bound: a.floats(Bc),
      scratch: a.floats(8 * Math.max(maxDim, Rc)),
    };
    ensureMemory(this.rt, a.end);
    this.ws = ws;
    return ws;
  }

  private f32(bytePtr: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, bytePtr, n);
  }

  private checkAlive(fn: string): void {
    if (this.disposed) throw new Error(`${fn}: this VAE was disposed; create or load a new one`);
  }

  // ---------------------------------------------------------------- passes

  /** One dense layer forward over `rows` rows: Y = act(X·Wᵀ + b). */
  private linearForward(l: Layer, y: number, x: number, rows: number, scratch: number): void {
    const P = this.pParams;
    this.k.gemm(y, l.outDim, x, l.inDim, 1, P + 4 * l.w, 1, l.inDim, P + 4 * l.b, 0, rows, l.outDim, l.inDim, 0, l.act, scratch);
  }

  /**
   * One dense layer backward; dy already holds ∂loss/∂(pre-activation). Writes dW, db and,
   * when dx != 0, dx = dy·W followed by the previous layer's activation derivative.
   */
  private linearBackward(l: Layer, dy: number, x: number, rows: number, dx: number, prevAct: number, scratch: number): void {
    const k = this.k;
    const G = this.pGrads;
    k.gemm(G + 4 * l.w, l.inDim, dy, 1, l.outDim, x, l.inDim, 1, 0, 0, l.outDim, l.inDim, rows, 0, ACT.identity, scratch);
    k.biasGrad(G + 4 * l.b, dy, l.outDim, 0, rows, l.outDim, 0);
    if (dx !== 0) {
      k.gemm(dx, l.inDim, dy, l.outDim, 1, this.pParams + 4 * l.w, l.inDim, 1, 0, 0, rows, l.inDim, l.outDim, 0, ACT.identity, scratch);
      k.actBackward(dx, x, 0, rows * l.inDim, prevAct);
    }
  }

  /** Encoder on ws.x rows [0, B): fills ws.enc and ws.h. */
  private encodeRows(ws: Workspace, B: number): void {
    let x = ws.x;
    this.enc.forEach((l, i) => {
      const y = i < this.enc.length - 1 ? ws.enc[i] : ws.h;
      this.linearForward(l, y, x, B, ws.scratch);
      x = y;
    });
  }

  /** Decoder on ws.z rows [0, R): fills ws.dec and ws.out. */
  private decodeRows(ws: Workspace, R: number): void {
    let x = ws.z;
    this.dec.forEach((l, i) => {
      const y = i < this.dec.length - 1 ? ws.dec[i] : ws.out;
      this.linearForward(l, y, x, R, ws.scratch);
      x = y;
    });
  }

  /**
   * Forward through the whole model for B examples in ws.x and K samples each, with eps either
   * given (already in ws.eps) or drawn from (seed, stream, step). Fills logpx, logw (and kl).
   * For a Bernoulli decoder ws.out holds probabilities afterwards.
   */
  private forwardRows(ws: Workspace, B: number, K: number, needKL: boolean): void {
    this.encodeRows(ws, B);
    this.sampleRows(ws, B, K);
    if (needKL) this.k.klStandardNormal(ws.kl, ws.h, this.config.latentDim, 0, B);
  }

  /** Backward for the weights the estimator put in ws.c / ws.r; writes every gradient. */
  private backwardRows(ws: Workspace, B: number, K: number, est: Estimator): void {
    const k = this.k;
    const { inputDim: D, latentDim: Z } = this.config;
    const R = K * B;
    const lik = this.config.likelihood;
    if (lik.type === "bernoulli") {
      k.bernoulliBackward(ws.out, ws.out, ws.x, ws.c, K, D, 0, R);
    } else {
      const lv = this.decLogvar >= 0 ? this.pParams + 4 * this.decLogvar : 0;
      const dlv = this.decLogvar >= 0 ? this.pGrads + 4 * this.decLogvar : 0;
      if (dlv) this.f32(dlv, D).fill(0);
      k.gaussianBackward(ws.out, ws.out, ws.x, ws.c, lv, dlv, Math.log(lik.variance), K, D, 0, R);
    }
    // decoder, last layer first; the first layer's dx is dz
    for (let i = this.dec.length - 1; i >= 0; i--) {
      const l = this.dec[i];
      const dy = i === this.dec.length - 1 ? ws.out : ws.dDec[i];
      const x = i === 0 ? ws.z : ws.dec[i - 1];
      const dx = i === 0 ? ws.dz : ws.dDec[i - 1];
      this.linearBackward(l, dy, x, R, dx, i === 0 ? ACT.identity : this.dec[i - 1].act, ws.scratch);
    }
    k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, est.usesEncoderFactor ? ws.r : 0,
      K, B, Z, est.gradMode, 1 / B, 0, B);
    for (let i = this.enc.length - 1; i >= 0; i--) {
      const l = this.enc[i];
      const dy = i === this.enc.length - 1 ? ws.dh : ws.dEnc[i];
      const x = i === 0 ? ws.x : ws.enc[i - 1];
      const dx = i === 0 ? 0 : ws.dEnc[i - 1];
      this.linearBackward(l, dy, x, B, dx, i === 0 ? ACT.identity : this.enc[i - 1].act, ws.scratch);
    }
  }

  /** The estimator's view of one step's rows (importance weights computed first when it needs them). */
  private weigh(ws: Workspace, B: number, K: number, est: Estimator): number {
    const R = K * B;
    if (est.importanceWeighted) this.k.importanceWeights(ws.bound, ws.wt, ws.logw, K, B, 0, B);
    return est.weigh({
      K, B,
      logpx: this.f32(ws.logpx, R), logw: this.f32(ws.logw, R), kl: this.f32(ws.kl, B),
      wt: this.f32(ws.wt, R), bound: this.f32(ws.bound, B),
      c: this.f32(ws.c, R), r: this.f32(ws.r, R),
    });
  }

  /** Forward, estimator weights, backward; returns the summed objective (not yet negated). */
  private lossAndGradRows(ws: Workspace, B: number, K: number, est: Estimator): number {
    this.forwardRows(ws, B, K, est.analyticKL);
    const objective = this.weigh(ws, B, K, est);
    if (!Number.isFinite(objective)) return objective; // caller reports it before any update
    this.backwardRows(ws, B, K, est);
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

  /** mu and logvar of q(z|x) for every row of x ([N, D] → two [N, Z] arrays). */
  encode(x: MatrixLike): { mu: Float32Array; logvar: Float32Array } {
    const fn = "VAE.encode";
    this.checkAlive(fn);
    const m = this.inputMatrix(fn, x);
    const Z = this.config.latentDim;
    const mu = new Float32Array(m.rows * Z);
    const logvar = new Float32Array(m.rows * Z);
    for (let s = 0; s < m.rows; s += DEFAULT_CHUNK) {
      const B = Math.min(DEFAULT_CHUNK, m.rows - s);
      const ws = this.workspace(B, 1);
      this.loadBatch(ws, m, null, s, B);
      this.encodeRows(ws, B);
      const h = this.f32(ws.h, B * 2 * Z);
      for (let b = 0; b < B; b++) {
        mu.set(h.subarray(b * 2 * Z, b * 2 * Z + Z), (s + b) * Z);
        logvar.set(h.subarray(b * 2 * Z + Z, (b + 1) * 2 * Z), (s + b) * Z);
      }
    }
    return { mu, logvar };
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
      this.decodeRows(ws, R);
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
    const { mu, logvar } = this.encode(x);
    if (!checkBool(fn, "options.sample", opts.sample ?? false)) return this.decode(mu);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const eps = this.normals(mu.length / this.config.latentDim, seed, STREAM.prior);
    for (let i = 0; i < mu.length; i++) mu[i] += Math.exp(Math.min(Math.max(logvar[i], -30), 30) / 2) * eps[i];
    return this.decode(mu);
  }

  /** n samples from the model: z ~ N(0, I), decoded (probabilities or means), [n, D]. */
  sample(n: number, opts: { seed?: number } = {}): Float32Array {
    const fn = "VAE.sample";
    this.checkAlive(fn);
    checkInt(fn, "n", n, 1);
    checkKeys(fn, "options", opts, ["seed"]);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    return this.decode(this.normals(n, seed, STREAM.prior));
  }

  /** n·Z standard normals from the counter-based RNG (row b = example). */
  private normals(n: number, seed: number, stream: number): Float32Array {
    const Z = this.config.latentDim;
    const ws = this.workspace(1, n);
    this.k.randomNormal(ws.eps, seed, stream, 0, 1, n, Z, 0, n, 0, 0);
    return this.f32(ws.eps, n * Z).slice();
  }

  /**
   * Mean ELBO per example (nats; higher is better) of x: analytic KL and one sample by default,
   * as the PyTorch example's test loss (which is its negative). With estimator 'td'/'stl' the
   * Monte Carlo ELBO mean_k log w. Noise is keyed by `seed` (default: the model's) and the chunk.
   */
  elbo(x: MatrixLike, opts: ElboOptions = {}): number {
    const fn = "VAE.elbo";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ELBO_KEYS);
    const m = this.inputMatrix(fn, x);
    const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
    const est = resolveEstimator(fn, "options.estimator", opts.estimator ?? "analytic");
    const binarize = checkBool(fn, "options.binarize", opts.binarize ?? false);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const chunk = checkInt(fn, "options.batchSize", opts.batchSize ?? Math.max(1, Math.floor(4 * DEFAULT_CHUNK / K)), 1);
    const D = this.config.inputDim;
    let total = 0;
    for (let s = 0, step = 0; s < m.rows; s += chunk, step++) {
      const B = Math.min(chunk, m.rows - s);
      const ws = this.workspace(B, K);
      this.loadBatch(ws, m, null, s, B);
      if (binarize) this.k.bernoulliSample(ws.x, ws.x, seed, STREAM.evalBinarize, 0, D, 0, B, s);
      this.k.randomNormal(ws.eps, seed, STREAM.evalEps, step, K, B, this.config.latentDim, 0, B, 0, 0);
      this.forwardRows(ws, B, K, est.analyticKL);
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
    checkKeys(fn, "options", opts, ["samples", "batchSize", "sampleChunk", "seed", "binarize", "onProgress"]);
    const m = this.inputMatrix(fn, x);
    const K = checkInt(fn, "options.samples", opts.samples ?? 5000, 1, 1 << 24);
    const Kc = checkInt(fn, "options.sampleChunk", opts.sampleChunk ?? Math.min(K, 500), 1, 1 << 16);
    const Bc = checkInt(fn, "options.batchSize", opts.batchSize ?? Math.max(1, Math.floor(5000 / Math.min(K, Kc))), 1, 1 << 16);
    const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
    const binarize = checkBool(fn, "options.binarize", opts.binarize ?? false);
    if (binarize && this.config.likelihood.type !== "bernoulli") fail(fn, "options.binarize", "false for a Gaussian likelihood", binarize);
    if (opts.onProgress !== undefined && typeof opts.onProgress !== "function") fail(fn, "options.onProgress", "a function", opts.onProgress);
    const { inputDim: D, latentDim: Z } = this.config;
    const k = this.k;
    const perExample = new Float64Array(m.rows), standardError = new Float64Array(m.rows);
    for (let s = 0; s < m.rows; s += Bc) {
      const B = Math.min(Bc, m.rows - s);
      const kc = Math.min(Kc, K);
      const ws = this.workspace(B, kc);
      this.loadBatch(ws, m, null, s, B);
      if (binarize) k.bernoulliSample(ws.x, ws.x, seed, STREAM.evalBinarize, 0, D, 0, B, s);
      this.encodeRows(ws, B);
      // streaming log-sum-exp per example: running max, Σ exp(lw - max), Σ exp(2(lw - max))
      const mx = new Float64Array(B).fill(-Infinity), s1 = new Float64Array(B), s2 = new Float64Array(B);
      for (let k0 = 0; k0 < K; k0 += kc) {
        const kn = Math.min(kc, K - k0);
        k.randomNormal(ws.eps, seed, STREAM.evalEps, 0, kn, B, Z, 0, B, s, k0);
        this.sampleRows(ws, B, kn);
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
    checkKeys(fn, "options", opts, ["threshold"]);
    const threshold = checkNumber(fn, "options.threshold", opts.threshold ?? 1e-2, { min: 0 });
    const { mu } = this.encode(x);
    const Z = this.config.latentDim, n = mu.length / Z;
    const mean = new Float64Array(Z), variances = new Float64Array(Z);
    for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) mean[j] += mu[i * Z + j] / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) variances[j] += (mu[i * Z + j] - mean[j]) ** 2 / n;
    return { count: variances.reduce((c, v) => c + (v > threshold ? 1 : 0), 0), variances };
  }

  /** Given ws.h (encoder output) and ws.eps for K samples of B examples: z, decoder, log w per row. */
  private sampleRows(ws: Workspace, B: number, K: number): void {
    const k = this.k;
    const { inputDim: D, latentDim: Z } = this.config;
    const R = K * B;
    k.reparameterize(ws.z, ws.eps, ws.h, K, B, Z, 0, B);
    this.decodeRows(ws, R);
    const lik = this.config.likelihood;
    if (lik.type === "bernoulli") {
      k.bernoulliLogProb(ws.logpx, ws.out, ws.out, ws.x, K, D, 0, R);
    } else {
      const lv = this.decLogvar >= 0 ? this.pParams + 4 * this.decLogvar : 0;
      k.gaussianLogProb(ws.logpx, ws.out, ws.x, lv, Math.log(lik.variance), K, D, 0, R);
    }
    k.gaussianLogProbs(ws.logw, ws.logpz, ws.logqz, ws.logpx, ws.z, ws.eps, ws.h, K, B, Z, 0, B);
  }

  /**
   * The loss (negative objective per example, averaged over the rows of x) and the gradient of
   * every parameter, without updating anything. `eps` ([N, K, Z]: row n·K + k) fixes the noise
   * so any outside implementation can reproduce the computation exactly; otherwise it is drawn
   * from (seed, step). x is used as given (no binarization).
   */
  lossAndGrads(x: MatrixLike, opts: { estimator?: EstimatorOption; samples?: number; eps?: Float32Array | number[]; seed?: number; step?: number } = {}): LossAndGrads {
    const fn = "VAE.lossAndGrads";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ["estimator", "samples", "eps", "seed", "step"]);
    const m = this.inputMatrix(fn, x);
    const K = checkInt(fn, "options.samples", opts.samples ?? 1, 1, 1 << 16);
    const est = resolveEstimator(fn, "options.estimator", opts.estimator ?? "analytic");
    const B = m.rows;
    const Z = this.config.latentDim;
    const ws = this.workspace(B, K);
    this.loadBatch(ws, m, null, 0, B);
    if (opts.eps !== undefined) {
      const e = toMatrix(fn, "options.eps", opts.eps, Z);
      if (e.rows !== K * B) fail(fn, "options.eps", `${K * B * Z} values ([rows=${B}, samples=${K}, latentDim=${Z}])`, opts.eps);
      this.f32(ws.eps, K * B * Z).set(e.data);
    } else {
      const seed = checkInt(fn, "options.seed", opts.seed ?? this.config.seed, 0, 0xffffffff);
      const step = checkInt(fn, "options.step", opts.step ?? 0, 0, 0xffffffff);
      this.k.randomNormal(ws.eps, seed, STREAM.eps, step, K, B, Z, 0, B, 0, 0);
    }
    const objective = this.lossAndGradRows(ws, B, K, est);
    if (!Number.isFinite(objective)) throw new Error(`${fn}: the objective is ${objective} at these parameters and inputs`);
    const g = this.f32(this.pGrads, this.nParams);
    const grads = Object.fromEntries(this.tensors.map((t) => [t.name, g.slice(t.offset, t.offset + t.size)]));
    return { loss: -objective / B, grads };
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
    this.k.randomNormal(ws.eps, seed, STREAM.eps, step, K, rows, this.config.latentDim, 0, rows, 0, 0);
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
    const est = resolveEstimator(fn, "options.estimator", o.estimator ?? "analytic");
    const binarize = checkBool(fn, "options.binarize", o.binarize ?? false);
    if (binarize && this.config.likelihood.type !== "bernoulli") {
      fail(fn, "options.binarize", "false for a Gaussian likelihood (binarization makes Bernoulli data)", binarize);
    }
    return { K, beta1, beta2, adamEps, weightDecay, est, binarize };
  }

  /**
   * One optimiser step on the B examples already in ws.x: binarize (if asked), draw eps at
   * (seed, step), forward, backward, Adam. Returns the summed objective; throws before the
   * update when it is not finite.
   */
  private step(fn: string, ws: Workspace, B: number, cfg: StepConfig, lr: number, where: string): number {
    const seed = this.config.seed;
    if (cfg.binarize) this.k.bernoulliSample(ws.x, ws.x, seed, STREAM.binarize, this.steps, this.config.inputDim, 0, B, 0);
    this.k.randomNormal(ws.eps, seed, STREAM.eps, this.steps, cfg.K, B, this.config.latentDim, 0, B, 0, 0);
    const objective = this.lossAndGradRows(ws, B, cfg.K, cfg.est);
    if (!Number.isFinite(objective)) {
      throw new Error(
        `${fn}: the loss became ${-objective} ${where}(optimiser step ${this.steps + 1}); ` +
        "the parameters are those of the last finite step. Try a lower learningRate, or check the data scale.");
    }
    this.steps++;
    const t = this.steps;
    const stepSize = lr / (1 - Math.pow(cfg.beta1, t));
    const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(cfg.beta2, t));
    this.k.adam(this.pParams, this.pGrads, this.pM, this.pV, 0, this.nParams, stepSize, cfg.beta1, cfg.beta2, cfg.adamEps, invSqrtBc2, cfg.weightDecay);
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
    const m = this.inputMatrix(fn, x);
    const cfg = this.stepConfig(fn, options);
    const lr = checkNumber(fn, "options.learningRate", options.learningRate ?? 1e-3, { gt: 0 });
    const ws = this.workspace(m.rows, cfg.K);
    this.loadBatch(ws, m, null, 0, m.rows);
    return -this.step(fn, ws, m.rows, cfg, lr, "") / m.rows;
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

    const stepsPerEpoch = Math.ceil(m.rows / batch);
    const ws = this.workspace(Math.min(batch, m.rows), cfg.K);
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
        this.loadBatch(ws, m, order, s * batch, B);
        lossSum -= this.step(fn, ws, B, cfg, lr, `at epoch ${epoch + 1}, step ${s + 1} `);
        seen += B;
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

  private inputMatrix(fn: string, x: unknown, arg = "x"): Matrix {
    return toMatrix(fn, arg, x, this.config.inputDim, { unit: this.config.likelihood.type === "bernoulli" });
  }

  /** Releases the model's WebAssembly memory; every later call throws. */
  dispose(): void {
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
  static async load(bytes: Uint8Array, options: { config?: VAEOptions; build?: BuildName } = {}): Promise<VAE> {
    const fn = "VAE.load";
    checkKeys(fn, "options", options, ["config", "build"]);
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
    const vae = await VAE.create({ ...config, build: options.build });
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
