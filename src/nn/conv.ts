// Convolution and transposed-convolution layers as dense layers over patches (assembly/conv.ts):
// their geometry, its checks, and their forward, input-gradient and weight-gradient passes over
// example ranges (forward, dX) and output-channel ranges (dW), as pure functions over the kernels
// — the same thread scheme as the dense layers, so any thread count gives the same bits.
//
// Images are NHWC (a pixel's channels together). The weights are PyTorch's, unchanged:
//   conv:  nn.Conv2d W[O, C, KH, KW]           = the dense layer W[O, C·KH·KW] over patch rows
//   convT: nn.ConvTranspose2d W[Cin, Cout, KH, KW] = the dense layer W[Cin, Cout·KH·KW], used as
//          its own input gradient (Y = col2im(X·W)), so its forward panels are those of a dense
//          layer with Cin outputs.
import { ACT, type Kernels } from "../../bindings/abi.js";
import { linearForward, matVecRows, weightGrads, type Layer, type ParamBlocks } from "./dense.js";

export interface ConvGeometry {
  /** the input image: channels, height, width */
  C: number; H: number; W: number;
  /** output channels */
  O: number;
  KH: number; KW: number; SH: number; SW: number; PH: number; PW: number;
  /** the output image's height and width */
  Ho: number; Wo: number;
}

/** A convolution's parameters as a dense Layer (conv: outDim O, inDim C·KH·KW; convT: outDim Cin, inDim Cout·KH·KW) and its geometry. */
export interface ConvLayer extends Layer {
  kind: "conv" | "convT";
  g: ConvGeometry;
}

export interface ConvSpec {
  /** output channels */
  out: number;
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
}

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

/**
 * The geometry of a convolution (`transposed`: nn.ConvTranspose2d) on a [C, H, W] input, checked:
 * positive integers, a kernel that fits the padded input, and a stride that tiles it exactly
 * (PyTorch would silently drop the last rows or columns). `where` names the layer in errors.
 */
