// A VAE's state and its plumbing, below the public facade (src/vae.ts): the configuration, the
// WebAssembly instance and memory, the parameters, the engine runner, the step count, and the
// view its latent kind has of it. Training, evaluation and diagnostics are functions over it
// (model/fit.ts, evaluate.ts, diagnostics.ts).
import { ACT, type Kernels } from "../../bindings/abi.js";
import { Arena } from "../../bindings/arena.js";
import { compileBuild, defaultBuild, instantiate, SHARED_MAX_PAGES, warmUp, type BuildName, type Runtime } from "../../bindings/load.js";
import { CMD, CTRL } from "../engine/ctrl.js";
import { decodeRows } from "../engine/step.js";
import { makeEstimator } from "../estimators/index.js";
import { kindFor, type LatentKind, type LatentModel } from "../latent/index.js";
import { gridOf, isDense, widthOf, type NetLayer } from "../nn/conv.js";
import { ParamLayout } from "../nn/layout.js";
import type { StaticPlan } from "../nn/plan.js";
import { floatsPerRow } from "../nn/workspace.js";
import { decodeSafetensors } from "../files/safetensors.js";
import { checkKeys, checkOneOf, fail, toMatrix, type Matrix } from "../util/validate.js";
import { learnedLogvar, resolveConfig, type ResolvedConfig, type VAEOptions } from "./config.js";
import { CHECKPOINT_KEY, encodeCheckpoint, restore, trainingState, type LiveRun, type Run } from "./checkpoint.js";
import { fileTensors, Parameters } from "./params.js";
import { buildLayers, type Shape } from "./network.js";
import { Runner } from "./runner.js";
import { availableCores, resolveThreads } from "./threads.js";

/** Rows per encoder or decoder pass outside training (bounded memory). */
export const CHUNK = 500;
/** Workspace floats an evaluation pass may take (128 MiB): conv models then pass fewer rows at a time. */
const PASS_FLOATS = 32 << 20;

/** The safetensors format tag of a VAE file. */
export const VAE_FORMAT = "vae-wasm/1";

export class VaeModel implements LatentModel {
  readonly kind: LatentKind;
  readonly params: Parameters;
  readonly runner: Runner;
  /** Optimiser steps taken (the key of training noise and of an epoch's row order). */
  steps = 0;
  /**
   * Adam's step count t (its bias correction): the steps since its moments started at zero.
   * Equal to `steps` while a model trains; 0 after VAE.load (which starts Adam afresh).
   */
  adamSteps = 0;
  /** The fit in progress or last finished (null after steps outside fit): what a checkpoint continues. */
  run: LiveRun | null = null;
  /** A checkpoint's run, which the next fit continues (VAE.resume). */
  resumeFrom: Run | null = null;
  disposed = false;
  private rt: Runtime;

  /**
   * Compiles (once per process) the build and creates a model; threads > 1 start the worker pool.
   * `layout` (from a file being loaded) saves laying the model out twice.
   */
  static async create(fn: string, options: VAEOptions, resolved?: { config: ResolvedConfig; layout: VaeLayout }): Promise<VaeModel> {
    const config = resolved?.config ?? resolveConfig(fn, options);
    const build = options.build ?? defaultBuild();
    checkOneOf(fn, "options.build", build, ["relaxed", "simd", "scalar"] as const);
    const threads = resolveThreads(fn, options.threads ?? 1, options.threads === "auto" ? await availableCores() : 1);
    const layout = resolved?.layout ?? layOutVae(config);
    checkSize(fn, layout.L, threads > 1);
    const module = await compileBuild(build, threads > 1);
    warmUp(module, build, threads > 1); // once per module: the first training step runs optimised code
    const m = new VaeModel(config, build, module, threads, layout);
    if (threads > 1) {
      try {
        await m.runner.startPool();
      } catch (e) {
        m.dispose();
        throw e;
      }
    }
    return m;
  }

