// f64 references of nn.Conv2d and nn.ConvTranspose2d on NHWC images with PyTorch's weight
// layouts, written from their definitions (direct loops, no patches), for the kernel and layer tests.
import { ACT } from "../../bindings/abi.js";

export interface Geometry {
  name: string;
  N: number; C: number; H: number; W: number; O: number;
  KH: number; KW: number; SH: number; SW: number; PH: number; PW: number;
}

export const outSize = (g: Geometry) => ({ Ho: Math.floor((g.H + 2 * g.PH - g.KH) / g.SH) + 1, Wo: Math.floor((g.W + 2 * g.PW - g.KW) / g.SW) + 1 });
export const actF64 = (v: number, act: number) => (act === ACT.relu ? Math.max(v, 0) : act === ACT.tanh ? Math.tanh(v) : v);

/** f64 nn.Conv2d on NHWC images: y[b, ho, wo, o] = act(bias[o] + Σ x[b, ho·SH − PH + kh, wo·SW − PW + kw, c]·w[o, c, kh, kw]). */
export function convRef(g: Geometry, x: Float64Array, w: Float64Array, bias: Float64Array, act: number): Float64Array {
  const { Ho, Wo } = outSize(g);
  const y = new Float64Array(g.N * Ho * Wo * g.O);
  for (let b = 0; b < g.N; b++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++) for (let o = 0; o < g.O; o++) {
    let s = bias[o];
    for (let c = 0; c < g.C; c++) for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const h = ho * g.SH - g.PH + kh, ww = wo * g.SW - g.PW + kw;
      if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
      s += x[((b * g.H + h) * g.W + ww) * g.C + c] * w[((o * g.C + c) * g.KH + kh) * g.KW + kw];
    }
    y[((b * Ho + ho) * Wo + wo) * g.O + o] = actF64(s, act);
  }
  return y;
}

/**
 * f64 nn.ConvTranspose2d on NHWC images, by its definition: input pixel (h, w) of channel ci adds
 * x·w[ci, co, kh, kw] to output (h·SH − PH + kh, w·SW − PW + kw); out size (H − 1)·S − 2P + K.
 * Here the geometry's C is the input channels and O the output channels.
 */
export function convTRef(g: Geometry, x: Float64Array, w: Float64Array, bias: Float64Array, act: number): Float64Array {
  const Hout = (g.H - 1) * g.SH - 2 * g.PH + g.KH, Wout = (g.W - 1) * g.SW - 2 * g.PW + g.KW;
  const y = new Float64Array(g.N * Hout * Wout * g.O);
  for (let b = 0; b < g.N; b++) for (let i = 0; i < Hout * Wout; i++) for (let co = 0; co < g.O; co++) y[(b * Hout * Wout + i) * g.O + co] = bias[co];
  for (let b = 0; b < g.N; b++) for (let h = 0; h < g.H; h++) for (let ww = 0; ww < g.W; ww++) for (let ci = 0; ci < g.C; ci++) {
    const v = x[((b * g.H + h) * g.W + ww) * g.C + ci];
    for (let co = 0; co < g.O; co++) for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const oh = h * g.SH - g.PH + kh, ow = ww * g.SW - g.PW + kw;
      if (oh < 0 || oh >= Hout || ow < 0 || ow >= Wout) continue;
      y[((b * Hout + oh) * Wout + ow) * g.O + co] += v * w[((ci * g.O + co) * g.KH + kh) * g.KW + kw];
    }
  }
  return y.map((v) => actF64(v, act));
}

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
