// The features a stacked M2 learns from (Kingma et al. 2014's M1+M2): a VAE trained without labels
// (M1) maps every x to its posterior mean E_q[z|x]; the units M1 uses are kept and standardised.
import { columnMoments } from "../model/evaluate.js";
import type { VAE } from "../vae.js";
import { checkKeys, checkNumber, toMatrix, type MatrixLike } from "../util/validate.js";

/**
 * M1's posterior means as features for an M2 with a Gaussian decoder: the active units (Burda
 * et al. 2016: Var_x E_q[z_j|x] above `threshold`, default 0.01 — the others carry no information
 * about x), each standardised by its mean and standard deviation over the data it was fitted on.
 *
 *   const features = LatentFeatures.fit(m1, unlabelledImages);
 *   const m2 = await SemiSupervisedVAE.create({ inputDim: features.dim, likelihood: { type: "gaussian", learnVariance: true } });
 *   await m2.fit({ x: features.transform(labelledImages), labels }, features.transform(unlabelledImages));
 *   m2.accuracy(features.transform(testImages), testLabels);
 */
export class LatentFeatures {
  private constructor(private readonly vae: VAE, readonly units: Int32Array, readonly mean: Float64Array, readonly std: Float64Array,
    private readonly codeMean: Float64Array) {}

  /** The active units of `vae` on the rows of x, and their means and standard deviations there. */
  static fit(vae: VAE, x: MatrixLike, opts: { threshold?: number } = {}): LatentFeatures {
    const fn = "LatentFeatures.fit";
    checkKeys(fn, "options", opts, ["threshold"]);
    const threshold = checkNumber(fn, "options.threshold", opts.threshold ?? 1e-2, { min: 0 });
    const c = vae.config;
    if (c.latent.type !== "gaussian" || c.flow) {
      throw new Error(`${fn}: vae must have a Gaussian latent without a flow (its posterior mean is then the encoder's mu); ` +
        `got a ${c.flow ? `${c.flow.type} flow` : `${c.latent.type} latent`}`);
    }
    const m = toMatrix(fn, "x", x, vae.config.inputDim, { minRows: 2 });
    const { mean, variances: variance } = columnMoments(vae.encode(m).mu, c.latentDim);
    const units = Int32Array.from([...variance.keys()].filter((j) => variance[j] > threshold));
    if (units.length === 0) {
      throw new Error(`${fn}: no latent unit of the VAE is active on x (the largest variance of a posterior mean is ` +
        `${Math.max(...variance).toExponential(2)}, options.threshold ${threshold}); train the VAE longer, or lower the threshold`);
    }
    return new LatentFeatures(vae, units, Float64Array.from(units, (j) => mean[j]), Float64Array.from(units, (j) => Math.sqrt(variance[j])), mean);
  }

  /** Features per row: the number of active units. */
  get dim(): number {
    return this.units.length;
  }

  /**
   * Codes z for the VAE's decoder from features ([N, dim]): each active unit un-standardised, the
   * inactive ones at their mean over the fitted rows (the decoder ignores them). With
   * `vae.decode`, a stacked M2's conditional generation as images.
   */
  inverse(features: MatrixLike): Float32Array {
    const m = toMatrix("LatentFeatures.inverse", "features", features, this.dim);
    const Z = this.codeMean.length, A = this.dim;
    const z = new Float32Array(m.rows * Z);
    for (let i = 0; i < m.rows; i++) {
      for (let j = 0; j < Z; j++) z[i * Z + j] = this.codeMean[j];
      for (let a = 0; a < A; a++) z[i * Z + this.units[a]] = this.mean[a] + this.std[a] * m.data[i * A + a];
    }
    return z;
  }

  /** The standardised active units of E_q[z|x] for every row of x: [N, dim]. */
  transform(x: MatrixLike): Float32Array {
    const m = toMatrix("LatentFeatures.transform", "x", x, this.vae.config.inputDim);
    const mu = this.vae.encode(m).mu;
    const Z = mu.length / Math.max(m.rows, 1), A = this.dim;
    const out = new Float32Array(m.rows * A);
    for (let i = 0; i < m.rows; i++) {
      for (let a = 0; a < A; a++) out[i * A + a] = (mu[i * Z + this.units[a]] - this.mean[a]) / this.std[a];
    }
    return out;
  }
}