  private constructor(readonly config: ResolvedConfig, readonly build: BuildName, module: WebAssembly.Module, readonly threads: number,
    v: VaeLayout) {
    // Parameters are laid out first; instantiate with room for them, grow for the workspace.
    this.rt = instantiate(module, build, 1 << 20, threads > 1);
    const arena = new Arena(this.rt.k.heapBase());
    const { inputDim: D, latentDim: Z, likelihood: lik } = config;
    const { L, enc, dec, latent, decLogvar } = v;
    this.kind = v.kind;
    // (on a pool, two banks of values and moments: a step interrupted by a dying worker leaves the last one whole)
    this.params = new Parameters(this.rt, arena, L, threads > 1 ? 2 : 1);
    const plan: Omit<StaticPlan, "pLayout" | "layoutSlots"> = {
      D, Z, enc, dec, latent, decLogvar, nParams: L.floats, ...this.params.base, bankBytes: this.params.bankBytes,
      likelihood: lik.type === "bernoulli" ? { type: "bernoulli" } : { type: "gaussian", logVar: Math.log(lik.variance) },
      maxDim: Math.max(D, ...L.layers.flatMap((l) => [l.inDim, l.outDim])),
      maxGrid: Math.max(1, ...L.layers.map(gridOf)),
    };
    const flopsPerRow = 2 * L.layers.reduce((a, l) => a + l.inDim * l.outDim * gridOf(l), 0);
    this.runner = new Runner(this.rt, arena, plan, threads, flopsPerRow, this.params);
    this.runner.describeState = () => `the parameters and Adam moments of optimiser step ${this.steps}`;
    // initialisation: nn.Linear's default, then the learned variance and the kind's own
    this.params.initUniform(config.seed);
    if (decLogvar >= 0) this.params.values().fill(Math.log((lik as { variance: number }).variance), decLogvar, decLogvar + D);
    this.kind.init?.(this.params.values(), this.runner.plan);
    this.params.repack();
  }

  /** Rows (examples × samples) a pass over data may hold: at most `cap`, fewer where a row's workspace is large. */
  rowsPerPass(cap: number): number {
    return Math.max(1, Math.min(cap, Math.floor(PASS_FLOATS / floatsPerRow(this.plan, this.threads))));
  }

  get k(): Kernels {
    return this.rt.k;
  }

  get plan(): StaticPlan {
    return this.runner.plan;
  }

  get Z(): number {
    return this.config.latentDim;
  }

