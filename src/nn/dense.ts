// The dense layer: its parameters' places, and its forward, input-gradient and weight-gradient
// passes over row ranges, as pure functions over the kernels (assembly/dense.ts, sparse.ts).
// Every layer keeps W in PyTorch's nn.Linear layout [out, in] and, beside it, W packed as the
// forward GEMM's panels of 8 outputs (packRows): the forward and dX read the panels, dW and Adam
// write W, and the thread that updates rows of W re-packs them.
import { A_PACK_ROWS, ACT, type Kernels } from "../../bindings/abi.js";

export interface Layer {
  inDim: number;
  outDim: number;
  act: number;
  /** float offsets in the parameter block */
  w: number;
  b: number;
  /** float offset of W packed as forward panels (packRows) in the packed block */
  pk: number;
  /** float offset of W's autoregressive mask in the mask block (IAF), when masked */
  mask?: number;
}

/** The parameter-sized blocks a dense layer reads and writes (byte pointers). */
export interface ParamBlocks {
  pParams: number;
  pGrads: number;
  pPacked: number;
  /** the masks of masked layers (Layer.mask), or 0 */
  pMask: number;
}

/** Floats the packed forward panels of a layer take: ⌈out/8⌉·8·in. */
export function packedSize(l: { inDim: number; outDim: number }): number {
  return Math.ceil(l.outDim / 8) * 8 * l.inDim;
}

/**
 * Floats of one thread's GEMM scratch for inner dimensions up to maxK: a panel of B (8·K) and
 * then A's packed rows (A_PACK_ROWS·K, see apackOf).
 */
export function scratchFloats(maxK: number): number {
  return (8 + A_PACK_ROWS) * maxK;
}

/** The area after a GEMM's B panel (8·K floats) in a scratchFloats scratch, where gemm packs A's rows. */
function apackOf(scratch: number, K: number): number {
  return scratch + 32 * K;
}

/** Y[m0:m1] = act(X[m0:m1]·Wᵀ + b), W read from its packed panels. */
export function linearForward(k: Kernels, p: ParamBlocks, l: Layer, y: number, x: number, m0: number, m1: number, scratch: number): void {
  const P = p.pParams;
  k.gemm(y, l.outDim, x, l.inDim, 1, P + 4 * l.w, 1, l.inDim, P + 4 * l.b, m0, m1, l.outDim, l.inDim, 0, l.act, scratch,
    p.pPacked + 4 * l.pk, apackOf(scratch, l.inDim));
}

/** Re-packs rows [o0, o1) of a layer's W (after they changed). */
export function packLayer(k: Kernels, p: ParamBlocks, l: Layer, o0: number, o1: number): void {
  if (o0 < o1) k.packRows(p.pPacked + 4 * l.pk, p.pParams + 4 * l.w, l.outDim, l.inDim, o0, o1);
}

/**
 * dW and db of one dense layer over ALL `rows` rows (in row order), for the layer's outputs
 * [o0, o1); dy holds ∂loss/∂(pre-activation). Writes (=, not +=) into grads.
 */
export function weightGrads(k: Kernels, p: ParamBlocks, l: Layer, dy: number, x: number, rows: number, o0: number, o1: number,
  scratch: number, sparseX = false): void {
  const O = l.outDim, I = l.inDim, grads = p.pGrads;
  // dW[o, i] = Σ_r dy[r, o]·x[r, i]: A = dyᵀ (strides 1, O), B = x (strides I, 1); with a sparse
  // x, only the examples with a nonzero in each panel of 8 inputs (bitwise the same)
  if (sparseX) k.gemmSparseB(grads + 4 * l.w, I, dy, O, x, I, rows, o0, o1, scratch);
  else k.gemm(grads + 4 * l.w, I, dy, 1, O, x, I, 1, 0, o0, o1, I, rows, 0, ACT.identity, scratch, 0, apackOf(scratch, rows));
  k.biasGrad(grads + 4 * (l.b + o0), dy + 4 * o0, O, 0, rows, o1 - o0, 0);
  // a masked (autoregressive) weight: masked entries stay 0 under Adam when their gradient is 0
  if (l.mask !== undefined) k.maskMul(grads + 4 * l.w, p.pMask + 4 * l.mask, o0 * I, o1 * I);
}

