// A toy model with everything in closed form, for tests, figures and teaching (the seed's setting):
//   p(z) = N(0, I),  p(x|z) = N(W z + b, c·I),  W [D, Z] with orthogonal columns,
// so the posterior is N(Σ Wᵀ(x - b)/c, Σ) with Σ = diag(1 / (1 + |W_j|²/c)) — diagonal, and
// exactly representable by a linear encoder with constant log-variance.
import { VAE } from "../vae.js";
import type { BuildName } from "../../bindings/load.js";

export interface LinearGaussian {
  D: number;
  Z: number;
  c: number;
  W: Float64Array; // [D, Z] (the decoder's nn.Linear weight)
  b: Float64Array;
  /** squared column norms |W_j|² */
  s2: Float64Array;
}

export function linearGaussian(): LinearGaussian {
  const D = 4, Z = 2, c = 0.5;
  // orthonormal u1, u2 in R⁴ scaled by 1.5 and 0.8
  const u1 = [0.5, 0.5, 0.5, 0.5], u2 = [0.5, -0.5, 0.5, -0.5];
  const s = [1.5, 0.8];
  const W = new Float64Array(D * Z);
  for (let d = 0; d < D; d++) {
    W[d * Z + 0] = s[0] * u1[d];
    W[d * Z + 1] = s[1] * u2[d];
  }
  return { D, Z, c, W, b: Float64Array.from([0.3, -0.2, 0.1, 0.4]), s2: Float64Array.from(s.map((v) => v * v)) };
}

/** Encoder tensors of the exact posterior, perturbed by `delta` along a fixed direction (0 = exact). */
export function posteriorEncoder(m: LinearGaussian, delta = 0): Record<string, Float32Array> {
  const { D, Z, c, W, b, s2 } = m;
  const sig = Array.from(s2, (v) => 1 / (1 + v / c));
  const muW = new Float32Array(Z * D), muB = new Float32Array(Z), lvW = new Float32Array(Z * D), lvB = new Float32Array(Z);
  for (let j = 0; j < Z; j++) {
    let bb = 0;
    for (let d = 0; d < D; d++) {
      muW[j * D + d] = (sig[j] * W[d * Z + j]) / c + delta * 0.3 * Math.cos(j + 2 * d);
      lvW[j * D + d] = delta * 0.2 * Math.sin(3 * j + d);
      bb += W[d * Z + j] * b[d];
    }
    muB[j] = (-sig[j] * bb) / c + delta * 0.25;
    lvB[j] = Math.log(sig[j]) - delta * 0.4;
  }
  return { "encoder.mu.weight": muW, "encoder.mu.bias": muB, "encoder.logvar.weight": lvW, "encoder.logvar.bias": lvB };
}

export async function linearGaussianVAE(m: LinearGaussian, delta: number, build?: BuildName): Promise<VAE> {
  const vae = await VAE.create({ inputDim: m.D, latentDim: m.Z, hidden: [], decoderHidden: [], likelihood: { type: "gaussian", variance: m.c }, build });
  vae.loadStateDict({ "decoder.out.weight": Float32Array.from(m.W), "decoder.out.bias": Float32Array.from(m.b), ...posteriorEncoder(m, delta) });
  return vae;
}

/**
 * The exact ELBO of the linear-Gaussian model for one x, as a function of the encoder's mu and
 * logvar (closed form): E_q log p(x|z) - KL(q‖p) with
 *   E_q log p(x|z) = -1/(2c) (|x - W mu - b|² + Σ_j |W_j|² σ_j²) - D/2 log 2πc.
 */
export function exactElbo(m: LinearGaussian, x: Float64Array, mu: Float64Array, lv: Float64Array): number {
  const { D, Z, c, W, b, s2 } = m;
  let r2 = 0;
  for (let d = 0; d < D; d++) {
    let v = x[d] - b[d];
    for (let j = 0; j < Z; j++) v -= W[d * Z + j] * mu[j];
    r2 += v * v;
  }
  let tr = 0, kl = 0;
  for (let j = 0; j < Z; j++) {
    tr += s2[j] * Math.exp(lv[j]);
    kl += 0.5 * (mu[j] ** 2 + Math.exp(lv[j]) - 1 - lv[j]);
  }
  return -(r2 + tr) / (2 * c) - (D / 2) * Math.log(2 * Math.PI * c) - kl;
}

/** log p(x) in closed form: x ~ N(b, W Wᵀ + c I). */
export function exactLogMarginal(m: LinearGaussian, x: Float64Array): number {
  const { D, Z, c, W, b, s2 } = m;
  // W Wᵀ + cI has eigenvalues c + |W_j|² along the columns of W and c elsewhere
  let quad = 0, logdet = (D - Z) * Math.log(c);
  const r = Array.from({ length: D }, (_, d) => x[d] - b[d]);
  let rr = r.reduce((a, v) => a + v * v, 0);
  for (let j = 0; j < Z; j++) {
    let proj = 0;
    for (let d = 0; d < D; d++) proj += W[d * Z + j] * r[d];
    proj /= Math.sqrt(s2[j]); // component along the unit column
    quad += (proj * proj) / (c + s2[j]);
    rr -= proj * proj;
    logdet += Math.log(c + s2[j]);
  }
  quad += rr / c;
  return -0.5 * (quad + logdet + D * Math.log(2 * Math.PI));
}
