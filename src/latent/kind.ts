// A latent variable kind: the distribution q(z|x) the encoder's head parameterises, how z is
// sampled from it, its densities and KL, the backward pass into the head, and how the model
// reconstructs through it and samples its prior. The engine runs the row functions on every
// thread (pure functions of kernels, plan, workspace and a row range); the model calls the rest.
// Adding a kind: one file in this folder (with its kernels in assembly/ where it needs new
// ones) and its line in latent/index.ts.
import type { Kernels } from "../../bindings/abi.js";
import type { Layer } from "../nn/dense.js";
import type { ParamLayout } from "../nn/layout.js";
import type { StaticPlan } from "../nn/plan.js";
import type { SlotTable, Workspace } from "../nn/workspace.js";
import type { Matrix } from "../util/validate.js";
import type { Capability } from "./capability.js";

/** The Gumbel-softmax temperature and straight-through switch of a step (categorical latents). */
export interface Relaxation {
  tau: number;
  hard: boolean;
}

export interface RowArgs {
  /** samples per example */
  K: number;
  relax: Relaxation;
}

export interface BackwardArgs extends RowArgs {
  /** the estimator's encoder gradient mode (GRAD) */
  gradMode: number;
  /** scale the encoder gradient per row by ws.r */
  useR: boolean;
  /** the analytic estimators: the weight of the analytic KL (β/B for a batch mean); the total and path derivatives: β */
  klScale: number;
  /** free bits λ of the KL (0: none) */
  freeBits: number;
}

/** The resolved latent options of a model (model/config.ts ResolvedConfig has them). */
export interface LatentOptions {
  latent: { type: "gaussian" } | { type: "categorical"; variables: number; categories: number };
  flow: { type: "planar" | "radial"; length: number } | { type: "iaf"; length: number; hidden: number } | null;
}

/** How a kind is chosen and configured in VAEOptions. */
export interface LatentOption {
  /**
   * 'latent': a latent type (`latent: 'name'` or `latent: {type: 'name', …}`); 'flow': a flow on
   * the Gaussian latent (`flow: {type: 'name', …}`).
   */
  key: "latent" | "flow";
  /** the option's keys besides `type` */
  keys: readonly string[];
  /** how messages show the option, e.g. "{type: 'categorical', variables, categories}" */
  form: string;
  /**
   * The resolved option (kept in the model's configuration) from the given one, and the latent
   * width, from the width given (or its default; `given`: whether it was given). `arg` names the
   * options in messages ('options', or 'metadata.config' for a file's).
   */
  resolve(fn: string, o: Record<string, unknown>, latentDim: number, given: boolean, arg: string): { resolved: object; latentDim: number };
}

/** What a kind's build gets: the latent width, the width of the encoder's last hidden layer (or D), its options. */
export interface BuildContext extends LatentOptions {
  Z: number;
  top: number;
}

/** What a kind's reconstruct and prior sampling may ask of the model. */
export interface LatentModel {
  readonly plan: StaticPlan;
  readonly Z: number;
  readonly k: Kernels;
  f32(bytePtr: number, n: number): Float32Array;
  /** The latent head's outputs [B, width] for the rows of x, chunk by chunk: use(h, first row, B). */
  heads(x: Matrix, use: (h: Float32Array, s: number, B: number) => void): void;
  /** Decoder outputs (Bernoulli probabilities or Gaussian means) for the rows of z. */
  decode(z: Float32Array): Float32Array;
  /** n rows of Z noise values keyed (seed, stream, row), from the normal or the Gumbel generator. */
  noise(kind: "normal" | "gumbel", n: number, seed: number, stream: number): Float32Array;
  /** Decoder outputs of one sample per row of x through the whole model, its noise written by fill(eps, first row, B). */
  sampleOutputs(x: Matrix, fill: (eps: number, s: number, B: number) => void): Float32Array;
}

/** A layer of the kind's own, with its dY, its input and its row count, for the weight phase. */
export interface OwnLayer {
  l: Layer;
  dy: number;
  x: number;
  rows: number;
}

export interface LatentKind {
  /** how users and messages name it */
  readonly describe: string;
  /** how VAEOptions select and configure it */
  readonly option: LatentOption;
  /** what q(z|x) gives the estimators */
  readonly provides: readonly Capability[];
  /** the `expected` part of the error refusing estimator `name`, which needs `missing`; `allowed` are the estimators it takes */
  refuse(name: string, missing: readonly Capability[], allowed: readonly string[]): string;
  readonly defaultEstimator: "analytic" | "td";
  /** the generator that fills eps */
  readonly noise: "normal" | "gumbel";
  /** takes the Gumbel-softmax step options (temperature, straightThrough); evaluation then uses exact discrete samples */
  readonly relaxed: boolean;

  // ---- construction (the coordinating thread)
  /** Adds the encoder's head (and any layers of the kind's own) to the layout; returns the head and the kind's plan data. */
  build(L: ParamLayout, c: BuildContext): { head: Layer; plan: { kind: string } };
  /** Initialisation after nn.Linear's default (params: the whole parameter block). */
  init?(params: Float32Array, p: StaticPlan): void;
  /** workspace slots of the kind's own */
  readonly slots: SlotTable;

  // ---- rows (every thread, examples [b0, b1), rows b·K + k)
  /** after the encoder: heads of the kind's own */
  encodeExtras?(k: Kernels, p: StaticPlan, ws: Workspace, b0: number, b1: number, scratch: number): void;
  /** z (ws.z, the decoder's input) from the head (ws.h) and the noise (ws.eps) */
  sample(k: Kernels, p: StaticPlan, ws: Workspace, a: RowArgs, b0: number, b1: number, scratch: number): void;
  /**
   * log p(z), log q(z|x) and log w = log p(x|z) + log p(z) − log q(z|x) per row (kinds with a
   * density); `freeBits` λ > 0 floors each dimension's Monte Carlo KL (kinds providing 'weighedDensity')
   */
  logDensities?(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, freeBits: number): void;
  /** the analytic KL per example; `freeBits` λ > 0 floors each dimension's at λ (kinds that take it: `freeBits`) */
  kl?(k: Kernels, p: StaticPlan, ws: Workspace, b0: number, b1: number, freeBits: number): void;
  /** ∂loss/∂z (ws.dz, from the decoder) → ∂loss/∂head (ws.dh), with the estimator's row weights */
  backward(k: Kernels, p: StaticPlan, ws: Workspace, a: BackwardArgs, b0: number, b1: number, scratch: number): void;
  /** heads of the kind's own that read the encoder's last hidden layer: their layer and dY */
  sideHeads?(p: StaticPlan, ws: Workspace): { l: Layer; dy: number }[];
  /** the kind's own layers for the weight phase */
  ownLayers?(p: StaticPlan, ws: Workspace, B: number, R: number): OwnLayer[];

  // ---- the model's view
  /** mu and logvar of the (base) Gaussian q(z|x); absent: encode, logLikelihood and activeUnits are refused */
  encode?(m: LatentModel, x: Matrix): { mu: Float32Array; logvar: Float32Array };
  /** q(y|x) of a categorical latent */
  latentProbs?(m: LatentModel, x: Matrix): Float32Array;
  /** decoder outputs of the mean code (or of one sample) of each row of x */
  reconstruct(m: LatentModel, x: Matrix, sample: boolean, seed: number): Float32Array;
  /** n codes drawn from the prior */
  samplePrior(m: LatentModel, n: number, seed: number): Float32Array;
}