export function convGeometry(fn: string, where: string, input: [number, number, number], s: ConvSpec, transposed: boolean): ConvGeometry {
  const [C, H, W] = input;
  const [KH, KW] = pair(s.kernel), [SH, SW] = pair(s.stride ?? 1), [PH, PW] = pair(s.padding ?? 0);
  const ints: [string, number, number][] = [["out", s.out, 1], ["kernel", KH, 1], ["kernel", KW, 1], ["stride", SH, 1], ["stride", SW, 1], ["padding", PH, 0], ["padding", PW, 0]];
  for (const [name, v, min] of ints) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${fn}: ${where}.${name} must be an integer ≥ ${min} (or a pair of them); got ${JSON.stringify(name === "out" ? s.out : s[name as keyof ConvSpec])}`);
  }
  if (transposed) {
    const Ho = (H - 1) * SH - 2 * PH + KH, Wo = (W - 1) * SW - 2 * PW + KW;
    if (Ho < 1 || Wo < 1) throw new Error(`${fn}: ${where} makes a ${Ho}×${Wo} output from a ${H}×${W} input (padding ${PH}×${PW} is too large for kernel ${KH}×${KW})`);
    return { C, H, W, O: s.out, KH, KW, SH, SW, PH, PW, Ho, Wo };
  }
  const span = (n: number, k: number, st: number, p: number, axis: string) => {
    const room = n + 2 * p - k;
    if (room < 0) throw new Error(`${fn}: ${where}: kernel ${k} is larger than the padded input ${axis} ${n + 2 * p} (${n} + 2·${p})`);
    if (room % st !== 0) {
      throw new Error(`${fn}: ${where}: stride ${st} does not tile the input ${axis}: (${n} + 2·${p} − ${k}) = ${room} is not a multiple of ${st} ` +
        "(the last input rows or columns would be dropped); change the padding or the kernel");
    }
    return room / st + 1;
  };
  return { C, H, W, O: s.out, KH, KW, SH, SW, PH, PW, Ho: span(H, KH, SH, PH, "height"), Wo: span(W, KW, SW, PW, "width") };
}

/** Floats of a layer's patch rows for B examples (conv: its input's patches; convT: its output's, for the backward). */
export function patchFloats(l: ConvLayer, B: number): number {
  const g = l.g;
  return l.kind === "conv" ? B * g.Ho * g.Wo * g.C * g.KH * g.KW : B * g.H * g.W * g.O * g.KH * g.KW;
}

type PatchArgs = [number, number, number, number, number, number, number, number, number, number, number];
const patchArgs = new WeakMap<ConvLayer, PatchArgs>();

/** The geometry's arguments of im2col/col2im for a layer (the image the patches are taken from, and the grid), made once per layer. */
function im2colArgs(l: ConvLayer): PatchArgs {
  let a = patchArgs.get(l);
  if (!a) {
    const g = l.g;
    a = l.kind === "conv"
      ? [g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.Ho, g.Wo]
      // a transposed convolution's output is the image and its input pixels the grid
      : [g.O, g.Ho, g.Wo, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.H, g.W];
    patchArgs.set(l, a);
  }
  return a;
}

/** y = act(layer(x)) for examples [b0, b1); `col` holds the patch rows (conv: kept for dW) or X·W (convT). */
export function convForward(k: Kernels, p: ParamBlocks, l: ConvLayer, y: number, x: number, col: number, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  const g = l.g;
  if (l.kind === "conv") {
    k.im2col(col, x, ...im2colArgs(l), b0, b1);
    linearForward(k, p, l, y, col, b0 * g.Ho * g.Wo, b1 * g.Ho * g.Wo, scratch);
    return;
  }
  matVecRows(k, p, l, x, col, b0 * g.H * g.W, b1 * g.H * g.W, 0, scratch);
  k.col2im(y, col, ...im2colArgs(l), b0, b1);
  k.biasActRows(y, p.pParams + 4 * l.b, g.O, b0 * g.Ho * g.Wo, b1 * g.Ho * g.Wo, l.act);
}

/**
 * For examples [b0, b1): dx = ∂loss/∂x from dy (∂loss/∂ the layer's pre-activation), then the
 * previous layer's activation derivative (`xPrevAct`, x its output; ACT.identity for none).
 * conv: `dcol` is room for the patch gradients; convT: `col` gets dy's patch rows (kept for dW).
 */
export function convInputGrads(k: Kernels, p: ParamBlocks, l: ConvLayer, dy: number, x: number, dx: number, col: number,
  xPrevAct: number, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  const g = l.g;
  const inSize = g.H * g.W * g.C;
  if (l.kind === "conv") {
    matVecRows(k, p, l, dy, col, b0 * g.Ho * g.Wo, b1 * g.Ho * g.Wo, 0, scratch);
    k.col2im(dx, col, ...im2colArgs(l), b0, b1);
  } else {
    k.im2col(col, dy, ...im2colArgs(l), b0, b1);
    // dX = im2col(dY)·Wᵀ: the dense forward without bias or activation
    const Q = l.inDim, P = p.pParams;
    k.gemm(dx, g.C, col, Q, 1, P + 4 * l.w, 1, Q, 0, b0 * g.H * g.W, b1 * g.H * g.W, g.C, Q, 0, ACT.identity, scratch,
      p.pPacked + 4 * l.pk, scratch + 32 * Q);
  }
  if (xPrevAct !== ACT.identity) k.actBackward(dx, x, b0 * inSize, b1 * inSize, xPrevAct);
}

/**
 * dW for the dense view's outputs [o0, o1) (conv: output channels; convT: input channels) over
 * all B examples, and — conv: with them, that range of db; convT: the whole db when o0 = 0
 * (its bias belongs to the output channels). `col` is what the passes above left: conv the input
 * patches, convT dy's patches; `x` the layer's input (convT). Writes (=) into the gradients.
 */
export function convWeightGrads(k: Kernels, p: ParamBlocks, l: ConvLayer, dy: number, x: number, col: number, B: number,
  o0: number, o1: number, scratch: number): void {
  const g = l.g;
  if (l.kind === "conv") {
    weightGrads(k, p, l, dy, col, B * g.Ho * g.Wo, o0, o1, scratch);
    return;
  }
  if (o0 >= o1) return;
  const Q = l.inDim, rows = B * g.H * g.W, grads = p.pGrads;
  k.gemm(grads + 4 * l.w, Q, x, 1, g.C, col, Q, 1, 0, o0, o1, Q, rows, 0, ACT.identity, scratch, 0, scratch + 32 * rows);
  if (o0 === 0) k.biasGrad(grads + 4 * l.b, dy, g.O, 0, B * g.Ho * g.Wo, g.O, 0);
}

// ---------------------------------------------------------------- reshapes and the layer union

/**
 * nn.Flatten after a convolution (`flatten`: each example's NHWC [H·W, C] to PyTorch's [C, H·W])
 * and nn.Unflatten before a transposed one (`unflatten`: [C, H·W] to [H·W, C]). No parameters; the
 * activation is the identity (its input is already the previous layer's output).
 */
export interface ReshapeLayer {
  kind: "flatten" | "unflatten";
  /** the image's pixels (H·W) and channels */
  pixels: number;
  channels: number;
  act: number;
}

/** Any layer of a network: dense (no kind), convolution, transposed convolution, reshape. */
export type NetLayer = Layer | ConvLayer | ReshapeLayer;

export const isConv = (l: NetLayer): l is ConvLayer => "kind" in l && (l.kind === "conv" || l.kind === "convT");
export const isReshape = (l: NetLayer): l is ReshapeLayer => "kind" in l && (l.kind === "flatten" || l.kind === "unflatten");
export const isDense = (l: NetLayer): l is Layer => !("kind" in l);

/** Values per example (per row) a layer outputs. */
export function widthOf(l: NetLayer): number {
  if (isReshape(l)) return l.pixels * l.channels;
  if (isConv(l)) return l.g.Ho * l.g.Wo * l.g.O;
  return l.outDim;
}

/** Floats of a layer's bias (a transposed convolution's belongs to its output channels). */
export function biasSize(l: Layer): number {
  return "kind" in l && (l as ConvLayer).kind === "convT" ? (l as ConvLayer).g.O : l.outDim;
}

/** Rows of patches a layer's GEMMs run per example (1 for a dense layer): sizes the GEMM scratch. */
export function gridOf(l: NetLayer): number {
  if (!isConv(l)) return 1;
  return l.kind === "conv" ? l.g.Ho * l.g.Wo : l.g.H * l.g.W;
}

/** y = reshape(x) for examples [b0, b1). */
export function reshapeForward(k: Kernels, l: ReshapeLayer, y: number, x: number, b0: number, b1: number): void {
  if (l.kind === "flatten") k.transposeRows(y, x, l.pixels, l.channels, b0, b1);
  else k.transposeRows(y, x, l.channels, l.pixels, b0, b1);
}

/** dx = reshape⁻¹(dy) for examples [b0, b1), then the previous layer's activation derivative (x its output). */
export function reshapeInputGrads(k: Kernels, l: ReshapeLayer, dy: number, x: number, dx: number, xPrevAct: number, b0: number, b1: number): void {
  if (b0 >= b1) return;
  if (l.kind === "flatten") k.transposeRows(dx, dy, l.channels, l.pixels, b0, b1);
  else k.transposeRows(dx, dy, l.pixels, l.channels, b0, b1);
  const n = l.pixels * l.channels;
  if (xPrevAct !== ACT.identity) k.actBackward(dx, x, b0 * n, b1 * n, xPrevAct);
}
