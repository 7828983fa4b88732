// A VAE's construction options, and their resolution into the configuration saved with it.
import type { BuildName } from "../../bindings/load.js";
import type { ParamLayout } from "../nn/layout.js";
import { resolveLatent, type LatentOptions } from "../latent/index.js";
import { checkBool, checkInt, checkKeys, checkNumber, checkOneOf, Described, fail } from "../util/validate.js";
import { resolveLayers, type LayerSpec, type ResolvedLayerSpec, type Shape } from "./network.js";

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
  /**
   * The input's shape [C, H, W] for convolutional models (rows of x hold each image's pixels row
   * by row, a pixel's channels together: H × W × C). inputDim is then C·H·W.
   */
  inputShape?: [number, number, number];
  /**
   * The encoder as a layer list (instead of `hidden`), like nn.Sequential: dense
   * ({type: 'dense', units}), convolution ({type: 'conv', out, kernel, stride?, padding?}),
   * {type: 'flatten'}; each layer's `activation` defaults to `activation`. It must end flat
   * (the latent head is a dense layer on it).
   */
  encoder?: LayerSpec[];
  /**
   * The decoder as a layer list (instead of `decoderHidden`): dense, {type: 'unflatten', shape:
   * [C, H, W]}, transposed convolution ({type: 'convT', out, kernel, stride?, padding?}); its last
   * layer outputs the input's shape and has no activation (logits or means).
   */
  decoder?: LayerSpec[];
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

export interface ResolvedConfig extends LatentOptions {
  inputDim: number;
  /** with layer lists: the input shape ([C, H, W], or [D]) and the resolved lists */
  inputShape?: number[];
  encoder?: ResolvedLayerSpec[];
  decoder?: ResolvedLayerSpec[];
  latentDim: number;
  hidden: number[];
  decoderHidden: number[];
  activation: Activation;
  likelihood: ResolvedLikelihood;
  seed: number;
}

/** A decoder likelihood as saved with a model. */
export type ResolvedLikelihood = { type: "bernoulli" } | { type: "gaussian"; variance: number; learnVariance: boolean };

/** The likelihood option `l` (named `arg` in messages) resolved, with its defaults: Bernoulli; a Gaussian's variance 1, fixed. */
export function resolveLikelihood(fn: string, l: unknown, arg: string): ResolvedLikelihood {
  l ??= "bernoulli";
  const type = typeof l === "object" && l !== null ? (l as { type?: unknown }).type : l;
  if (type === "bernoulli") {
    if (typeof l === "object") checkKeys(fn, arg, l, ["type"]);
    return { type: "bernoulli" };
  }
  if (type === "gaussian") {
    const g = (typeof l === "object" ? l : {}) as { variance?: unknown; learnVariance?: unknown };
    checkKeys(fn, arg, g, ["type", "variance", "learnVariance"]);
    const variance = checkNumber(fn, `${arg}.variance`, g.variance ?? 1, { gt: 0 });
    const learnVariance = checkBool(fn, `${arg}.learnVariance`, g.learnVariance ?? false);
    return { type: "gaussian", variance, learnVariance };
  }
  fail(fn, arg, "'bernoulli', 'gaussian' or {type: 'gaussian', variance?, learnVariance?}", l);
}

export const VAE_OPTION_KEYS = [
  "inputDim", "latentDim", "latent", "flow", "hidden", "decoderHidden", "activation", "likelihood", "seed", "build", "threads", "inputShape", "encoder", "decoder",
] as const;

