// Semi-supervised learning with the M2 model (Kingma, Rezende, Mohamed & Welling 2014):
//   classifier q(y|x), encoder q(z|x,y) = N(mu(x,y), diag σ²(x,y)), decoder p(x|y,z) (Bernoulli,
//   or Gaussian for real-valued x such as another model's features: Kingma et al.'s M1+M2),
//   priors p(y) uniform over C classes and p(z) = N(0, I).
// A labelled example contributes the bound
//   L(x,y) = E_q(z|x,y)[log p(x|y,z)] + log p(y) − KL(q(z|x,y) ‖ p(z))
// plus α·log q(y|x) (the classification loss, which the bound alone never trains on labelled
// data); an unlabelled example marginalises y by exact enumeration over the C classes,
//   U(x) = Σ_y q(y|x)·(L(x,y) − log q(y|x))      (= Σ_y q L + H(q)).
// One step takes a batch of unlabelled and a batch of labelled examples (the labelled set is
// cycled, reshuffled every pass) and minimises −(mean_u U + λ·mean_l [L + α·log q(y|x)]) with
// λ = 1 by default: each step's labelled batch weighs as much as its unlabelled one. λ = N_l/N_u
// would make every example weigh the same over an epoch, as in Kingma et al.'s
// J^α = Σ_l [L + α log q] + Σ_u U; with 100 labels on MNIST it stays near 50 % test accuracy
// where λ = 1 reaches 71 % by the sixth epoch (bench/results/m2-mnist.md).
//
// The parameters, their file, Adam and the epoch loop are the VAE's (model/params.ts,
// model/train.ts); the objective, on the same WebAssembly kernels, is m2/objective.ts, and its
// step runs on a worker pool like the VAE's (`threads`), with the same bits for any thread count.
import type { Kernels } from "../bindings/abi.js";
import { Arena } from "../bindings/arena.js";
import { compileBuild, defaultBuild, instantiate, warmUp, type BuildName } from "../bindings/load.js";
import { availableCores, resolveThreads } from "./model/threads.js";
import { decodeSafetensors } from "./files/safetensors.js";
import { layOutNets, M2Objective, type SemiSupervisedConfig } from "./m2/objective.js";
import { FIT_KEYS, relaxation, resolveM2Config, type SemiSupervisedEpoch, type SemiSupervisedFitOptions, type SemiSupervisedOptions } from "./m2/options.js";
import { crc32 } from "./files/crc32.js";
import { CHECKPOINT_KEY, checkSameData, encodeCheckpoint, LiveRun, restore, resumedOptions, SCHEDULE, trainingState, type Run } from "./model/checkpoint.js";
import { fileTensors, Parameters } from "./model/params.js";
import { epochOrder, trainEpochs } from "./model/train.js";
import { ParamLayout } from "./nn/layout.js";
import { SeededRandom } from "./util/random.js";
import { checkBool, checkInt, checkKeys, checkNumber, checkOneOf, fail, toMatrix, type Matrix, type MatrixLike } from "./util/validate.js";

export type { SemiSupervisedConfig, SemiSupervisedEpoch, SemiSupervisedFitOptions, SemiSupervisedOptions };

const FORMAT = "vae-wasm-m2/1";

/** The M2 semi-supervised VAE. */
export class SemiSupervisedVAE {
  readonly config: SemiSupervisedConfig;
  readonly build: BuildName;
  private obj: M2Objective;
  /** @internal optimiser steps taken (the key of noise and of the row orders) */
  steps = 0;
  /** @internal Adam's t: steps since its moments started at zero (0 after load()) */
  adamSteps = 0;
  /** @internal the fit in progress or last finished, and a checkpoint's run that the next fit continues */
  private run: LiveRun | null = null;
  /** @internal */
  resumeFrom: Run | null = null;
  private disposed = false;

