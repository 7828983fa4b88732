// The API every runtime gets (Node, browsers, edge): src/index.ts adds the Node-only file
// loaders, src/edge.ts is this alone.
export { VAE, VAEArgumentError } from "./vae.js";
export { WorkerLostError } from "./engine/pool.js";
export { SemiSupervisedVAE } from "./m2.js";
export { LatentFeatures } from "./m2/features.js";
export type { SemiSupervisedOptions, SemiSupervisedConfig, SemiSupervisedFitOptions, SemiSupervisedEpoch } from "./m2.js";
export type {
  VAEOptions, FlowOptions, ResolvedConfig, Likelihood, Activation, FitOptions, StepOptions, LogLikelihoodOptions, LogLikelihoodResult,
  GradientStats, GradientStatsOptions, GroupStats, FitProgress, EpochRecord, LossAndGrads, ElboOptions,
  EstimatorOption, LatentDimension, Traversal,
} from "./vae.js";
export { AnalyticKL, TotalDerivative, PathDerivative, IWAE, IWAEPath, DReG, ScoreFunction, makeEstimator, ESTIMATOR_NAMES } from "./estimators/index.js";
export type { Estimator, EstimatorName, StepRows } from "./estimators/index.js";
export { parseIdx, imagesToMatrix } from "./data/idx.js";
export { takeRows, binarize } from "./data/rows.js";
export type { IdxArray } from "./data/idx.js";
export type { Dataset } from "./data/mnist.js";
export type { Matrix, MatrixLike } from "./util/validate.js";
export { encodeSafetensors, decodeSafetensors } from "./files/safetensors.js";
export { supportedBuilds, defaultBuild, provideModule } from "../bindings/load.js";
export type { BuildName } from "../bindings/load.js";