  f32(bytePtr: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, bytePtr, n);
  }

  checkAlive(fn: string): void {
    if (this.disposed) throw new Error(`${fn}: this VAE was disposed; create or load a new one`);
    this.runner.caller = fn;
  }

  /** Threads it runs on now: 1 after a pool worker died, until a new pool starts (ensurePool). */
  get runningThreads(): number {
    return this.runner.pool ? this.threads : 1;
  }

  /**
   * Starts a new worker pool when the model has threads but lost its pool (a worker died); if
   * that fails, says why once and goes on on one thread.
   */
  async ensurePool(fn: string): Promise<void> {
    if (this.threads === 1 || this.runner.pool) return;
    try {
      await this.runner.startPool();
    } catch (e) {
      console.warn(`${fn}: could not start a new pool of ${this.threads} threads (${(e as Error).message}); running on one thread`);
    }
  }

  /** x as a matrix of the model's input width (values in [0, 1] for a Bernoulli likelihood). */
  input(fn: string, x: unknown, arg = "x", deferValues = false): Matrix {
    return toMatrix(fn, arg, x, this.config.inputDim, { unit: this.config.likelihood.type === "bernoulli", deferValues });
  }

  /** 'analytic', or 'td' where the latent has no closed-form KL (a flow). */
  get defaultEstimator(): "analytic" | "td" {
    return this.kind.defaultEstimator;
  }

  // ---------------------------------------------------------------- the latent kind's view (LatentModel)

  heads(x: Matrix, use: (h: Float32Array, s: number, B: number) => void): void {
    const width = widthOf(this.plan.enc[this.plan.enc.length - 1]);
    const chunk = this.rowsPerPass(CHUNK);
    for (let s = 0; s < x.rows; s += chunk) {
      const B = Math.min(chunk, x.rows - s);
      const ws = this.runner.workspace(B, 1);
      this.runner.loadBatch(ws, x, null, s, B);
      const ci = this.runner.ints;
      ci[CTRL.B] = B; ci[CTRL.binarize] = 0;
      this.runner.dispatch(ws, CMD.encode);
      use(this.f32(ws.h, B * width), s, B);
    }
  }

  decode(z: Float32Array): Float32Array {
    const { inputDim: D, latentDim: Z } = this.config;
    const rows = z.length / Z;
    const out = new Float32Array(rows * D);
    const chunk = this.rowsPerPass(CHUNK);
    for (let s = 0; s < rows; s += chunk) {
      const R = Math.min(chunk, rows - s);
      const ws = this.runner.workspace(1, R);
      this.f32(ws.z, R * Z).set(z.subarray(s * Z, (s + R) * Z));
      decodeRows(this.k, this.runner.livePlan, ws, 0, R, ws.scratch[0]);
      const y = this.f32(ws.out, R * D);
      if (this.config.likelihood.type === "bernoulli") {
        for (let i = 0; i < R * D; i++) out[s * D + i] = 1 / (1 + Math.exp(-y[i]));
      } else {
        out.set(y, s * D);
      }
    }
    return out;
  }

  noise(kind: "normal" | "gumbel", n: number, seed: number, stream: number): Float32Array {
    const Z = this.config.latentDim;
    const ws = this.runner.workspace(1, n);
    (kind === "gumbel" ? this.k.gumbelNoise : this.k.randomNormal)(ws.eps, seed, stream, 0, 1, Z, 0, n, 0, 0);
    return this.f32(ws.eps, n * Z).slice();
  }

  sampleOutputs(x: Matrix, fill: (eps: number, s: number, B: number) => void): Float32Array {
    const D = this.config.inputDim;
    const out = new Float32Array(x.rows * D);
    const est = makeEstimator("td");
    const chunk = this.rowsPerPass(CHUNK);
    for (let s = 0; s < x.rows; s += chunk) {
      const B = Math.min(chunk, x.rows - s);
      const ws = this.runner.workspace(B, 1);
      this.runner.loadBatch(ws, x, null, s, B);
      fill(ws.eps, s, B);
      this.runner.forward(ws, B, 1, est, { drawEps: false, seed: this.config.seed }); // ws.out: probabilities (Bernoulli) or means
      out.set(this.f32(ws.out, B * D), s * D);
    }
    return out;
  }

  /**
   * Sets the decoder's output bias from the data mean, so training starts at the marginal:
   * logit(mean) for a Bernoulli decoder (mean clipped to [1e-3, 1 − 1e-3]), the mean for a
   * Gaussian one. The IWAE paper's initialisation.
   */
  initializeOutputBias(x: Matrix): void {
    const D = this.config.inputDim;
    const mean = new Float64Array(D);
    for (let i = 0; i < x.rows; i++) for (let d = 0; d < D; d++) mean[d] += x.data[i * D + d];
    const out = this.plan.dec[this.plan.dec.length - 1];
    if (!isDense(out)) throw new Error("VAE.initializeOutputBias: the decoder's last layer is not dense (a convolution's bias is per channel, not per output)");
    const bias = this.params.values().subarray(out.b, out.b + D);
    for (let d = 0; d < D; d++) {
      const p = mean[d] / x.rows;
      if (this.config.likelihood.type === "bernoulli") {
        const q = Math.min(Math.max(p, 1e-3), 1 - 1e-3);
        bias[d] = Math.log(q / (1 - q));
      } else {
        bias[d] = p;
      }
    }
  }

  // ---------------------------------------------------------------- files

  /**
   * The model as a safetensors file: tensors by name, the configuration and step count in the
   * metadata; `checkpoint` adds Adam's moments and the training state (model/checkpoint.ts).
   */
  save(extra: Record<string, string>, checkpoint = false): Uint8Array {
    const meta: Record<string, string> = { ...extra, format: VAE_FORMAT, config: JSON.stringify(this.config), steps: String(this.steps) };
    if (checkpoint) meta[CHECKPOINT_KEY] = encodeCheckpoint({ adamSteps: this.adamSteps, run: this.run?.stored() ?? null });
    return this.params.save(meta, checkpoint);
  }

  /**
   * A model from a file written by save(), or any safetensors file with the documented tensor
   * names when `config` gives the architecture. Everything is checked before memory is taken:
   * the file against the format (and its checksum), its metadata, and its tensors against the
   * configuration's; every failure names `fn`.
   */
  static async load(fn: string, bytes: Uint8Array, options: { config?: VAEOptions; build?: BuildName; threads?: number | "auto" },
    resume = false): Promise<VaeModel> {
    checkKeys(fn, "options", options, ["config", "build", "threads"]);
    const { tensors, metadata } = decodeSafetensors(bytes, fn);
    if (metadata.format !== undefined && metadata.format !== VAE_FORMAT) {
      throw new Error(`${fn}: the file's format is '${metadata.format.slice(0, 40)}', not '${VAE_FORMAT}'` +
        (metadata.format.startsWith("vae-wasm-m2/") ? " (an M2 model: load it with SemiSupervisedVAE.load)" : ""));
    }
    let config: ResolvedConfig;
    if (options.config !== undefined) {
      config = resolveConfig(fn, options.config, "options.config");
    } else if (metadata.config !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(metadata.config);
      } catch (e) {
        throw new Error(`${fn}: metadata.config is not JSON (${(e as Error).message})`);
      }
      config = resolveConfig(fn, parsed as VAEOptions, "metadata.config");
    } else {
      throw new Error(`${fn}: the file has no vae-wasm configuration in its metadata; pass options.config ` +
        "({inputDim, latentDim, hidden, decoderHidden, activation, likelihood}) to load foreign weights");
    }
    let steps = 0;
    if (metadata.steps !== undefined) {
      steps = /^\d{1,10}$/.test(metadata.steps) ? Number(metadata.steps) : NaN;
      if (!(steps <= 0xffffffff)) fail(fn, "metadata.steps", "an integer in [0, 4294967295] (the optimiser steps taken)", metadata.steps);
    }
    const state = trainingState(fn, metadata, tensors, resume, "VAE.load");
    const layout = layOutVae(config);
    checkSize(fn, layout.L, false);
    const dict = fileTensors(fn, layout.L.tensors, tensors);
    const m = await VaeModel.create(fn, { build: options.build, threads: options.threads }, { config, layout });
    try {
      restore(fn, m, dict, steps, state, tensors);
    } catch (e) {
      m.dispose();
      throw e;
    }
    return m;
  }

  /** Releases the memory and the workers. */
  dispose(): void {
    this.runner.dispose();
    this.disposed = true;
    // Drop the references; the memory is garbage collected with the instance.
    this.rt = null as unknown as Runtime;
  }
}

