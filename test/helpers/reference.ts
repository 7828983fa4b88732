// An independent float64 implementation of the VAE objective, written from the formulas in
// docs/design.md (not from the kernels): used to check lossAndGrads by central finite differences.
import type { ResolvedConfig } from "../../src/vae.js";
import type { ResolvedLayerSpec } from "../../src/model/network.js";
import { ACT } from "../../bindings/abi.js";
import { convRef, convTRef } from "./conv-reference.js";

export type Params = Record<string, Float64Array>;
const LOG_2PI = Math.log(2 * Math.PI);

function act(v: number, a: string): number {
  return a === "relu" ? Math.max(v, 0) : a === "tanh" ? Math.tanh(v) : v;
}

/** y[O] = W[O,I]·x[I] + b, nn.Linear layout. Records |pre-activation| minima for kink checks. */
function linear(W: Float64Array, b: Float64Array, x: Float64Array, kinks?: { min: number }): Float64Array {
  const O = b.length, I = x.length;
  const y = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let s = b[o];
    for (let i = 0; i < I; i++) s += W[o * I + i] * x[i];
    y[o] = s;
    if (kinks) kinks.min = Math.min(kinks.min, Math.abs(s));
  }
  return y;
}

/**
 * A layer list (a model's `encoder` or `decoder`) on one example, from the layers' definitions
 * (conv-reference.ts for the convolutions); images NHWC, flatten in PyTorch's [C, H·W] order.
 */
function layerList(specs: readonly ResolvedLayerSpec[], prefix: string, p: Params, x: Float64Array, input: number[], kinks?: { min: number }): Float64Array {
  let h = x, shape = input;
  specs.forEach((s, i) => {
    const W = p[`${prefix}.layers.${i}.weight`], b = p[`${prefix}.layers.${i}.bias`];
    if (s.type === "dense") {
      h = linear(W, b, h, s.activation === "relu" ? kinks : undefined).map((v) => act(v, s.activation));
      shape = [s.units];
    } else if (s.type === "conv" || s.type === "convT") {
      const g = { name: "", N: 1, C: shape[0], H: shape[1], W: shape[2], O: s.out, KH: s.kernel[0], KW: s.kernel[1], SH: s.stride[0], SW: s.stride[1], PH: s.padding[0], PW: s.padding[1] };
      const pre = (s.type === "conv" ? convRef : convTRef)(g, h, W, b, ACT.identity);
      if (kinks && s.activation === "relu") for (const v of pre) kinks.min = Math.min(kinks.min, Math.abs(v));
      h = pre.map((v) => act(v, s.activation));
      const Ho = s.type === "conv" ? (g.H + 2 * g.PH - g.KH) / g.SH + 1 : (g.H - 1) * g.SH - 2 * g.PH + g.KH;
      const Wo = s.type === "conv" ? (g.W + 2 * g.PW - g.KW) / g.SW + 1 : (g.W - 1) * g.SW - 2 * g.PW + g.KW;
      shape = [s.out, Ho, Wo];
    } else {
      // flatten: [H·W, C] → [C, H·W]; unflatten: back
      const [C, H, Wd] = s.type === "flatten" ? shape : s.shape;
      const t = new Float64Array(h.length);
      for (let px = 0; px < H * Wd; px++) {
        for (let c = 0; c < C; c++) {
          if (s.type === "flatten") t[c * H * Wd + px] = h[px * C + c];
          else t[px * C + c] = h[c * H * Wd + px];
        }
      }
      h = t;
      shape = s.type === "flatten" ? [C * H * Wd] : s.shape;
    }
  });
  return h;
}

/** The encoder's hidden layers. */
function encoderHidden(cfg: ResolvedConfig, p: Params, x: Float64Array, kinks?: { min: number }): Float64Array {
  if (cfg.encoder) return layerList(cfg.encoder, "encoder", p, x, cfg.inputShape!, kinks);
  let h = x;
  cfg.hidden.forEach((_, i) => {
    h = linear(p[`encoder.hidden.${i}.weight`], p[`encoder.hidden.${i}.bias`], h, cfg.activation === "relu" ? kinks : undefined).map((v) => act(v, cfg.activation));
  });
  return h;
}

function encode(cfg: ResolvedConfig, p: Params, x: Float64Array, kinks?: { min: number }) {
  const h = encoderHidden(cfg, p, x, kinks);
  return { mu: linear(p["encoder.mu.weight"], p["encoder.mu.bias"], h), lv: linear(p["encoder.logvar.weight"], p["encoder.logvar.bias"], h) };
}

