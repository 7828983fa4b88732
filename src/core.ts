// The API every runtime gets (Node, browsers, edge): src/index.ts adds the Node-only file
// loaders, src/edge.ts is this alone.
export { VAE, VAEArgumentError } from "./vae.js";
export { SemiSupervisedVAE } from "./m2.js";
export type { SemiSupervisedOptions, SemiSupervisedConfig, SemiSupervisedFitOptions, SemiSupervisedEpoch } from "./m2.js";
export type {
  VAEOptions, FlowOptions, ResolvedConfig, Likelihood, Activation, FitOptions, StepOptions, LogLikelihoodOptions, LogLikelihoodResult,
  GradientStats, GradientStatsOptions, GroupStats, FitProgress, EpochRecord, LossAndGrads, ElboOptions,
  EstimatorOption,
} from "./vae.js";
export { AnalyticKL, TotalDerivative, PathDerivative, IWAE, IWAEPath, DReG, ScoreFunction, makeEstimator, ESTIMATOR_NAMES } from "./estimators.js";
export type { Estimator, EstimatorName, StepRows } from "./estimators.js";
export { parseIdx, imagesToMatrix, takeRows, binarize } from "./data.js";
export type { IdxArray, Dataset } from "./data.js";
export type { Matrix, MatrixLike } from "./validate.js";
export { encodeSafetensors, decodeSafetensors } from "./safetensors.js";
export { supportedBuilds, defaultBuild, provideModule } from "../bindings/load.js";
export type { BuildName } from "../bindings/load.js";