  static async create(options: SemiSupervisedOptions = {}): Promise<SemiSupervisedVAE> {
    const fn = "SemiSupervisedVAE.create";
    checkKeys(fn, "options", options, ["inputDim", "classes", "latentDim", "hidden", "activation", "likelihood", "seed", "build", "threads"]);
    const { build: _b, threads: _t, ...rest } = options;
    return SemiSupervisedVAE.start(fn, resolveM2Config(fn, rest, "options"), options.build, options.threads);
  }

  /** The model for a resolved configuration (`build`, `threads`: checked here); threads > 1 start the worker pool. */
  private static async start(fn: string, config: SemiSupervisedConfig, buildOption: unknown, threadsOption: unknown): Promise<SemiSupervisedVAE> {
    const build = checkOneOf(fn, "options.build", buildOption ?? defaultBuild(), ["relaxed", "simd", "scalar"] as const);
    const threads = resolveThreads(fn, threadsOption ?? 1, threadsOption === "auto" ? await availableCores() : 1);
    const module = await compileBuild(build, threads > 1);
    warmUp(module, build, threads > 1);
    const m = new SemiSupervisedVAE(config, build, module, threads);
    if (threads > 1) {
      try {
        await m.obj.startPool();
      } catch (e) {
        m.dispose();
        throw e;
      }
    }
    return m;
  }

  private constructor(config: SemiSupervisedConfig, build: BuildName, module: WebAssembly.Module, readonly threads: number) {
    this.config = config;
    this.build = build;
    const rt = instantiate(module, build, 1 << 20, threads > 1);
    const arena = new Arena(rt.k.heapBase());
    const L = new ParamLayout();
    const nets = layOutNets(L, config);
    // (on a pool, two banks of values and moments: a step interrupted by a dying worker leaves the last one whole)
    const params = new Parameters(rt, arena, L, threads > 1 ? 2 : 1);
    params.initUniform(config.seed); // nn.Linear's default, U(±1/√in)
    const lik = config.likelihood;
    if (nets.decLogvar >= 0 && lik.type === "gaussian") params.values().fill(Math.log(lik.variance), nets.decLogvar, nets.decLogvar + config.inputDim);
    params.repack();
    this.obj = new M2Objective(rt, arena, params, nets, config, threads);
  }

  /** Threads it runs on now: 1 after a pool worker died, until fit() starts a new pool. */
  get runningThreads(): number {
    return this.obj.pool ? this.threads : 1;
  }

  /** @internal the pool (tests: that work went to it) */
  get pool() {
    return this.obj.pool;
  }

  /** @internal */
  get params(): Parameters {
    return this.obj.params;
  }

  private get k(): Kernels {
    return this.obj.k;
  }

  private f32(p: number, n: number): Float32Array {
    return this.obj.f32(p, n);
  }

  private checkAlive(fn: string): void {
    if (this.disposed) throw new Error(`${fn}: this model was disposed; create or load a new one`);
    this.obj.caller = fn;
  }