function decoderOut(cfg: ResolvedConfig, p: Params, z: Float64Array, kinks?: { min: number }): Float64Array {
  if (cfg.decoder) return layerList(cfg.decoder, "decoder", p, z, [cfg.latentDim], kinks);
  let h = z;
  cfg.decoderHidden.forEach((_, i) => {
    h = linear(p[`decoder.hidden.${i}.weight`], p[`decoder.hidden.${i}.bias`], h, cfg.activation === "relu" ? kinks : undefined).map((v) => act(v, cfg.activation));
  });
  return linear(p["decoder.out.weight"], p["decoder.out.bias"], h);
}

function logLikelihood(cfg: ResolvedConfig, p: Params, z: Float64Array, x: Float64Array, kinks?: { min: number }): number {
  const out = decoderOut(cfg, p, z, kinks);
  let s = 0;
  if (cfg.likelihood.type === "bernoulli") {
    for (let d = 0; d < x.length; d++) {
      const l = out[d];
      s += x[d] * l - (Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l))));
    }
  } else {
    const learned = cfg.likelihood.learnVariance;
    for (let d = 0; d < x.length; d++) {
      const lv = learned ? p["decoder.logvar"][d] : Math.log(cfg.likelihood.variance);
      s += -0.5 * ((x[d] - out[d]) ** 2 / Math.exp(lv) + LOG_2PI + lv);
    }
  }
  return s;
}

/**
 * loss = -mean_b objective_b for B rows of x ([B, D]) and eps ([B, K, Z], row b·K + k):
 *   analytic: mean_k log p(x|z) - β·Σ_j max(λ, KL_j) (λ = freeBits, 0: the KL);
 *   td/stl:   mean_k [log p(x|z) + β(log p(z) - log q(z|x))], or with λ > 0
 *             mean_k log p(x|z) - β·Σ_j max(λ, KL_j), KL_j = mean_k (log q_j - log p_j) (Monte Carlo).
 * For 'stl', log q's parameters come from `stop` (the parameters at which the gradient is taken,
 * held fixed), so finite differences in `p` give exactly the path derivative.
 */
export function referenceLoss(cfg: ResolvedConfig, p: Params, x: Float64Array, eps: Float64Array, K: number,
  estimator: "analytic" | "td" | "stl", stop?: Params, kinks?: { min: number }, beta = 1, freeBits = 0, klFloor?: { min: number }): number {
  const D = cfg.inputDim, Z = cfg.latentDim, B = x.length / D;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * D, (b + 1) * D);
    const { mu, lv } = encode(cfg, p, xb, kinks);
    const q = estimator === "stl" && stop ? encode(cfg, stop, xb) : { mu, lv };
    let obj = 0;
    const mcKl = new Float64Array(Z); // Σ_k (log q_j - log p_j)
    for (let k = 0; k < K; k++) {
      const z = new Float64Array(Z);
      let lpz = 0, lqz = 0;
      for (let j = 0; j < Z; j++) {
        z[j] = mu[j] + Math.exp(lv[j] / 2) * eps[(b * K + k) * Z + j];
        const lp = -0.5 * (z[j] * z[j] + LOG_2PI);
        const lq = -0.5 * ((z[j] - q.mu[j]) ** 2 / Math.exp(q.lv[j]) + LOG_2PI + q.lv[j]);
        lpz += lp;
        lqz += lq;
        mcKl[j] += lq - lp;
      }
      const lpx = logLikelihood(cfg, p, z, xb, kinks);
      obj += estimator === "analytic" || freeBits > 0 ? lpx / K : (lpx + beta * (lpz - lqz)) / K;
    }
    if (estimator !== "analytic" && freeBits > 0) {
      for (let j = 0; j < Z; j++) {
        const kl = mcKl[j] / K;
        if (klFloor) klFloor.min = Math.min(klFloor.min, Math.abs(kl - freeBits));
        obj -= beta * Math.max(freeBits, kl);
      }
    }
    if (estimator === "analytic") {
      for (let j = 0; j < Z; j++) {
        const kl = 0.5 * (mu[j] ** 2 + Math.exp(lv[j]) - 1 - lv[j]);
        // (free bits: max(λ, KL_j); klFloor records how close any KL_j comes to the kink)
        if (klFloor && freeBits > 0) klFloor.min = Math.min(klFloor.min, Math.abs(kl - freeBits));
        obj -= beta * Math.max(freeBits, kl);
      }
    }
    total += obj;
  }
  return -total / B;
}

