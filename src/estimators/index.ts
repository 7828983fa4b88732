// The estimators by name, and the one place an estimator becomes fields of the control block
// and needs of the latent variable. Adding an estimator: its class in the file of its family
// (or a new file), and one line in ESTIMATORS below.
import { GRAD } from "../../bindings/abi.js";
import { FUSE } from "../engine/ctrl.js";
import type { Capability } from "../latent/capability.js";
import { checkOneOf } from "../util/validate.js";
import { AnalyticKL, PathDerivative, TotalDerivative } from "./elbo.js";
import type { Estimator } from "./estimator.js";
import { DReG, IWAE, IWAEPath } from "./iwae.js";
import { ScoreFunction } from "./score.js";

/** Every estimator, by the name options and files use, in the order they are listed to users. */
const ESTIMATORS = {
  analytic: () => new AnalyticKL(),
  td: () => new TotalDerivative(),
  stl: () => new PathDerivative(),
  iwae: () => new IWAE(),
  "iwae-stl": () => new IWAEPath(),
  dreg: () => new DReG(),
  score: () => new ScoreFunction(),
} satisfies Record<string, () => Estimator>;

export type EstimatorName = keyof typeof ESTIMATORS;

export const ESTIMATOR_NAMES: readonly EstimatorName[] = Object.keys(ESTIMATORS) as EstimatorName[];

export function makeEstimator(name: EstimatorName): Estimator {
  return ESTIMATORS[name]();
}

/** An estimator given by name (checked) or as an object with a weigh method. */
export function resolveEstimator(fn: string, arg: string, e: unknown): Estimator {
  if (typeof e === "object" && e !== null && typeof (e as Estimator).weigh === "function") return e as Estimator;
  return makeEstimator(checkOneOf(fn, arg, e, ESTIMATOR_NAMES));
}

/** What an estimator needs of the latent variable's q(z|x), read from its declared fields. */
export function needs(est: Estimator): Capability[] {
  if (est.analyticKL || est.gradMode === GRAD.analytic) return ["analyticKL"];
  if (est.gradMode === GRAD.path) return ["density", "pathScore"];
  if (est.gradMode === GRAD.score) return ["density", "paramScore"];
  return ["density"];
}

/** The control block's fields for one step with this estimator (engine/ctrl.ts CTRL). */
export interface StepFields {
  /** compute the analytic KL (CTRL.needKL) */
  needKL: 0 | 1;
  /** compute w̃ and the bound in the forward dispatch (CTRL.iw) */
  iw: 0 | 1;
  /** the encoder head's gradient mode (CTRL.gradMode) */
  gradMode: number;
  /** the encoder gradient is scaled per row by r (CTRL.useR) */
  useR: 0 | 1;
  /** how a training step's forward dispatch makes the row weights and runs the backward rows (CTRL.fuse) */
  fuse: number;
}

export function stepFields(est: Estimator): StepFields {
  return {
    needKL: est.analyticKL ? 1 : 0,
    iw: est.importanceWeighted ? 1 : 0,
    gradMode: est.gradMode,
    useR: est.usesEncoderFactor ? 1 : 0,
    fuse: est.rowWeights === "uniform" ? FUSE.uniform : est.rowWeights === "importance" ? FUSE.importance : FUSE.none,
  };
}

export { AnalyticKL, TotalDerivative, PathDerivative, IWAE, IWAEPath, DReG, ScoreFunction };
export { flushSubnormal, F32_MIN_NORMAL, type Estimator, type StepRows } from "./estimator.js";
