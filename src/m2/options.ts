// M2's options: of the model (create), of a fit and its epoch records, and their checks.
import type { BuildName } from "../../bindings/load.js";
import { resolveLikelihood, type Likelihood } from "../model/config.js";
import type { FitProgress } from "../model/options.js";
import type { MatrixLike } from "../util/validate.js";
import { checkInt, checkKeys, checkNumber, checkOneOf, fail } from "../util/validate.js";
import type { SemiSupervisedConfig } from "./objective.js";

export interface SemiSupervisedOptions {
  /** Data dimension D (784 for MNIST). */
  inputDim?: number;
  /** Number of classes C. Default 10. */
  classes?: number;
  /** Latent dimension of z. Default 50. */
  latentDim?: number;
  /** Hidden layer sizes of the classifier, the encoder and (reversed) the decoder. Default [500]. */
  hidden?: number[];
  /** Default 'relu'. */
  activation?: "relu" | "tanh";
  /**
   * p(x|y,z). Default 'bernoulli': x in [0, 1] (pixels scaled by 1/255, or binarized). 'gaussian'
   * (variance 1) or {type: 'gaussian', variance?, learnVariance?}: any real x, e.g. another model's
   * features (M1+M2: the latents of a VAE trained on all the data); `learnVariance` learns one
   * log-variance per value (`decoder.logvar`), starting at log(variance).
   */
  likelihood?: Likelihood;
  /** Seed of initialisation, shuffling and noise. Default 0. */
  seed?: number;
  build?: BuildName;
  /**
   * Threads to train on ('auto': every core). Results are bitwise identical for any count. In a
   * browser this needs cross-origin isolation and a Web Worker (see the README). Default 1.
   */
  threads?: number | "auto";
}

export interface SemiSupervisedFitOptions {
  epochs?: number;
  /** Unlabelled examples per step. Default 100. */
  batchSize?: number;
  /** Labelled examples per step (the labelled set is cycled). Default min(100, labelled count). */
  labelledBatchSize?: number;
  /** Adam learning rate: a number, or a function of (epoch, stepInEpoch) for schedules. Default 1e-3. */
  learningRate?: number | ((epoch: number, step: number) => number);
  /** Adam's (β1, β2). Default [0.9, 0.999] (Pyro's SS-VAE tutorial uses β1 = 0.95). */
  betas?: [number, number];
  /**
   * Weight α of the classification term α·log q(y|x) per labelled example. Default 50: with the
   * bound in nats per example, of the order of Pyro's SS-VAE tutorial (46); Kingma et al.'s
   * α = 0.1·N is the same idea with the bound summed over the N training examples.
   */
  alpha?: number;
  /**
   * Weight λ of the labelled batch's mean against the unlabelled batch's mean in each step's
   * loss. Default 1: the labelled batch weighs like the unlabelled one. N_l/N_u (the labelled
   * share of the data, Kingma et al.'s J^α weighting) learned far less from 100 MNIST labels at
   * the budgets measured (bench/results/m2-mnist.md).
   */
  labelledWeight?: number;
  /**
   * Weight β of z's KL term KL(q(z|x,y) ‖ N(0, I)) in every bound, labelled and unlabelled
   * (the β-VAE weight; y's own term is not weighed). Above 1 it makes a class carried in z
   * dearer than the same class carried in y, whose price is at most log C nats. Default 1
   * (Kingma et al.'s M2).
   */
  beta?: number;
  /** Dynamic binarization of x each time it is used. Default false. */
  binarize?: boolean;
  /**
   * Instead of enumerating the C classes of an unlabelled example, one relaxed sample
   * y ~ Gumbel-softmax(q(y|x), τ) (Jang et al. 2017, sec. 4.3): U ≈ log p(x|y,z) −
   * KL(q(z|x,y) ‖ p(z)) − KL(q(y|x) ‖ uniform), gradients to the classifier through the sample
   * and the closed-form KL. C times cheaper per unlabelled example, biased. Default: enumeration.
   */
  gumbelSoftmax?: { temperature: number };
  /** Called after every step: where the epoch stands and its running loss. */
  onProgress?: (p: FitProgress) => void;
  /** Called after every epoch; `accuracy` when `validation` was given. */
  onEpochEnd?: (r: SemiSupervisedEpoch) => void;
  validation?: { x: MatrixLike; labels: ArrayLike<number> };
  signal?: AbortSignal;
}

export interface SemiSupervisedEpoch {
  epoch: number;
  /** mean of −(U on unlabelled + L + α log q on labelled) per step */
  loss: number;
  /** mean −U per unlabelled example (nats) */
  unlabelledLoss: number;
  /** classification accuracy on the labelled batches as they were seen */
  labelledAccuracy: number;
  accuracy?: number;
  seconds: number;
}

export const FIT_KEYS = ["epochs", "batchSize", "labelledBatchSize", "learningRate", "betas", "alpha", "labelledWeight", "beta", "binarize", "gumbelSoftmax", "onProgress", "onEpochEnd", "validation", "signal"] as const;

/** M2's configuration from its options (named `arg` in messages), with the defaults. */
export function resolveM2Config(fn: string, o: unknown, arg: string): SemiSupervisedConfig {
  if (typeof o !== "object" || o === null || Array.isArray(o)) fail(fn, arg, "an options object", o);
  const v = o as SemiSupervisedOptions;
  checkKeys(fn, arg, v, ["inputDim", "classes", "latentDim", "hidden", "activation", "likelihood", "seed"]);
  const hidden = v.hidden ?? [500];
  if (!Array.isArray(hidden)) fail(fn, `${arg}.hidden`, "an array of layer sizes, e.g. [500]", hidden);
  return {
    inputDim: checkInt(fn, `${arg}.inputDim`, v.inputDim ?? 784, 1, 1 << 20),
    classes: checkInt(fn, `${arg}.classes`, v.classes ?? 10, 2, 1 << 12),
    latentDim: checkInt(fn, `${arg}.latentDim`, v.latentDim ?? 50, 1, 1 << 12),
    hidden: hidden.map((h, i) => checkInt(fn, `${arg}.hidden[${i}]`, h, 1, 1 << 16)),
    activation: checkOneOf(fn, `${arg}.activation`, v.activation ?? "relu", ["relu", "tanh"] as const),
    likelihood: resolveLikelihood(fn, v.likelihood, `${arg}.likelihood`),
    seed: checkInt(fn, `${arg}.seed`, v.seed ?? 0, 0, 0xffffffff),
  };
}

/** The Gumbel-softmax temperature of an options.gumbelSoftmax, or 0 for enumeration. */
export function relaxation(fn: string, g: unknown): number {
  if (g === undefined) return 0;
  if (!g || typeof g !== "object") fail(fn, "options.gumbelSoftmax", "{temperature: τ > 0}", g);
  checkKeys(fn, "options.gumbelSoftmax", g, ["temperature"]);
  return checkNumber(fn, "options.gumbelSoftmax.temperature", (g as { temperature: unknown }).temperature, { gt: 0 });
}