/** A VAE's layers, named tensors and latent plan, from its configuration alone (no memory). */
export interface VaeLayout {
  L: ParamLayout;
  kind: LatentKind;
  enc: NetLayer[];
  dec: NetLayer[];
  latent: { kind: string };
  /** float offset of the learned per-output log-variance, or -1 */
  decLogvar: number;
}

export function layOutVae(config: ResolvedConfig): VaeLayout {
  const { inputDim: D, latentDim: Z, hidden, decoderHidden, activation } = config;
  const { name, kind } = kindFor(config);
  const L = new ParamLayout();
  const act = ACT[activation];
  if (config.encoder && config.decoder) {
    // layer lists: the encoder's, the latent head, the decoder's (its last layer outputs logits or means)
    const enc = buildLayers(L, "encoder", config.encoder, (config.inputShape ?? [D]) as Shape);
    const top = widthOf(enc[enc.length - 1]);
    const { head, plan: latent } = kind.build(L, { Z, top, latent: config.latent, flow: config.flow });
    if (latent.kind !== name) throw new Error(`vae-wasm: the '${name}' latent kind built a '${latent.kind}' plan`);
    enc.push(head);
    const dec = buildLayers(L, "decoder", config.decoder, [Z], ACT.identity);
    return { L, kind, enc, dec, latent, decLogvar: learnedLogvar(L, config.likelihood, config.inputDim) };
  }
  const enc: NetLayer[] = [], dec: NetLayer[] = [];
  let prev = D;
  hidden.forEach((h, i) => {
    const l = L.dense(prev, h, act);
    L.linear(`encoder.hidden.${i}`, l);
    enc.push(l);
    prev = h;
  });
  const { head, plan: latent } = kind.build(L, { Z, top: prev, latent: config.latent, flow: config.flow });
  if (latent.kind !== name) throw new Error(`vae-wasm: the '${name}' latent kind built a '${latent.kind}' plan`);
  enc.push(head);
  prev = Z;
  decoderHidden.forEach((h, i) => {
    const l = L.dense(prev, h, act);
    L.linear(`decoder.hidden.${i}`, l);
    dec.push(l);
    prev = h;
  });
  const out = L.dense(prev, D, ACT.identity);
  L.linear("decoder.out", out);
  dec.push(out);
  return { L, kind, enc, dec, latent, decLogvar: learnedLogvar(L, config.likelihood, config.inputDim) };
}


/** Refuses a model whose parameter blocks alone would not fit in WebAssembly's memory. */
function checkSize(fn: string, L: ParamLayout, shared: boolean): void {
  // values, m and v (twice with threads: model/params.ts), gradients; the forward panels; the masks
  const bytes = 4 * ((shared ? 7 : 4) * L.floats + L.packedFloats + L.maskFloats);
  const limit = (shared ? SHARED_MAX_PAGES : 65536) * 65536;
  if (bytes > limit) {
    throw new Error(`${fn}: the model has ${L.floats.toLocaleString("en")} parameters: their values, gradients and Adam's moments${shared ? " (values and moments twice with threads)" : ""} ` +
      `need ${(bytes / 2 ** 30).toFixed(1)} GiB, more than WebAssembly's ${limit / 2 ** 30} GiB memory${shared ? " with threads" : ""}`);
  }
}