/**
 * dx = Σ dy·W over the layers that read x (`layers`, the first written with =, the others
 * added) for rows [r0, r1), then the previous layer's activation derivative (x its output).
 */
export function inputGrads(k: Kernels, p: ParamBlocks, layers: readonly { l: Layer; dy: number }[], x: number, dx: number,
  prevAct: number, r0: number, r1: number, scratch: number): void {
  if (r0 >= r1) return;
  layers.forEach(({ l, dy }, i) => matVecRows(k, p, l, dy, dx, r0, r1, i > 0 ? 1 : 0, scratch));
  const I = layers[0].l.inDim;
  k.actBackward(dx, x, r0 * I, r1 * I, prevAct);
}

/**
 * dx (= or +=) dy·W for rows [r0, r1), W read from its forward panels: on threads the panels are
 * then the only weights every thread reads, and the row-major W stays with the thread that
 * updates it (assembly/dense.ts gemmPackedT; bitwise the same as from the row-major W).
 */
export function matVecRows(k: Kernels, p: ParamBlocks, l: Layer, dy: number, dx: number, r0: number, r1: number, accumulate: number,
  scratch: number): void {
  const O = l.outDim, I = l.inDim;
  k.gemmPackedT(dx, I, dy, O, 1, p.pPacked + 4 * l.pk, I, O, r0, r1, accumulate, scratch, apackOf(scratch, O));
}

// ---------------------------------------------------------------- a layer over a concatenated input
// A layer whose input is [u, v] (rows of u and v side by side, e.g. M2's [x, onehot(y)]) can work
// on one part of its input columns [c0, c1) with that part stored alone (row stride c1 − c0):
// W[:, c0:c1] is read in place (row stride inDim) and no panel is used.

/** Y[m0:m1] = X_part·W[:, c0:c1]ᵀ (+ b with `bias`), no activation. */
export function partForward(k: Kernels, p: ParamBlocks, l: Layer, c0: number, c1: number, y: number, x: number, m0: number, m1: number,
  scratch: number, bias: boolean): void {
  const P = p.pParams;
  k.gemm(y, l.outDim, x, c1 - c0, 1, P + 4 * (l.w + c0), 1, l.inDim, bias ? P + 4 * l.b : 0, m0, m1, l.outDim, c1 - c0, 0, ACT.identity, scratch);
}

/** dX_part (= or += with `accumulate`) dY·W[:, c0:c1] for rows [r0, r1). */
export function partInputGrads(k: Kernels, p: ParamBlocks, l: Layer, c0: number, c1: number, dy: number, dx: number, r0: number, r1: number,
  scratch: number, accumulate: number): void {
  k.gemm(dx, c1 - c0, dy, l.outDim, 1, p.pParams + 4 * (l.w + c0), l.inDim, 1, 0, r0, r1, c1 - c0, l.outDim, accumulate, ACT.identity, scratch);
}

/** dW[o0:o1, c0:c1] = dYᵀ·X_part over `rows` rows (default every output; the bias gradient is biasGrads); sparseX: X skips its zeros (SIMD builds). */
export function partWeightGrads(k: Kernels, p: ParamBlocks, l: Layer, c0: number, c1: number, dy: number, x: number, rows: number,
  scratch: number, o0 = 0, o1 = l.outDim, sparseX = false): void {
  // (with a sparse x, only the examples with a nonzero in each panel of 8 inputs: bitwise the same)
  if (sparseX) k.gemmSparseB(p.pGrads + 4 * (l.w + c0), l.inDim, dy, l.outDim, x, c1 - c0, rows, o0, o1, scratch);
  else k.gemm(p.pGrads + 4 * (l.w + c0), l.inDim, dy, 1, l.outDim, x, c1 - c0, 1, 0, o0, o1, c1 - c0, rows, 0, ACT.identity, scratch);
}

/** db[o0:o1] = Σ_r dY[r] over `rows` rows (default every output). */
export function biasGrads(k: Kernels, p: ParamBlocks, l: Layer, dy: number, rows: number, o0 = 0, o1 = l.outDim): void {
  k.biasGrad(p.pGrads + 4 * (l.b + o0), dy + 4 * o0, l.outDim, 0, rows, o1 - o0, 0);
}
