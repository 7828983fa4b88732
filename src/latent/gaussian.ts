// The Gaussian latent: q(z|x) = N(mu(x), diag exp(logvar(x))), prior N(0, I), z = mu + σ·eps.
// The encoder's head is one [2Z, H] layer: rows 0..Z−1 give mu, rows Z..2Z−1 give logvar (in
// the [out, in] layout each is a contiguous block, exposed as two nn.Linear-style tensors).
import { ACT, LOGVAR_MAX, STREAM } from "../../bindings/abi.js";
import type { Layer } from "../nn/dense.js";
import type { ParamLayout } from "../nn/layout.js";
import type { Matrix } from "../util/validate.js";
import type { LatentKind, LatentModel } from "./kind.js";

/** The mu/logvar head of a Gaussian q (also the base of a flow). */
export function gaussianHead(L: ParamLayout, Z: number, top: number): Layer {
  const head = L.dense(top, 2 * Z, ACT.identity);
  L.tensor("encoder.mu.weight", [Z, top], head.w);
  L.tensor("encoder.logvar.weight", [Z, top], head.w + Z * top);
  L.tensor("encoder.mu.bias", [Z], head.b);
  L.tensor("encoder.logvar.bias", [Z], head.b + Z);
  return head;
}

/** mu and logvar of q(z|x) for the rows of x, from the head's outputs. */
export function gaussianEncode(m: LatentModel, x: Matrix): { mu: Float32Array; logvar: Float32Array } {
  const Z = m.Z;
  const mu = new Float32Array(x.rows * Z);
  const logvar = new Float32Array(x.rows * Z);
  m.heads(x, (h, s, B) => {
    for (let b = 0; b < B; b++) {
      mu.set(h.subarray(b * 2 * Z, b * 2 * Z + Z), (s + b) * Z);
      logvar.set(h.subarray(b * 2 * Z + Z, (b + 1) * 2 * Z), (s + b) * Z);
    }
  });
  return { mu, logvar };
}

/** n codes from the prior N(0, I), keyed (seed, prior stream, row). */
export function normalPrior(m: LatentModel, n: number, seed: number): Float32Array {
  return m.noise("normal", n, seed, STREAM.prior);
}

export const gaussian: LatentKind = {
  describe: "Gaussian",
  option: { key: "latent", keys: [], form: "'gaussian'", resolve: (_fn, _o, latentDim) => ({ resolved: { type: "gaussian" }, latentDim }) },
  provides: ["analyticKL", "density", "pathScore", "paramScore", "weighedDensity"],
  refuse: () => "any estimator", // (a Gaussian latent provides everything an estimator needs)
  defaultEstimator: "analytic",
  noise: "normal",
  relaxed: false,
  slots: {},

  build(L, c) {
    return { head: gaussianHead(L, c.Z, c.top), plan: { kind: "gaussian" } };
  },

  sample(k, p, ws, a, b0, b1) {
    k.reparameterize(ws.z, ws.eps, ws.h, a.K, p.Z, b0, b1);
  },
  logDensities(k, p, ws, K, b0, b1, freeBits) {
    k.gaussianLogProbs(ws.logw, ws.logpz, ws.logqz, ws.logpx, ws.z, ws.eps, ws.h, K, p.Z, b0, b1, 0, freeBits);
  },
  kl(k, p, ws, b0, b1, freeBits) {
    k.klStandardNormal(ws.kl, ws.h, p.Z, freeBits, b0, b1);
  },
  backward(k, p, ws, a, b0, b1) {
    k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, a.useR ? ws.r : 0, a.K, p.Z, a.gradMode, a.klScale, a.freeBits, b0, b1);
  },

  encode: gaussianEncode,
  /** decode(mu), or decode of one sample mu + σ·eps with eps keyed (seed, prior stream, example) */
  reconstruct(m, x, sample, seed) {
    const { mu, logvar } = gaussianEncode(m, x);
    if (!sample) return m.decode(mu);
    const eps = m.noise("normal", mu.length / m.Z, seed, STREAM.prior);
    for (let i = 0; i < mu.length; i++) mu[i] += Math.exp(Math.min(Math.max(logvar[i], -LOGVAR_MAX), LOGVAR_MAX) / 2) * eps[i];
    return m.decode(mu);
  },
  samplePrior: normalPrior,
};
