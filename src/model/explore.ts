// Looking into a trained model's latent space: latent traversals (one dimension varied over the
// prior's quantiles, the others at a data point's code) ordered by how much each dimension is
// used, and decoded paths between the codes of two data rows (linear and spherical).
import { checkInt, checkKeys, checkNumber, checkOneOf, fail, toMatrix, type MatrixLike } from "../util/validate.js";
import { decode, encode } from "./evaluate.js";
import type { VaeModel } from "./vae-model.js";

export interface LatentDimension {
  /** the dimension's index in z */
  dim: number;
  /** mean KL(q(z_j|x) ‖ N(0, 1)) over the data, nats */
  kl: number;
  /** Var_x E[z_j|x] (Burda et al.'s activity) */
  activity: number;
  /** activity above the threshold */
  active: boolean;
}

export interface Traversal {
  /** rows of decoded outputs, dimension by dimension (in `dims` order), `values.length` per dimension */
  images: Float32Array;
  /** the dimensions, most used (largest KL) first */
  dims: LatentDimension[];
  /** the values each dimension takes (the standard normal's quantiles) */
  values: number[];
}

/** The standard normal's quantile function (Acklam's rational approximation: relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  let x: number;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - lo) {
    const q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/** A Gaussian latent without a flow (traversals and paths move z itself, which the decoder reads). */
function needPlainGaussian(m: VaeModel, fn: string): void {
  if (!m.kind.encode) throw new Error(`${fn}: this model's latent is ${m.kind.describe}; ${fn} needs a Gaussian latent`);
  if (m.config.flow) throw new Error(`${fn}: this model has a ${m.config.flow.type} flow on q(z|x); ${fn} needs a Gaussian latent without one (its code is the flow's output, not mu)`);
}

/**
 * Each latent dimension varied over `steps` quantiles of N(0, 1) (from `quantile` to 1 −
 * `quantile`) while the others stay at row `row` of `data`'s code mu(x); the dimensions ordered by
 * their mean KL over `data`, most used first, with their activity (inactive below `threshold`).
 */
export function traversal(m: VaeModel, data: MatrixLike, opts: { row?: number; steps?: number; quantile?: number; threshold?: number }): Traversal {
  const fn = "VAE.traversal";
  m.checkAlive(fn);
  needPlainGaussian(m, fn);
  checkKeys(fn, "options", opts, ["row", "steps", "quantile", "threshold"]);
  const x = m.input(fn, data, "data");
  const row = checkInt(fn, "options.row", opts.row ?? 0, 0, x.rows - 1);
  const steps = checkInt(fn, "options.steps", opts.steps ?? 9, 2, 1000);
  const q = checkNumber(fn, "options.quantile", opts.quantile ?? 0.05, { gt: 0, lt: 0.5 });
  const threshold = checkNumber(fn, "options.threshold", opts.threshold ?? 1e-2, { min: 0 });
  const Z = m.config.latentDim;
  const { mu, logvar } = encode(m, x);
  const n = x.rows;
  const kl = new Float64Array(Z), mean = new Float64Array(Z), activity = new Float64Array(Z);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < Z; j++) {
      const u = mu[i * Z + j], lv = logvar[i * Z + j];
      kl[j] += 0.5 * (u * u + Math.exp(lv) - 1 - lv) / n;
      mean[j] += u / n;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < Z; j++) activity[j] += (mu[i * Z + j] - mean[j]) ** 2 / n;
  const dims = Array.from({ length: Z }, (_, j) => ({ dim: j, kl: kl[j], activity: activity[j], active: activity[j] > threshold }))
    .sort((a, b) => b.kl - a.kl || a.dim - b.dim);
  const values = Array.from({ length: steps }, (_, s) => normalQuantile(q + (1 - 2 * q) * s / (steps - 1)));
  const z = new Float32Array(Z * steps * Z);
  const base = mu.subarray(row * Z, (row + 1) * Z);
  dims.forEach((d, t) => {
    for (let s = 0; s < steps; s++) {
      const o = (t * steps + s) * Z;
      z.set(base, o);
      z[o + d.dim] = values[s];
    }
  });
  return { images: decode(m, { data: z, rows: Z * steps, cols: Z }), dims, values };
}

/**
 * Decoded points on the path between the codes mu(a) and mu(b) of two rows: `steps` points from
 * a's code to b's, on the straight line or on the great circle (spherical interpolation, which
 * keeps the norm typical of N(0, I) samples; White 2016). Returns [steps, D].
 */
export function interpolate(m: VaeModel, a: MatrixLike, b: MatrixLike, opts: { steps?: number; path?: "linear" | "spherical" }): Float32Array {
  const fn = "VAE.interpolate";
  m.checkAlive(fn);
  needPlainGaussian(m, fn);
  checkKeys(fn, "options", opts, ["steps", "path"]);
  const steps = checkInt(fn, "options.steps", opts.steps ?? 10, 2, 10000);
  const path = checkOneOf(fn, "options.path", opts.path ?? "linear", ["linear", "spherical"] as const);
  const D = m.config.inputDim, Z = m.config.latentDim;
  const xa = toMatrix(fn, "a", a, D), xb = toMatrix(fn, "b", b, D);
  if (xa.rows !== 1) fail(fn, "a", "one row", a);
  if (xb.rows !== 1) fail(fn, "b", "one row", b);
  const { mu } = encode(m, { data: Float32Array.from([...xa.data, ...xb.data]), rows: 2, cols: D });
  const za = mu.subarray(0, Z), zb = mu.subarray(Z, 2 * Z);
  let dot = 0, na = 0, nb = 0;
  for (let j = 0; j < Z; j++) {
    dot += za[j] * zb[j];
    na += za[j] * za[j];
    nb += zb[j] * zb[j];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1))));
  const z = new Float32Array(steps * Z);
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    // (spherical falls back to linear where the codes are (anti)parallel or zero: sin Ω ≈ 0)
    const [wa, wb] = path === "spherical" && Math.sin(omega) > 1e-6
      ? [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)] : [1 - t, t];
    for (let j = 0; j < Z; j++) z[s * Z + j] = wa * za[j] + wb * zb[j];
  }
  return decode(m, { data: z, rows: steps, cols: Z });
}