/** Checks the options (named `arg` in messages) and fills in the defaults (the configuration a model file keeps). */
export function resolveConfig(fn: string, o: VAEOptions, arg = "options"): ResolvedConfig {
  if (typeof o !== "object" || o === null || Array.isArray(o)) fail(fn, arg, "an options object", o);
  checkKeys(fn, arg, o, VAE_OPTION_KEYS);
  const inputDim = checkInt(fn, `${arg}.inputDim`, o.inputDim ?? 784, 1, 1 << 20);
  const latentDim0 = checkInt(fn, `${arg}.latentDim`, o.latentDim ?? 20, 1, 1 << 16);
  const layers = (arg: string, v: unknown): number[] => {
    if (!Array.isArray(v)) fail(fn, arg, "an array of layer sizes, e.g. [400] (or [] for none)", v);
    return v.map((h, i) => checkInt(fn, `${arg}[${i}]`, h, 1, 1 << 20));
  };
  const hidden = layers(`${arg}.hidden`, o.hidden ?? [400]);
  const decoderHidden = layers(`${arg}.decoderHidden`, o.decoderHidden ?? [...hidden].reverse());
  const activation = checkOneOf(fn, `${arg}.activation`, o.activation ?? "relu", ACTIVATIONS);
  const seed = checkInt(fn, `${arg}.seed`, o.seed ?? 0, 0, 0xffffffff);
  const likelihood = resolveLikelihood(fn, o.likelihood, `${arg}.likelihood`);
  const { latent, flow, latentDim } = resolveLatent(fn, o, latentDim0, arg);
  const config: ResolvedConfig = { inputDim, latentDim, hidden, decoderHidden, activation, likelihood, latent, flow, seed };
  return o.encoder !== undefined || o.decoder !== undefined || o.inputShape !== undefined ? withLayerLists(fn, o, config, arg) : config;
}

/** The layer lists and input shape of a model described by them, checked against each other. */
function withLayerLists(fn: string, o: VAEOptions, c: ResolvedConfig, arg: string): ResolvedConfig {
  for (const k of ["hidden", "decoderHidden"] as const) {
    // (a saved configuration has them empty)
    if (o[k] !== undefined && !(Array.isArray(o[k]) && o[k]!.length === 0)) fail(fn, `${arg}.${k}`, `left out with ${arg}.encoder and ${arg}.decoder (the layer lists describe every layer)`, o[k]);
  }
  if (o.encoder === undefined || o.decoder === undefined) {
    const missing = o.encoder === undefined ? "encoder" : "decoder";
    fail(fn, `${arg}.${missing}`, `a layer list (with ${arg}.inputShape, ${arg}.encoder and ${arg}.decoder go together)`, undefined);
  }
  let input: Shape = [c.inputDim];
  if (o.inputShape !== undefined) {
    const s = o.inputShape;
    if (!Array.isArray(s) || s.length !== 3) fail(fn, `${arg}.inputShape`, "[C, H, W]", s);
    input = s.map((v, i) => checkInt(fn, `${arg}.inputShape[${i}]`, v, 1, 1 << 16)) as [number, number, number];
    const D = input[0] * input[1] * input[2];
    if (o.inputDim !== undefined && o.inputDim !== D) fail(fn, `${arg}.inputDim`, `C·H·W = ${D} (${arg}.inputShape), or left out`, o.inputDim);
  }
  const D = input.reduce((a, b) => a * b, 1);
  const enc = resolveLayers(fn, `${arg}.encoder`, o.encoder, input, c.activation);
  if (enc.out.length !== 1) fail(fn, `${arg}.encoder`, "a list that ends flat (the latent head is a dense layer: end with {type: 'flatten'} or a dense layer)", new Described(`one that ends with a ${enc.out.join("×")} image`));
  const dec = resolveLayers(fn, `${arg}.decoder`, o.decoder, [c.latentDim], c.activation);
  const last = dec.layers[dec.layers.length - 1];
  const same = dec.out.length === input.length && dec.out.every((v, i) => v === input[i]);
  if (!same) fail(fn, `${arg}.decoder`, `a list whose last layer outputs the input's shape ${JSON.stringify(input)}`, new Described(`one that outputs ${JSON.stringify(dec.out)}`));
  if ("activation" in last && (o.decoder![dec.layers.length - 1] as { activation?: string }).activation !== undefined && last.activation !== "identity") {
    fail(fn, `${arg}.decoder[${dec.layers.length - 1}].activation`, "left out or 'identity' (the last layer outputs logits or means)", last.activation);
  }
  const decoder = dec.layers.map((l, i) => (i === dec.layers.length - 1 && "activation" in l ? { ...l, activation: "identity" as const } : l));
  return { ...c, inputDim: D, inputShape: input, encoder: enc.layers, decoder, hidden: [], decoderHidden: [] };
}

/** A Gaussian decoder's learned log-variance per output (`decoder.logvar`, [D]), laid out after the layers (a VAE's or M2's); -1 without. */
export function learnedLogvar(L: ParamLayout, lik: ResolvedLikelihood, D: number): number {
  if (lik.type !== "gaussian" || !lik.learnVariance) return -1;
  const at = L.vector(D);
  L.tensor("decoder.logvar", [D], at);
  return at;
}