export function toF64(dict: Record<string, Float32Array>): Params {
  return Object.fromEntries(Object.entries(dict).map(([k, v]) => [k, Float64Array.from(v)]));
}

export interface RefRows {
  /** [B·K] each, row b·K + k */
  logpx: Float64Array;
  logpz: Float64Array;
  logqz: Float64Array;
  logw: Float64Array;
}

/**
 * Per-row log-densities. z is reparameterized with the encoder of `zFrom` (default p) and
 * log q(z|x) is evaluated with the encoder of `q` (default p): FD in p with q = p0 fixed gives
 * path derivatives; with zFrom = p0 fixed, the score function's ∇ log q at fixed z.
 */
export function referenceRows(cfg: ResolvedConfig, p: Params, x: Float64Array, eps: Float64Array, K: number,
  opts: { q?: Params; zFrom?: Params } = {}): RefRows {
  const D = cfg.inputDim, Z = cfg.latentDim, B = x.length / D, R = K * B;
  const out = { logpx: new Float64Array(R), logpz: new Float64Array(R), logqz: new Float64Array(R), logw: new Float64Array(R) };
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * D, (b + 1) * D);
    const zs = encode(cfg, opts.zFrom ?? p, xb);
    const q = encode(cfg, opts.q ?? p, xb);
    for (let k = 0; k < K; k++) {
      const r = b * K + k;
      const z = new Float64Array(Z);
      for (let j = 0; j < Z; j++) {
        z[j] = zs.mu[j] + Math.exp(zs.lv[j] / 2) * eps[r * Z + j];
        out.logpz[r] += -0.5 * (z[j] * z[j] + LOG_2PI);
        out.logqz[r] += -0.5 * ((z[j] - q.mu[j]) ** 2 / Math.exp(q.lv[j]) + LOG_2PI + q.lv[j]);
      }
      out.logpx[r] = logLikelihood(cfg, p, z, xb);
      out.logw[r] = out.logpx[r] + out.logpz[r] - out.logqz[r];
    }
  }
  return out;
}

/** log mean_k exp(v[k·B + b]) per b, and the softmax weights. */
export function logMeanExp(v: Float64Array, K: number, B: number): { bound: Float64Array; wt: Float64Array } {
  const bound = new Float64Array(B), wt = new Float64Array(K * B);
  for (let b = 0; b < B; b++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, v[b * K + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(v[b * K + k] - m);
    bound[b] = m + Math.log(s / K);
    for (let k = 0; k < K; k++) wt[b * K + k] = Math.exp(v[b * K + k] - m) / s;
  }
  return { bound, wt };
}

/**
 * Categorical latent (Gumbel-softmax): loss = -mean_b [mean_k log p(x | y_bk) - KL(q(y|x_b) ‖ uniform)],
 * y_bk = softmax((l_b + g_bk)/τ) per variable, l_b = the encoder's logits, g ([B, K, Z]) Gumbel noise.
 */
export function referenceCategoricalLoss(cfg: ResolvedConfig, p: Params, x: Float64Array, g: Float64Array, K: number, tau: number): number {
  if (cfg.latent.type !== "categorical") throw new Error("referenceCategoricalLoss: not a categorical model");
  const { variables: N, categories: C } = cfg.latent;
  const D = cfg.inputDim, Z = N * C, B = x.length / D;
  let total = 0;
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * D, (b + 1) * D);
    const l = linear(p["encoder.logits.weight"], p["encoder.logits.bias"], encoderHidden(cfg, p, xb));
    let obj = 0;
    for (let k = 0; k < K; k++) {
      const y = new Float64Array(Z);
      for (let n = 0; n < N; n++) {
        const s = Array.from({ length: C }, (_, c) => (l[n * C + c] + g[(b * K + k) * Z + n * C + c]) / tau);
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const t = e.reduce((a, v) => a + v);
        e.forEach((v, c) => (y[n * C + c] = v / t));
      }
      obj += logLikelihood(cfg, p, y, xb) / K;
    }
    for (let n = 0; n < N; n++) {
      const lg = Array.from({ length: C }, (_, c) => l[n * C + c]);
      const m = Math.max(...lg);
      const lse = m + Math.log(lg.reduce((a, v) => a + Math.exp(v - m), 0));
      for (const v of lg) obj -= Math.exp(v - lse) * (v - lse + Math.log(C));
    }
    total += obj;
  }
  return -total / B;
}

