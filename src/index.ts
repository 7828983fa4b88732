// vae-wasm: variational autoencoders on WebAssembly SIMD (the Node and browser entry).
export * from "./core.js";
export { readIdxFile, loadMnist } from "./data.js";
export { iwaeMnist, PRESETS } from "./presets.js";
export type { Preset } from "./presets.js";
export { linearGaussian, linearGaussianVAE, posteriorEncoder, exactElbo, exactLogMarginal } from "./linear-gaussian.js";
export type { LinearGaussian } from "./linear-gaussian.js";

import type { VAE as VAEClass, GradientStatsOptions as GSO, GradientStats as GS } from "./vae.js";
import type { MatrixLike as ML } from "./validate.js";
/** gradientStats(vae, x, options): see VAE.gradientStats. */
export function gradientStats(vae: VAEClass, x: ML, options?: GSO): GS {
  return vae.gradientStats(x, options);
}
