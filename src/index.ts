// vae-wasm: variational autoencoders on WebAssembly SIMD (the Node and browser entry).
export * from "./core.js";
export { readIdxFile } from "./data/idx.js";
export { loadMnist } from "./data/mnist.js";
export { loadDataset } from "./data/dataset.js";
export type { Dataset, DatasetFormat, LoadDatasetOptions } from "./data/dataset.js";
export { iwaeMnist, PRESETS } from "./model/presets.js";
export type { Preset } from "./model/presets.js";
export { linearGaussian, linearGaussianVAE, posteriorEncoder, exactElbo, exactLogMarginal } from "./toy/linear-gaussian.js";
export type { LinearGaussian } from "./toy/linear-gaussian.js";

import type { VAE as VAEClass, GradientStatsOptions as GSO, GradientStats as GS } from "./vae.js";
import type { MatrixLike as ML } from "./util/validate.js";
/** gradientStats(vae, x, options): see VAE.gradientStats. */
export function gradientStats(vae: VAEClass, x: ML, options?: GSO): GS {
  return vae.gradientStats(x, options);
}