const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * A normalizing flow on z0 in f64 (Rezende & Mohamed 2015; Kingma et al. 2016), from the
 * formulas, with the flow parameters / IAF context `hf` of one example: z_T and Σ log|det J|.
 */
function flowRef(cfg: ResolvedConfig, p: Params, hf: Float64Array, z0: Float64Array): { z: Float64Array; logdet: number } {
  const f = cfg.flow!;
  const Z = z0.length;
  let z = Float64Array.from(z0), logdet = 0;
  for (let t = 0; t < f.length; t++) {
    const next = new Float64Array(Z);
    if (f.type === "planar") {
      const o = t * (2 * Z + 1);
      const u = hf.subarray(o, o + Z), w = hf.subarray(o + Z, o + 2 * Z), bias = hf[o + 2 * Z];
      const dot = (a: ArrayLike<number>, c: ArrayLike<number>) => Array.from(a).reduce((s, v, j) => s + v * c[j], 0);
      const wu = dot(w, u), n2 = dot(w, w);
      const uh = Array.from(u, (v, j) => v + ((-1 + softplus(wu) - wu) * w[j]) / n2); // û: wᵀû = m(wᵀu)
      const a = dot(w, z) + bias;
      for (let j = 0; j < Z; j++) next[j] = z[j] + uh[j] * Math.tanh(a);
      logdet += Math.log(Math.abs(1 + (1 - Math.tanh(a) ** 2) * dot(w, uh)));
    } else if (f.type === "radial") {
      const o = t * (Z + 2);
      const z0r = hf.subarray(o, o + Z);
      const alpha = softplus(hf[o + Z]), beta = -alpha + softplus(hf[o + Z + 1]);
      const r = Math.sqrt(Array.from(z).reduce((s, v, j) => s + (v - z0r[j]) ** 2, 0));
      const h = 1 / (alpha + r), dh = -1 / (alpha + r) ** 2;
      for (let j = 0; j < Z; j++) next[j] = z[j] + beta * h * (z[j] - z0r[j]);
      logdet += (Z - 1) * Math.log(1 + beta * h) + Math.log(1 + beta * h + beta * dh * r);
    } else {
      const { m, s: sv } = madeStep(cfg, p, t, z, hf);
      for (let j = 0; j < Z; j++) {
        next[j] = sigmoid(sv[j]) * z[j] + (1 - sigmoid(sv[j])) * m[j];
        logdet += Math.log(sigmoid(sv[j]));
      }
    }
    z = next;
  }
  return { z, logdet };
}

/**
 * IAF step t's MADE (Germain et al. 2015) at z: m and s. The order of step t is 1…Z (t even) or
 * reversed (t odd); hidden unit k has degree 1 + k mod (Z−1); masks from those degrees.
 */
function madeStep(cfg: ResolvedConfig, p: Params, t: number, z: Float64Array, hf: Float64Array): { m: Float64Array; s: Float64Array } {
  const Z = z.length, H = (cfg.flow as { hidden: number }).hidden;
  const order = (j: number) => (t % 2 === 0 ? j + 1 : Z - j);
  const hdeg = (k: number) => 1 + (k % (Z - 1));
  const W1 = p[`encoder.iaf.${t}.hidden.weight`], b1 = p[`encoder.iaf.${t}.hidden.bias`];
  const W2 = p[`encoder.iaf.${t}.out.weight`], b2 = p[`encoder.iaf.${t}.out.bias`];
  const hid = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    let a = b1[k] + hf[t * H + k];
    for (let j = 0; j < Z; j++) if (hdeg(k) >= order(j)) a += W1[k * Z + j] * z[j];
    hid[k] = Math.max(a, 0);
  }
  const m = new Float64Array(Z), s = new Float64Array(Z);
  for (let j = 0; j < Z; j++) {
    m[j] = b2[j];
    s[j] = b2[Z + j];
    for (let k = 0; k < H; k++) {
      if (order(j) > hdeg(k)) {
        m[j] += W2[j * H + k] * hid[k];
        s[j] += W2[(Z + j) * H + k] * hid[k];
      }
    }
  }
  return { m, s };
}

