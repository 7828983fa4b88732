// A stack of dense layers over a row range, with the sparse first layer: when at most half of
// a batch's inputs are nonzero (MNIST digits: ~19 %), the first layer's forward walks each row's
// nonzero list and its dW skips, per panel of 8 inputs, the examples that are all zero there
// (assembly/sparse.ts). Skipped terms are exact zeros, so the results are bitwise the dense ones.
import type { Kernels } from "../../bindings/abi.js";
import { convForward, convInputGrads, isConv, isReshape, reshapeForward, reshapeInputGrads, type NetLayer } from "./conv.js";
import { inputGrads, linearForward, weightGrads, type Layer, type ParamBlocks } from "./dense.js";

/** Inputs at most this dense take the sparse first layer (MNIST digits: ~0.19 nonzero). */
export const SPARSE_DENSITY = 0.5;

/** Whether the n values at x are sparse enough for the sparse first layer (forward and dW). */
export function isSparse(k: Kernels, x: number, n: number): boolean {
  return k.countNonzero(x, n) <= SPARSE_DENSITY * n;
}

/**
 * The first layer on rows [m0, m1): from the nonzero lists of x when sparse enough (bitwise the
 * dense result, see assembly/sparse.ts gemmSparseA; ~2.5× faster on MNIST digits), else dense.
 * `lists` is room for the lists (2·rows·(inDim + 1) floats).
 */
export function firstLayer(k: Kernels, p: ParamBlocks, l: Layer, y: number, x: number, m0: number, m1: number, scratch: number,
  lists: number): void {
  if (m0 >= m1) return;
  if (listNonzeros(k, lists, x, l.inDim, m0, m1)) sparseForward(k, p, l, y, lists, l.inDim, m0, m1);
  else linearForward(k, p, l, y, x, m0, m1, scratch);
}

/**
 * Writes the nonzero lists of rows [m0, m1) of x (K values a row) into `lists` (room for
 * 2·rows·(K + 1) floats; 0: none, the scalar build) when they are sparse enough, and says
 * whether it did. It counts first (a vector pass, ~12 µs for 100×784): dense input never pays
 * for writing lists.
 */
export function listNonzeros(k: Kernels, lists: number, x: number, K: number, m0: number, m1: number): boolean {
  if (!lists || m0 >= m1 || !isSparse(k, x + 4 * m0 * K, (m1 - m0) * K)) return false;
  k.sparseRows(lists, x, K, m0, m1);
  return true;
}

/**
 * Layer l's outputs on rows [m0, m1) from x's nonzero lists (listNonzeros, K values a row):
 * act(x·W[:, 0:K]ᵀ + b), the first K of the layer's inputs when K < l.inDim (a layer on [x, y]
 * multiplying x alone: M2's encoder); bitwise the dense result (assembly/sparse.ts gemmSparseA).
 */
export function sparseForward(k: Kernels, p: ParamBlocks, l: Layer, y: number, lists: number, K: number, m0: number, m1: number,
  act: number = l.act): void {
  k.gemmSparseA(y, l.outDim, lists, K, p.pPacked + 4 * l.pk, l.inDim, p.pParams + 4 * l.b, m0, m1, l.outDim, act);
}

/** One layer of any kind on rows [m0, m1): y from x (`col`: a convolution's patch slot). */
export function layerForward(k: Kernels, p: ParamBlocks, l: NetLayer, y: number, x: number, m0: number, m1: number, scratch: number, col = 0): void {
  if (isConv(l)) convForward(k, p, l, y, x, col, m0, m1, scratch);
  else if (isReshape(l)) reshapeForward(k, l, y, x, m0, m1);
  else linearForward(k, p, l, y, x, m0, m1, scratch);
}

/**
 * dx from layer l's dy over rows [r0, r1), then the previous layer's activation derivative (x
 * its output). `col`/`dcol`: a convolution's patch slots (conv: dcol is room for the patch
 * gradients; convT: col receives dy's patches for dW). `also`: more dense layers reading the same
 * x (a latent kind's side heads), only beside a dense layer.
 */
export function layerInputGrads(k: Kernels, p: ParamBlocks, l: NetLayer, dy: number, x: number, dx: number, prevAct: number,
  r0: number, r1: number, scratch: number, col = 0, dcol = 0, also: readonly { l: Layer; dy: number }[] = []): void {
  if (also.length && "kind" in l) throw new Error("engine: side heads read a dense layer's input only");
  if (isConv(l)) convInputGrads(k, p, l, dy, x, dx, l.kind === "conv" ? dcol : col, prevAct, r0, r1, scratch);
  else if (isReshape(l)) reshapeInputGrads(k, l, dy, x, dx, prevAct, r0, r1);
  else inputGrads(k, p, [{ l, dy }, ...also], x, dx, prevAct, r0, r1, scratch);
}

/**
 * A network over rows [m0, m1): layer i writes hidden[i], the last layer writes `out`. With
 * `lists` (room for the input's nonzero lists; 0 on the scalar build, which has no sparse
 * kernels) a dense first layer skips zero inputs when sparse enough (firstLayer). `cols`: the
 * convolutions' patch slots, by layer.
 */
export function mlpForward(k: Kernels, p: ParamBlocks, layers: readonly NetLayer[], x: number, hidden: readonly number[], out: number,
  m0: number, m1: number, scratch: number, lists = 0, cols: readonly number[] = []): void {
  layers.forEach((l, i) => {
    const y = i < layers.length - 1 ? hidden[i] : out;
    if (i === 0 && lists && !("kind" in l)) firstLayer(k, p, l, y, x, m0, m1, scratch, lists);
    else layerForward(k, p, l, y, x, m0, m1, scratch, cols[i] ?? 0);
    x = y;
  });
}

/**
 * Back through a network's layers over rows [r0, r1): dOut (the last layer's dY) in, every hidden
 * layer's dY out (dHidden[i], after its activation's derivative); not the input's gradient.
 */
export function mlpBackward(k: Kernels, p: ParamBlocks, layers: readonly NetLayer[], hidden: readonly number[], dHidden: readonly number[],
  dOut: number, r0: number, r1: number, scratch: number, cols: readonly number[] = [], dcols: readonly number[] = []): void {
  for (let i = layers.length - 1; i > 0; i--) {
    const dy = i === layers.length - 1 ? dOut : dHidden[i];
    layerInputGrads(k, p, layers[i], dy, hidden[i - 1], dHidden[i - 1], layers[i - 1].act, r0, r1, scratch, cols[i] ?? 0, dcols[i] ?? 0);
  }
}

/** Every layer's weight and bias gradients (all outputs) over `rows` rows, from layer `from` on; x is the first layer's input. */
export function mlpWeightGrads(k: Kernels, p: ParamBlocks, layers: readonly Layer[], hidden: readonly number[], dHidden: readonly number[],
  x: number, dOut: number, rows: number, scratch: number, from = 0): void {
  layers.forEach((l, i) => {
    if (i < from) return;
    const dy = i === layers.length - 1 ? dOut : dHidden[i];
    weightGrads(k, p, l, dy, i === 0 ? x : hidden[i - 1], rows, 0, l.outDim, scratch);
  });
}