  // ---------------------------------------------------------------- public API

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.params.n;
  }

  /** Optimiser steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * Trains on labelled examples (x with their class labels 0…C−1) and unlabelled ones with
   * Adam. Resolves with one record per epoch (an epoch is one pass over the unlabelled data).
   */
  async fit(labelled: { x: MatrixLike; labels: ArrayLike<number> }, unlabelled: MatrixLike, given: SemiSupervisedFitOptions = {}):
    Promise<SemiSupervisedEpoch[]> {
    const fn = "SemiSupervisedVAE.fit";
    this.checkAlive(fn);
    checkKeys(fn, "options", given, FIT_KEYS);
    if (!labelled || typeof labelled !== "object") fail(fn, "labelled", "{x, labels}", labelled);
    const xl = this.input(fn, labelled.x, "labelled.x");
    const yl = this.labels(fn, labelled.labels, xl.rows, "labelled.labels");
    const xu = this.input(fn, unlabelled, "unlabelled");
    // after resume(): the checkpoint's run goes on where it stopped, with its options unless given
    const resume = this.resumeFrom;
    const options = resume ? resumedOptions(fn, resume.options, given, ["batchSize", "labelledBatchSize"]) : given;
    if (resume) checkSameData(fn, "unlabelled", resume, xu);
    if (typeof options.gumbelSoftmax === "number") {
      options.gumbelSoftmax = (options.gumbelSoftmax as number) > 0 ? { temperature: options.gumbelSoftmax } : undefined;
    }
    const epochs = checkInt(fn, "options.epochs", options.epochs ?? 10, 1);
    const Bu = checkInt(fn, "options.batchSize", options.batchSize ?? 100, 1, 1 << 16);
    const Bl = checkInt(fn, "options.labelledBatchSize", options.labelledBatchSize ?? Math.min(100, xl.rows), 1, xl.rows);
    const lrOpt = options.learningRate ?? 1e-3;
    if (typeof lrOpt !== "function") checkNumber(fn, "options.learningRate", lrOpt, { gt: 0 });
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) fail(fn, "options.betas", "a pair [β1, β2]", betas);
    const beta1 = checkNumber(fn, "options.betas[0]", betas[0], { min: 0, lt: 1 });
    const beta2 = checkNumber(fn, "options.betas[1]", betas[1], { min: 0, lt: 1 });
    const alpha = checkNumber(fn, "options.alpha", options.alpha ?? 50, { min: 0 });
    const lw = checkNumber(fn, "options.labelledWeight", options.labelledWeight ?? 1, { gt: 0 });
    const beta = checkNumber(fn, "options.beta", options.beta ?? 1, { min: 0 });
    const binarize = checkBool(fn, "options.binarize", options.binarize ?? false);
    if (binarize && this.config.likelihood.type !== "bernoulli") {
      fail(fn, "options.binarize", "false for a Gaussian likelihood (binarization makes Bernoulli targets)", binarize);
    }
    const tau = relaxation(fn, options.gumbelSoftmax);
    for (const cb of ["onProgress", "onEpochEnd"] as const) {
      if (options[cb] !== undefined && typeof options[cb] !== "function") fail(fn, `options.${cb}`, "a function", options[cb]);
    }
    const val = options.validation;
    const valX = val ? this.input(fn, val.x, "options.validation.x") : null;
    const valY = val && valX ? this.labels(fn, val.labels, valX.rows, "options.validation.labels") : null;
    const signal = options.signal;
    signal?.throwIfAborted();
    if (this.threads > 1 && !this.obj.pool) {
      // (a worker died in an earlier call: a new pool, or one thread if none can start)
      try {
        await this.obj.startPool();
      } catch (e) {
        console.warn(`${fn}: could not start a new pool of ${this.threads} threads (${(e as Error).message}); running on one thread`);
      }
    }
    const { inputDim: D, seed } = this.config;
    const labelledCrc = crc32(new Uint8Array(yl.buffer), crc32(new Uint8Array(xl.data.buffer, xl.data.byteOffset, xl.data.byteLength)));
    if (resume && (resume.extra.labelledRows !== xl.rows || resume.extra.labelledCrc !== labelledCrc)) {
      throw new Error(`${fn}: the checkpoint's run trained on other labelled data (${resume.extra.labelledRows} rows); ` +
        `labelled has ${xl.rows} rows${resume.extra.labelledRows === xl.rows ? " with other values or labels" : ""}. Resume with the same data.`);
    }
    if (resume) {
      for (const k of ["lStream", "lPos", "uSum", "correct", "epochSteps"]) {
        const v = resume.extra[k];
        if (v === undefined || (k !== "uSum" && !(Number.isInteger(v) && v >= 0 && (k !== "lPos" || v <= xl.rows)))) {
          fail(fn, `the checkpoint's metadata.checkpoint.run.extra.${k}`, k === "uSum" ? "a number" : `an integer ≥ 0${k === "lPos" ? ` and ≤ ${xl.rows}` : ""}`, v);
        }
      }
    }
    // the labelled set's order: a permutation keyed by the step count at which the pass began
    const from = resume?.position ?? { epoch: 0, step: 0, epochStart: this.steps, lossSum: 0, seen: 0, seconds: 0 };
    const st = resume?.extra ?? { lStream: 0, lPos: 0, uSum: 0, correct: 0, epochSteps: 0 };
    let { lStream, lPos, uSum, correct, epochSteps } = st;
    let lOrder = new SeededRandom(seed ^ 0x2545f491, lStream).permutation(xl.rows);
    this.resumeFrom = null;
    const run = this.run = new LiveRun(xu, {
      epochs, batchSize: Bu, labelledBatchSize: Bl, learningRate: typeof lrOpt === "function" ? SCHEDULE : lrOpt, betas: [beta1, beta2], alpha, labelledWeight: lw, beta, binarize, gumbelSoftmax: tau,
    }, from, () => ({ lStream, lPos, uSum, correct, epochSteps, labelledRows: xl.rows, labelledCrc }));
    const stepLabels = new Int32Array(Bl);
    const lrAt = (epoch: number, s: number) =>
      typeof lrOpt === "function" ? checkNumber(fn, `options.learningRate(${epoch}, ${s})`, lrOpt(epoch, s), { gt: 0 }) : lrOpt;
    return trainEpochs<SemiSupervisedEpoch>({
      epochs, rows: xu.rows, batchSize: Bu, signal, from,
      steps: () => this.steps,
      at: (p) => (run.position = p),
      order: (epochStart) => epochOrder(seed, epochStart, xu.rows),
      step: (order, s, bu, epoch, stepInEpoch) => {
        const ws = this.obj.workspace(Bl, Bu);
        const xc = this.f32(ws.xc, (Bl + bu) * D);
        for (let b = 0; b < Bl; b++) {
          if (lPos === xl.rows) {
            lStream = this.steps + 1;
            lOrder = new SeededRandom(seed ^ 0x2545f491, lStream).permutation(xl.rows);
            lPos = 0;
          }
          const i = lOrder[lPos++];
          xc.set(xl.data.subarray(i * D, (i + 1) * D), b * D);
          stepLabels[b] = yl[i];
        }
        for (let b = 0; b < bu; b++) {
          const i = order![s + b];
          xc.set(xu.data.subarray(i * D, (i + 1) * D), (Bl + b) * D);
        }
        const t = this.adamSteps + 1;
        this.obj.caller = fn; // (a callback may have called another method since)
        const r = this.obj.pass(ws, stepLabels, Bl, bu, alpha, lw, this.steps,
          { tau, beta, binarize, adam: { lr: lrAt(epoch, stepInEpoch), beta1, beta2, adamEps: 1e-8, weightDecay: 0, t } });
        if (!Number.isFinite(r.loss)) {
          throw new Error(`${fn}: the loss became ${r.loss} at epoch ${epoch + 1} (optimiser step ${this.steps + 1}); ` +
            "the parameters are those of the last finite step. Try a lower learningRate or alpha.");
        }
        this.adamSteps = t;
        this.steps++;
        uSum += r.unlabelled * bu;
        correct += r.correct;
        epochSteps++;
        return r.loss;
      },
      record: (epoch, lossSum, seen, seconds) => {
        const rec: SemiSupervisedEpoch = {
          epoch: epoch + 1, loss: lossSum / epochSteps, unlabelledLoss: uSum / seen, labelledAccuracy: correct / (epochSteps * Bl), seconds,
        };
        if (valX && valY) rec.accuracy = this.accuracy(valX, valY);
        uSum = correct = epochSteps = 0;
        return rec;
      },
      progress: options.onProgress && ((epoch, s, stepsPerEpoch, lossSum, seen, seconds) => options.onProgress!({
        epoch: epoch + 1, epochs, step: s + 1, stepsPerEpoch, loss: lossSum / (s + 1), examplesPerSecond: seen / Math.max(seconds, 1e-9),
      })),
      onEpochEnd: options.onEpochEnd,
    });
  }


  /**
   * The loss −(mean_u U + λ·mean_l [L + α·log q(y|x)]) (λ = labelledWeight, default 1; z's KL in
   * every bound weighted by `beta`, default 1) and every parameter's gradient for one
   * batch, nothing updated; `eps` ([Bl + C·Bu, Z]: labelled rows, then C rows per unlabelled
   * example) fixes the noise. For checking against other implementations.
   */
  lossAndGrads(labelled: { x: MatrixLike; labels: ArrayLike<number> }, unlabelled: MatrixLike,
    opts: { alpha?: number; labelledWeight?: number; beta?: number; eps?: Float32Array; gumbelSoftmax?: { temperature: number }; gumbel?: Float32Array } = {}):
    { loss: number; grads: Record<string, Float32Array> } {
    const fn = "SemiSupervisedVAE.lossAndGrads";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ["alpha", "labelledWeight", "beta", "eps", "gumbelSoftmax", "gumbel"]);
    const lw = checkNumber(fn, "options.labelledWeight", opts.labelledWeight ?? 1, { gt: 0 });
    const tau = relaxation(fn, opts.gumbelSoftmax);
    const xl = this.input(fn, labelled.x, "labelled.x"), yl = this.labels(fn, labelled.labels, xl.rows, "labelled.labels");
    const xu = this.input(fn, unlabelled, "unlabelled");
    const alpha = checkNumber(fn, "options.alpha", opts.alpha ?? 50, { min: 0 });
    const beta = checkNumber(fn, "options.beta", opts.beta ?? 1, { min: 0 });
    const R = xl.rows + (tau ? 1 : this.config.classes) * xu.rows;
    if (opts.eps !== undefined && (!(opts.eps instanceof Float32Array) || opts.eps.length !== R * this.config.latentDim)) {
      fail(fn, "options.eps", `a Float32Array of ${R * this.config.latentDim} values ([labelled + (classes or 1) × unlabelled rows, latentDim])`, opts.eps);
    }
    if (opts.gumbel !== undefined && (!tau || !(opts.gumbel instanceof Float32Array) || opts.gumbel.length !== xu.rows * this.config.classes)) {
      fail(fn, "options.gumbel", `with options.gumbelSoftmax, a Float32Array of ${xu.rows * this.config.classes} Gumbel draws ([unlabelled rows, classes])`, opts.gumbel);
    }
    const ws = this.obj.workspace(xl.rows, xu.rows);
    const D = this.config.inputDim;
    this.f32(ws.xc, xl.rows * D).set(xl.data);
    this.f32(ws.xc + 4 * xl.rows * D, xu.rows * D).set(xu.data);
    const r = this.obj.pass(ws, yl, xl.rows, xu.rows, alpha, lw, 0, { eps: opts.eps, tau, gumbel: opts.gumbel, beta });
    return { loss: r.loss, grads: this.params.dict("gradients") };
  }

  /** q(y|x) for every row of x: [N, C] probabilities. */
  classProbs(x: MatrixLike): Float32Array {
    const fn = "SemiSupervisedVAE.classProbs";
    this.checkAlive(fn);
    const m = this.input(fn, x);
    return this.probs(m);
  }

  private probs(m: Matrix): Float32Array {
    const { inputDim: D, classes: C } = this.config;
    const out = new Float32Array(m.rows * C);
    for (let s = 0; s < m.rows; s += 500) {
      const B = Math.min(500, m.rows - s);
      const ws = this.obj.workspace(B, 0);
      this.f32(ws.xc, B * D).set(m.data.subarray(s * D, (s + B) * D));
      this.obj.classify(ws, B);
      const l = this.f32(ws.logits, B * C);
      for (let b = 0; b < B; b++) {
        let mx = -Infinity, sum = 0;
        for (let y = 0; y < C; y++) mx = Math.max(mx, l[b * C + y]);
        for (let y = 0; y < C; y++) sum += Math.exp(l[b * C + y] - mx);
        for (let y = 0; y < C; y++) out[(s + b) * C + y] = Math.exp(l[b * C + y] - mx) / sum;
      }
    }
    return out;
  }

  /** The most probable class under q(y|x) for every row of x. */
  classify(x: MatrixLike): Int32Array {
    const fn = "SemiSupervisedVAE.classify";
    this.checkAlive(fn);
    const p = this.probs(this.input(fn, x));
    const C = this.config.classes, n = p.length / C;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let arg = 0;
      for (let y = 1; y < C; y++) if (p[i * C + y] > p[i * C + arg]) arg = y;
      out[i] = arg;
    }
    return out;
  }

  /** The fraction of rows of x that classify() labels correctly. */
  accuracy(x: MatrixLike, labels: ArrayLike<number>): number {
    const fn = "SemiSupervisedVAE.accuracy";
    const pred = this.classify(x);
    const y = this.labels(fn, labels, pred.length, "labels");
    let ok = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === y[i]) ok++;
    return ok / pred.length;
  }

  /**
   * The conditional-generation grid: `rows` draws of z ~ N(0, I) (seeded), each decoded with every
   * class 0…C−1 — [rows·C, D] decoder means, row r's class y at row r·C + y. A column that shows
   * its class in every row is a model whose classes live in y, not in z.
   */
  generateByClass(rows = 8, seed = this.config.seed): Float32Array {
    const fn = "SemiSupervisedVAE.generateByClass";
    this.checkAlive(fn);
    checkInt(fn, "rows", rows, 1, 1 << 16);
    checkInt(fn, "seed", seed, 0);
    const { latentDim: Z, classes: C } = this.config;
    const z = new Float32Array(rows * C * Z), rng = new SeededRandom(seed, 3);
    for (let r = 0; r < rows; r++) {
      const zr = Array.from({ length: Z }, () => rng.normal());
      for (let y = 0; y < C; y++) z.set(zr, (r * C + y) * Z);
    }
    return this.generate(z, Array.from({ length: rows * C }, (_, i) => i % C));
  }

  /** Decoder means of p(x|y,z) (Bernoulli probabilities, or the Gaussian's means) for rows of z ([n, Z]) and classes y ([n]): conditional generation. */
  generate(z: MatrixLike, y: ArrayLike<number>): Float32Array {
    const fn = "SemiSupervisedVAE.generate";
    this.checkAlive(fn);
    const { inputDim: D, latentDim: Z, classes: C } = this.config;
    const m = toMatrix(fn, "z", z, Z);
    const labels = this.labels(fn, y, m.rows, "y");
    const out = new Float32Array(m.rows * D);
    for (let s = 0; s < m.rows; s += 500) {
      const n = Math.min(500, m.rows - s);
      const ws = this.obj.workspace(0, Math.ceil(n / C));
      this.obj.concatOneHot(ws.decIn, m.data, Z, (r) => s + r, (r) => labels[s + r], n);
      this.obj.decode(ws, n);
      const o = this.f32(ws.out, n * D);
      if (this.config.likelihood.type === "gaussian") out.set(o, s * D);
      else for (let i = 0; i < n * D; i++) out[s * D + i] = 1 / (1 + Math.exp(-o[i]));
    }
    return out;
  }

  /** Copies of every parameter tensor by name (nn.Linear layout). */
  stateDict(): Record<string, Float32Array> {
    this.checkAlive("SemiSupervisedVAE.stateDict");
    return this.params.dict();
  }

  /** Sets parameters by name; every given tensor must match its shape (with `strict`, every tensor must be given). Others keep their values. */
  loadStateDict(dict: Record<string, ArrayLike<number>>, opts: { strict?: boolean } = {}): void {
    this.checkAlive("SemiSupervisedVAE.loadStateDict");
    this.params.load("SemiSupervisedVAE.loadStateDict", dict, opts.strict);
  }

  /** The model as safetensors (configuration in the metadata). */
  save(): Uint8Array {
    this.checkAlive("SemiSupervisedVAE.save");
    return this.params.save({ format: FORMAT, config: JSON.stringify(this.config), steps: String(this.steps) });
  }

  /**
   * The model with Adam's moments and the training state (where the last fit stands, its
   * options, a checksum of its data): resume() continues the run bit for bit. load() also reads it.
   */
  checkpoint(): Uint8Array {
    this.checkAlive("SemiSupervisedVAE.checkpoint");
    return this.params.save({
      format: FORMAT, config: JSON.stringify(this.config), steps: String(this.steps),
      [CHECKPOINT_KEY]: encodeCheckpoint({ adamSteps: this.adamSteps, run: this.run?.stored() ?? null }),
    }, true);
  }

  /** A model from a checkpoint(), with its optimizer state: the next fit continues the run where it stopped. */
  static async resume(bytes: Uint8Array, options: { build?: BuildName; threads?: number | "auto" } = {}): Promise<SemiSupervisedVAE> {
    return SemiSupervisedVAE.read("SemiSupervisedVAE.resume", bytes, options, true);
  }

  /**
   * A model written by save() or checkpoint() (Adam starts afresh: step 0, zero moments). The
   * file, its metadata and its tensors are checked before memory is taken; every failure names
   * this function.
   */
  static async load(bytes: Uint8Array, options: { build?: BuildName; threads?: number | "auto" } = {}): Promise<SemiSupervisedVAE> {
    return SemiSupervisedVAE.read("SemiSupervisedVAE.load", bytes, options, false);
  }

  private static async read(fn: string, bytes: Uint8Array, options: { build?: BuildName; threads?: number | "auto" }, resume: boolean): Promise<SemiSupervisedVAE> {
    checkKeys(fn, "options", options, ["build", "threads"]);
    const { tensors, metadata } = decodeSafetensors(bytes, fn);
    if (metadata.format !== FORMAT || metadata.config === undefined) throw new Error(`${fn}: not an M2 model file written by SemiSupervisedVAE.save (format '${(metadata.format ?? "none").slice(0, 40)}')`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(metadata.config);
    } catch (e) {
      throw new Error(`${fn}: metadata.config is not JSON (${(e as Error).message})`);
    }
    const config = resolveM2Config(fn, parsed, "metadata.config");
    const steps = /^\d{1,10}$/.test(metadata.steps ?? "0") ? Number(metadata.steps ?? 0) : NaN;
    if (!(steps <= 0xffffffff)) fail(fn, "metadata.steps", "an integer in [0, 4294967295] (the optimiser steps taken)", metadata.steps);
    const L = new ParamLayout();
    layOutNets(L, config);
    const dict = fileTensors(fn, L.tensors, tensors);
    const state = trainingState(fn, metadata, tensors, resume, "SemiSupervisedVAE.load");
    const m = await SemiSupervisedVAE.start(fn, config, options.build, options.threads);
    restore(fn, m, dict, steps, state, tensors);
    return m;
  }

  /** Stops its worker pool and releases the model (its methods then throw). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.obj.dispose();
    this.obj = null as unknown as M2Objective;
  }

  private input(fn: string, x: unknown, arg = "x"): Matrix {
    if (this.config.likelihood.type === "gaussian") return toMatrix(fn, arg, x, this.config.inputDim);
    return toMatrix(fn, arg, x, this.config.inputDim, {
      unit: true, unitExpected: "values in [0, 1]: M2's decoder is Bernoulli (scale pixels by 1/255, or create it with likelihood 'gaussian')",
    });
  }

  private labels(fn: string, y: unknown, n: number, arg: string): Int32Array {
    const C = this.config.classes;
    if (!y || typeof (y as ArrayLike<number>).length !== "number") fail(fn, arg, `an array of ${n} class labels in 0…${C - 1}`, y);
    const a = y as ArrayLike<number>;
    if (a.length !== n) fail(fn, arg, `${n} class labels (one per row)`, y);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(a[i]) || a[i] < 0 || a[i] >= C) fail(fn, `${arg}[${i}]`, `a class label in 0…${C - 1}`, a[i]);
      out[i] = a[i];
    }
    return out;
  }
}