/**
 * log q(z_T|x) of an IAF model at a given z_T with the parameters `p` (held fixed by the
 * caller): the flow inverted step by step (each step's triangular system by Z fixed-point
 * sweeps, exact after Z), log q0(z0) − Σ log σ.
 */
function iafLogQAt(cfg: ResolvedConfig, p: Params, xb: Float64Array, zT: Float64Array): number {
  const Z = zT.length, T = cfg.flow!.length;
  const top = encoderHidden(cfg, p, xb);
  const mu = linear(p["encoder.mu.weight"], p["encoder.mu.bias"], top), lv = linear(p["encoder.logvar.weight"], p["encoder.logvar.bias"], top);
  const hf = linear(p["encoder.flow.weight"], p["encoder.flow.bias"], top);
  let z = Float64Array.from(zT), logdet = 0;
  for (let t = T - 1; t >= 0; t--) {
    const prev = new Float64Array(Z);
    for (let sweep = 0; sweep <= Z; sweep++) {
      const { m, s } = madeStep(cfg, p, t, prev, hf);
      for (let j = 0; j < Z; j++) prev[j] = (z[j] - (1 - sigmoid(s[j])) * m[j]) / sigmoid(s[j]);
    }
    const { s } = madeStep(cfg, p, t, prev, hf);
    for (let j = 0; j < Z; j++) logdet += Math.log(sigmoid(s[j]));
    z = prev;
  }
  let lq0 = 0;
  for (let j = 0; j < Z; j++) lq0 += -0.5 * ((z[j] - mu[j]) ** 2 / Math.exp(lv[j]) + LOG_2PI + lv[j]);
  return lq0 - logdet;
}

/**
 * A model with a flow: loss = −mean_b objective_b with, per row, log w = log p(x|z_T) + log p(z_T)
 * − log q0(z0|x) + Σ log|det J|, z0 = mu + σ·eps; objective mean_k log w ('td') or
 * log mean_k w ('iwae'); with opts.weights, Σ_r weights_r·log w_r instead.
 */
export function referenceFlowLoss(cfg: ResolvedConfig, p: Params, x: Float64Array, eps: Float64Array, K: number, estimator: "td" | "iwae",
  opts: { stop?: Params; weights?: Float64Array } = {}): number {
  const B = x.length / cfg.inputDim;
  const logw = referenceFlowLogW(cfg, p, x, eps, K, opts.stop);
  let total = 0;
  if (opts.weights) {
    // Σ_r weights_r·log w_r (DReG's encoder objective with w̃² held fixed)
    for (let r = 0; r < B * K; r++) total += opts.weights[r] * logw[r];
  } else if (estimator === "td") {
    for (const v of logw) total += v / K;
  } else {
    for (const v of logMeanExp(logw, K, B).bound) total += v;
  }
  return -total / B;
}

/** Per-row log w [B·K] of a flow model (see referenceFlowLoss). */
export function referenceFlowLogW(cfg: ResolvedConfig, p: Params, x: Float64Array, eps: Float64Array, K: number, stop?: Params): Float64Array {
  const D = cfg.inputDim, Z = cfg.latentDim, B = x.length / D;
  const logw = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * D, (b + 1) * D);
    const top = encoderHidden(cfg, p, xb);
    const mu = linear(p["encoder.mu.weight"], p["encoder.mu.bias"], top), lv = linear(p["encoder.logvar.weight"], p["encoder.logvar.bias"], top);
    const hf = linear(p["encoder.flow.weight"], p["encoder.flow.bias"], top);
    for (let k = 0; k < K; k++) {
      const r = b * K + k;
      const z0 = new Float64Array(Z);
      let lq0 = 0;
      for (let j = 0; j < Z; j++) {
        const e = eps[r * Z + j];
        z0[j] = mu[j] + Math.exp(lv[j] / 2) * e;
        lq0 += -0.5 * (e * e + LOG_2PI + lv[j]);
      }
      const { z, logdet } = flowRef(cfg, p, hf, z0);
      let lpz = 0;
      for (let j = 0; j < Z; j++) lpz += -0.5 * (z[j] * z[j] + LOG_2PI);
      // with `stop`: log q(z_T|x) at the parameters `stop`, held fixed (an IAF inverted): FD in p gives the path derivative
      const lq = stop ? iafLogQAt(cfg, stop, xb, z) : lq0 - logdet;
      logw[r] = logLikelihood(cfg, p, z, xb) + lpz - lq;
    }
  }
  return logw;
}
