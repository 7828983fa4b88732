// vae-wasm: variational autoencoders on WebAssembly SIMD.
export { VAE, VAEArgumentError } from "./vae.js";
export type {
  VAEOptions, ResolvedConfig, Likelihood, Activation, FitOptions, StepOptions, LogLikelihoodOptions, LogLikelihoodResult,
  GradientStats, GradientStatsOptions, GroupStats, FitProgress, EpochRecord, LossAndGrads, ElboOptions,
  EstimatorOption,
} from "./vae.js";
export { AnalyticKL, TotalDerivative, PathDerivative, IWAE, IWAEPath, DReG, ScoreFunction, makeEstimator, ESTIMATOR_NAMES } from "./estimators.js";
export type { Estimator, EstimatorName, StepRows } from "./estimators.js";
export { parseIdx, readIdxFile, imagesToMatrix, loadMnist, takeRows, binarize } from "./data.js";
export { iwaeMnist, PRESETS } from "./presets.js";
export { linearGaussian, linearGaussianVAE, posteriorEncoder, exactElbo, exactLogMarginal } from "./linear-gaussian.js";
export type { LinearGaussian } from "./linear-gaussian.js";
export type { Preset } from "./presets.js";
export type { IdxArray, Dataset } from "./data.js";
export type { Matrix, MatrixLike } from "./validate.js";
export { encodeSafetensors, decodeSafetensors } from "./safetensors.js";
export { supportedBuilds, defaultBuild } from "../bindings/load.js";
export type { BuildName } from "../bindings/load.js";

import type { VAE as VAEClass, GradientStatsOptions as GSO, GradientStats as GS } from "./vae.js";
import type { MatrixLike as ML } from "./validate.js";
/** gradientStats(vae, x, options): see VAE.gradientStats. */
export function gradientStats(vae: VAEClass, x: ML, options?: GSO): GS {
  return vae.gradientStats(x, options);
}
