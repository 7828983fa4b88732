// The computation of one training or evaluation step, as pure functions of (kernels, plan,
// thread share): the same code runs on the calling thread and in every worker (src/worker.ts).
//
// Determinism for any thread count comes from the split, not from fixed chunks:
//   - rows are independent, so the forward pass and the row-wise backward parts (likelihood,
//     dX = dY·W, activations, the latent head) are split by examples between threads;
//   - every reduction over the batch (dW = dYᵀ·X, bias and log-variance gradients) runs over ALL
//     rows in row order, and threads split its OUTPUTS (panels of 8 rows of W, columns of the
//     log-variance; weightGradsAll);
//   - Adam is elementwise, split by parameter ranges.
// Each output value is thus produced by the same sequence of float operations whatever the
// number of threads and wherever the cuts fall: parameters after any number of steps are bitwise
// identical for 1, 2, 3… threads, and equal to the unthreaded computation. (So the pool may move
// the cuts at every command to balance uneven threads: src/balance.ts.)
//
// A training step is three dispatches (each a wake-up of the workers, ~0.03–0.1 ms here; two
// when the estimator's row weights are row-local, CTRL.fuse: the backward rows then run at the
// end of the forward dispatch):
//   forward   rows: encoder, reparameterization, decoder, log-densities;
//   backward  rows: the whole chain of dY and dX = dY·W for this thread's rows, no barrier
//             needed since every row's chain is its own (each layer keeps its own dY buffer);
//   weights   outputs: dW = dYᵀ·X and db for this thread's share of every layer's outputs,
//             then Adam on exactly those parameters and the re-packing of their panels
//             (nothing reads W in this phase, so updating it in place is safe).
import { A_PACK_ROWS, ACT, FLOW, GRAD, type Kernels } from "../bindings/abi.js";
import { CMD, CTRL, CTRL_F64, FUSE, type Ctrl } from "./engine/ctrl.js";

export interface Layer {
  inDim: number;
  outDim: number;
  act: number;
  /** float offsets in the parameter block */
  w: number;
  b: number;
  /** float offset of W packed as forward panels (packRows) in the plan's packed block */
  pk: number;
  /** float offset of W's autoregressive mask in the plan's mask block (IAF), when masked */
  mask?: number;
}

/**
 * A normalizing flow on the Gaussian sample (assembly/flows.ts). The encoder's flow head (from
 * its last hidden layer) gives every example P = T·L numbers: the layers' own parameters for
 * the amortized planar/radial flows, or for IAF each step's context added to its masked
 * network's hidden layer (H units). IAF's masked layers are 2T dense layers: step t has
 * iaf[2t] (Z → H, relu after the context) and iaf[2t+1] (H → 2Z: m, s).
 */
export interface FlowPlan {
  kind: "planar" | "radial" | "iaf";
  T: number;
  P: number;
  H: number;
  head: Layer;
  iaf: Layer[];
}

/** Floats the packed forward panels of a layer take: ⌈out/8⌉·8·in. */
export function packedSize(l: { inDim: number; outDim: number }): number {
  return Math.ceil(l.outDim / 8) * 8 * l.inDim;
}

/** What never changes for a model: sent once to every worker. */
export interface StaticPlan {
  D: number;
  /** decoder input width: the Gaussian latent's dimension, or variables × categories */
  Z: number;
  /** the latent type: Gaussian (encoder head [mu, logvar]) or categorical (head: logits, Gumbel-softmax) */
  latent: { type: "gaussian" } | { type: "categorical"; N: number; C: number };
  enc: Layer[];
  dec: Layer[];
  flow: FlowPlan | null;
  /** byte pointer of the masks of masked layers (Layer.mask), or 0 */
  pMask: number;
  likelihood: { type: "bernoulli" } | { type: "gaussian"; logVar: number };
  /** float offset of the learned per-output log-variance, or -1 */
  decLogvar: number;
  nParams: number;
  /** byte pointers: parameters, their gradients, Adam m and v */
  pParams: number;
  pGrads: number;
  pM: number;
  pV: number;
  /** byte pointer of every layer's W packed as forward panels (Layer.pk), kept in step with the parameters */
  pPacked: number;
  /** Int32 block of the workspace layout (writeLayout), re-read at every dispatch */
  pLayout: number;
  /** its size in Int32 slots (layoutSlots) */
  layoutSlots: number;
}

/** The parameter-sized blocks a dense layer reads and writes (a StaticPlan, or any other model's). */
export type ParamBlocks = Pick<StaticPlan, "pParams" | "pGrads" | "pPacked" | "pMask">;

/** Where the activations live for the current capacity (in shared memory, see writeLayout). */
export interface Workspace {
  B: number; // capacity in examples
  R: number; // capacity in rows (B·K)
  x: number;
  enc: number[]; // outputs of encoder hidden layers [B, H]
  dEnc: number[];
  h: number; // head output [B, 2Z]
  dh: number;
  eps: number; // [B, K, Z]
  z: number;
  /** categorical latent: the relaxed sample y_soft [B·K, Z] (the decoder may see the hard one in z) */
  zs: number;
  dz: number;
  dec: number[]; // outputs of decoder hidden layers [B·K, H]
  dDec: number[];
  out: number; // decoder output [B·K, D] (Bernoulli: probabilities after the forward)
  dOut: number; // its gradient
  logpx: number; logpz: number; logqz: number; logw: number; c: number; r: number;
  kl: number; bound: number; wt: number;
  /** per-thread packing scratch (scratchFloats(max(dim, rows)) floats each) */
  scratch: number[];
  /** flows: the flow head's output and gradient [B, P], z_0…z_{T−1} (slabs of R·Z floats from zf), Σ log|det J| [R] */
  hf: number; dhf: number; zf: number; logdet: number;
  /** IAF step t: masked hidden [R, H] and output [R, 2Z], and their gradients */
  iafHid: number[]; iafOut: number[]; dIafHid: number[]; dIafOut: number[];
  /** IAF path derivative: v = ∂log q(z_T; φ′)/∂z_T [R, Z], and per-row weights 1 and 0 [R] */
  fv: number; ones: number; zeros: number;
  /** the input's nonzero lists for a sparse first layer (sparseRows: 2·B·(D + 1) floats), or 0 */
  xs: number;
}

/**
 * Thread t's share [a, b) of n items between T threads: `cuts` are the cumulative fractions
 * cut[0] = 0 ≤ cut[1] ≤ … ≤ cut[T] = 1 (Pool.run balances them by measured thread speed; any
 * cuts give the same bits).
 */
export function share(t: number, n: number, T: number, cuts: ArrayLike<number>): [number, number] {
  const cut = (s: number) => (s <= 0 ? 0 : s >= T ? n : Math.min(n, Math.max(0, Math.round(cuts[s] * n))));
  return [cut(t), cut(t + 1)];
}

// ---------------------------------------------------------------- workspace layout in memory

/** Number of Int32 slots writeLayout needs for these layers and threads. */
export function layoutSlots(encLayers: number, decLayers: number, threads: number, iafSteps = 0): number {
  return 2 + 4 + 2 * (encLayers - 1) + 7 + 2 * (decLayers - 1) + 10 + threads + 4 + 4 * iafSteps + 3 + 1;
}

/** IAF steps of a plan (0 for none or an amortized flow). */
export function iafSteps(p: { flow: FlowPlan | null }): number {
  return p.flow?.kind === "iaf" ? p.flow.T : 0;
}

/** The layout block of a plan as an Int32Array over `buffer`. */
export function layoutView(buffer: ArrayBufferLike, p: StaticPlan): Int32Array {
  return new Int32Array(buffer, p.pLayout, p.layoutSlots);
}

export function writeLayout(mem: Int32Array, ws: Workspace): void {
  const v = [ws.B, ws.R, ws.x, ws.h, ws.dh, ws.eps, ...ws.enc, ...ws.dEnc, ws.z, ws.zs, ws.dz, ws.out, ws.dOut, ws.logpx, ws.logpz,
    ...ws.dec, ...ws.dDec, ws.logqz, ws.logw, ws.c, ws.r, ws.kl, ws.bound, ws.wt, 0, 0, 0, ...ws.scratch,
    ws.hf, ws.dhf, ws.zf, ws.logdet, ...ws.iafHid, ...ws.iafOut, ...ws.dIafHid, ...ws.dIafOut, ws.fv, ws.ones, ws.zeros, ws.xs];
  mem.set(v);
}

export function readLayout(mem: Int32Array, p: StaticPlan, threads: number): Workspace {
  let i = 0;
  const next = () => mem[i++];
  const many = (n: number) => Array.from({ length: n }, next);
  const B = next(), R = next(), x = next(), h = next(), dh = next(), eps = next();
  const enc = many(p.enc.length - 1), dEnc = many(p.enc.length - 1);
  const z = next(), zs = next(), dz = next(), out = next(), dOut = next(), logpx = next(), logpz = next();
  const dec = many(p.dec.length - 1), dDec = many(p.dec.length - 1);
  const logqz = next(), logw = next(), c = next(), r = next(), kl = next(), bound = next(), wt = next();
  i += 3;
  const scratch = many(threads);
  const hf = next(), dhf = next(), zf = next(), logdet = next();
  const T = iafSteps(p);
  const iafHid = many(T), iafOut = many(T), dIafHid = many(T), dIafOut = many(T);
  const fv = next(), ones = next(), zeros = next(), xs = next();
  return {
    fv, ones, zeros, xs,
    B, R, x, enc, dEnc, h, dh, eps, z, zs, dz, dec, dDec, out, dOut, logpx, logpz, logqz, logw, c, r, kl, bound, wt, scratch,
    hf, dhf, zf, logdet, iafHid, iafOut, dIafHid, dIafOut,
  };
}

// ---------------------------------------------------------------- one dense layer

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
  if (sparseX) k.gemmSparseB(grads + 4 * l.w, dy, O, x, I, rows, o0, o1, scratch);
  else k.gemm(grads + 4 * l.w, I, dy, 1, O, x, I, 1, 0, o0, o1, I, rows, 0, ACT.identity, scratch, 0, apackOf(scratch, rows));
  k.biasGrad(grads + 4 * (l.b + o0), dy + 4 * o0, O, 0, rows, o1 - o0, 0);
  // a masked (autoregressive) weight: masked entries stay 0 under Adam when their gradient is 0
  if (l.mask !== undefined) k.maskMul(grads + 4 * l.w, p.pMask + 4 * l.mask, o0 * I, o1 * I);
}

/**
 * dx = dy·W (+ dy2·W2 when a second layer reads the same input) for rows [r0, r1), then the
 * previous layer's activation derivative (x its output).
 */
export function inputGrads(k: Kernels, p: ParamBlocks, l: Layer, dy: number, x: number, dx: number, prevAct: number,
  r0: number, r1: number, scratch: number, also?: { l: Layer; dy: number }): void {
  if (r0 >= r1) return;
  const I = l.inDim;
  matVecRows(k, p, l, dy, dx, r0, r1, 0, scratch);
  if (also) matVecRows(k, p, also.l, also.dy, dx, r0, r1, 1, scratch);
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

// ---------------------------------------------------------------- forward

/**
 * An MLP over rows [m0, m1): layer i writes hidden[i], the last layer writes `out`. With
 * `lists` (room for the input's nonzero lists) the first layer skips zero inputs when at most
 * SPARSE_DENSITY of them are nonzero (firstLayer).
 */
function mlpForward(k: Kernels, p: StaticPlan, layers: Layer[], x: number, hidden: number[], out: number,
  m0: number, m1: number, scratch: number, lists = 0): void {
  layers.forEach((l, i) => {
    const y = i < layers.length - 1 ? hidden[i] : out;
    if (i === 0 && lists) firstLayer(k, p, l, y, x, m0, m1, scratch, lists);
    else linearForward(k, p, l, y, x, m0, m1, scratch);
    x = y;
  });
}

/** Inputs at most this dense take the sparse first layer (MNIST digits: ~0.19 nonzero). */
const SPARSE_DENSITY = 0.5;

/** Whether the n values at x are sparse enough for the sparse first layer (forward and dW). */
function isSparse(k: Kernels, x: number, n: number): boolean {
  return k.countNonzero(x, n) <= SPARSE_DENSITY * n;
}

/**
 * The first layer on rows [m0, m1): from the nonzero lists of x when sparse enough (bitwise the
 * dense result, see assembly/dense.ts gemmSparseA; ~2.5× faster on MNIST digits), else dense.
 */
function firstLayer(k: Kernels, p: ParamBlocks, l: Layer, y: number, x: number, m0: number, m1: number, scratch: number,
  lists: number): void {
  if (m0 >= m1) return;
  // count first (a vector pass, ~12 µs for 100×784): dense input never pays for writing lists
  if (isSparse(k, x + 4 * m0 * l.inDim, (m1 - m0) * l.inDim)) {
    k.sparseRows(lists, x, l.inDim, m0, m1);
    k.gemmSparseA(y, l.outDim, lists, l.inDim, p.pPacked + 4 * l.pk, p.pParams + 4 * l.b, m0, m1, l.outDim, l.act);
  } else {
    linearForward(k, p, l, y, x, m0, m1, scratch);
  }
}

/** Encoder on examples [b0, b1): fills ws.enc and ws.h. */
export function encodeRows(k: Kernels, p: StaticPlan, ws: Workspace, b0: number, b1: number, scratch: number): void {
  mlpForward(k, p, p.enc, ws.x, ws.enc, ws.h, b0, b1, scratch, ws.xs);
  if (p.flow) linearForward(k, p, p.flow.head, ws.hf, encoderTop(p, ws), b0, b1, scratch);
}

/** The input of the encoder's heads: its last hidden layer, or x. */
function encoderTop(p: StaticPlan, ws: Workspace): number {
  return p.enc.length > 1 ? ws.enc[p.enc.length - 2] : ws.x;
}

/** Slab t of the flow's intermediate samples (z_t, t < T). */
function flowSlab(p: StaticPlan, ws: Workspace, t: number): number {
  return ws.zf + 4 * t * ws.R * p.Z;
}

/** Flow step t's input z_{t−1}; t = 1…T. */
function flowIn(p: StaticPlan, ws: Workspace, t: number): number {
  return flowSlab(p, ws, t - 1);
}

/** Flow step t's output z_t (z_T is ws.z, the decoder's input). */
function flowOut(p: StaticPlan, ws: Workspace, t: number): number {
  return t === p.flow!.T ? ws.z : flowSlab(p, ws, t);
}

/** z_T from z_0 (slab 0) for examples [b0, b1) and ws.logdet = Σ log|det J| per row. */
function flowForwardRows(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number): void {
  const f = p.flow!, Z = p.Z;
  if (f.kind !== "iaf") {
    k.flowForward(FLOW[f.kind], ws.zf, ws.R * Z, ws.z, ws.logdet, ws.hf, f.T, K, Z, b0, b1);
    return;
  }
  const r0 = b0 * K, r1 = b1 * K;
  for (let t = 1; t <= f.T; t++) {
    const zin = flowIn(p, ws, t), zo = flowOut(p, ws, t);
    const l1 = f.iaf[2 * t - 2], l2 = f.iaf[2 * t - 1];
    linearForward(k, p, l1, ws.iafHid[t - 1], zin, r0, r1, scratch);
    k.addContext(ws.iafHid[t - 1], ws.hf + 4 * (t - 1) * f.H, f.P, K, f.H, r0, r1, ACT.relu);
    linearForward(k, p, l2, ws.iafOut[t - 1], ws.iafHid[t - 1], r0, r1, scratch);
    k.iafGate(zo, zin, ws.iafOut[t - 1], ws.logdet, Z, r0, r1, t > 1 ? 1 : 0);
  }
}

/**
 * ws.dz = ∂L/∂z_T (decoder) in, ∂L/∂z_0 out; ws.dhf and the IAF layers' dY filled, for examples
 * [b0, b1). `path` (IAF only): the path derivative — log q(z_T; φ′) with the parameters held
 * fixed, its gradient at z_T through the flow's inverse (iafPathGradient), no log-det term
 * through the parameters, and the encoder side × r when `useR` (DReG).
 */
function flowBackwardRows(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number,
  path = false, useR = false): void {
  const f = p.flow!, Z = p.Z;
  if (f.kind !== "iaf") {
    k.flowBackward(FLOW[f.kind], ws.dz, ws.zf, ws.R * Z, ws.z, ws.c, ws.dhf, ws.hf, f.T, K, Z, b0, b1);
    return;
  }
  const r0 = b0 * K, r1 = b1 * K;
  if (path) {
    iafPathGradient(k, p, ws, K, b0, b1, scratch);
    k.combinePath(ws.dz, ws.z, ws.fv, ws.c, useR ? ws.r : 0, Z, r0, r1);
  } else {
    k.addPrior(ws.dz, ws.z, ws.c, Z, r0, r1);
  }
  iafBackwardSteps(k, p, ws, K, b0, b1, scratch, ws.dz, path ? ws.zeros : ws.c, true);
}

/**
 * Back through the IAF steps T…1 for rows of examples [b0, b1): g = ∂/∂z_T in, ∂/∂z_0 out; the
 * log-determinants weighted by −w_r (w = c, or ones, or zeros); with `params` the context
 * gradient ws.dhf too (the layers' dY stay in ws.dIafOut / dIafHid for the weight phase).
 */
function iafBackwardSteps(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number,
  g: number, w: number, params: boolean): void {
  const f = p.flow!, Z = p.Z, r0 = b0 * K, r1 = b1 * K;
  for (let t = f.T; t >= 1; t--) {
    const zin = flowIn(p, ws, t);
    const l1 = f.iaf[2 * t - 2], l2 = f.iaf[2 * t - 1];
    k.iafGateBackward(ws.dIafOut[t - 1], g, zin, ws.iafOut[t - 1], w, Z, r0, r1);
    inputGrads(k, p, l2, ws.dIafOut[t - 1], ws.iafHid[t - 1], ws.dIafHid[t - 1], ACT.relu, r0, r1, scratch);
    if (params) k.sumOverSamples(ws.dhf + 4 * (t - 1) * f.H, f.P, ws.dIafHid[t - 1], K, f.H, b0, b1);
    matVecRows(k, p, l1, ws.dIafHid[t - 1], g, r0, r1, 1, scratch);
  }
}

/**
 * ws.fv = ∂log q(z_T; φ′)/∂z_T per row, φ′ the current parameters held fixed: with
 * a(z0) = log q0(z0) − Σ log σ, u0 = ∂a/∂z0 (a backward pass with nothing at z_T and the
 * log-determinants at weight 1, plus −eps/σ), then v = u0·J_1⁻¹ ⋯ J_T⁻¹ (assembly/flows.ts iafSolve).
 */
function iafPathGradient(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number): void {
  const f = p.flow!, Z = p.Z, r0 = b0 * K, r1 = b1 * K;
  k.fill(ws.fv, 0, r0 * Z, r1 * Z);
  k.fill(ws.ones, 1, r0, r1);
  k.fill(ws.zeros, 0, r0, r1);
  iafBackwardSteps(k, p, ws, K, b0, b1, scratch, ws.fv, ws.ones, false);
  k.addBaseScore(ws.fv, ws.eps, ws.h, K, Z, b0, b1);
  for (let t = 1; t <= f.T; t++) {
    const l1 = f.iaf[2 * t - 2], l2 = f.iaf[2 * t - 1];
    k.iafSolve(ws.fv, flowIn(p, ws, t), ws.iafOut[t - 1], ws.iafHid[t - 1], p.pParams + 4 * l1.w, p.pParams + 4 * l2.w, Z, f.H,
      (t - 1) % 2, r0, r1, scratch);
  }
}

/** Decoder on rows [r0, r1) of ws.z: fills ws.dec and ws.out. */
export function decodeRows(k: Kernels, p: StaticPlan, ws: Workspace, r0: number, r1: number, scratch: number): void {
  mlpForward(k, p, p.dec, ws.z, ws.dec, ws.out, r0, r1, scratch);
}

/**
 * Given ws.h and ws.eps for examples [b0, b1) with K samples: z, decoder, log p(x|z), log p(z),
 * log q(z|x), log w per row. With `probs` a Bernoulli decoder's ws.out then holds probabilities
 * (the backward pass needs them; evaluation does not).
 */
export function sampleRows(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number, probs = true,
  relax: Relaxation = NO_RELAXATION): void {
  const r0 = b0 * K, r1 = b1 * K;
  if (p.latent.type === "categorical") {
    k.gumbelSoftmax(ws.z, ws.zs, ws.eps, ws.h, K, p.latent.N, p.latent.C, relax.tau, relax.hard ? 1 : 0, b0, b1);
  } else if (p.flow) {
    k.reparameterize(ws.zf, ws.eps, ws.h, K, p.Z, b0, b1); // z_0 in slab 0
    flowForwardRows(k, p, ws, K, b0, b1, scratch);
  } else {
    k.reparameterize(ws.z, ws.eps, ws.h, K, p.Z, b0, b1);
  }
  decodeRows(k, p, ws, r0, r1, scratch);
  if (p.likelihood.type === "bernoulli") {
    k.bernoulliLogProb(ws.logpx, probs ? ws.out : 0, ws.out, ws.x, K, p.D, r0, r1);
  } else {
    const lv = p.decLogvar >= 0 ? p.pParams + 4 * p.decLogvar : 0;
    k.gaussianLogProb(ws.logpx, ws.out, ws.x, lv, p.likelihood.logVar, K, p.D, r0, r1);
  }
  // (a categorical latent has no density at the relaxed sample here: only the analytic-KL
  // estimator, which reads logpx and kl, is allowed with it)
  if (p.latent.type === "gaussian") {
    k.gaussianLogProbs(ws.logw, ws.logpz, ws.logqz, ws.logpx, ws.z, ws.eps, ws.h, K, p.Z, b0, b1, p.flow ? ws.logdet : 0);
  }
}

/** The Gumbel-softmax temperature and straight-through switch of a step (categorical latents). */
export interface Relaxation {
  tau: number;
  hard: boolean;
}
const NO_RELAXATION: Relaxation = { tau: 1, hard: false };

export interface ForwardArgs {
  relax?: Relaxation;
  B: number;
  K: number;
  needKL: boolean;
  importanceWeights: boolean;
}

/** Forward over examples [b0, b1) (x and eps already in place): encoder, samples, KL and w̃ when asked. */
export function forwardRows(k: Kernels, p: StaticPlan, ws: Workspace, a: ForwardArgs, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  encodeRows(k, p, ws, b0, b1, scratch);
  sampleRows(k, p, ws, a.K, b0, b1, scratch, true, a.relax);
  if (a.needKL) {
    if (p.latent.type === "categorical") k.categoricalKL(ws.kl, ws.h, p.latent.N, p.latent.C, b0, b1);
    else k.klStandardNormal(ws.kl, ws.h, p.Z, b0, b1);
  }
  if (a.importanceWeights) k.importanceWeights(ws.bound, ws.wt, ws.logw, a.K, b0, b1);
}

// ---------------------------------------------------------------- backward

export interface BackwardArgs {
  relax?: Relaxation;
  B: number;
  K: number;
  gradMode: number;
  useR: boolean;
  klScale: number;
}

/**
 * The row-wise backward for examples [b0, b1): likelihood gradient into ws.dOut, then
 * dX = dY·W and activation derivatives down the decoder, the latent head (the estimator's
 * weights in ws.c / ws.r) into ws.dh, and down the encoder. Reads W; writes no parameter
 * gradient, so threads need no barrier between layers.
 */
export function backwardRows(k: Kernels, p: StaticPlan, ws: Workspace, a: BackwardArgs, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  const { K } = a;
  const r0 = b0 * K, r1 = b1 * K;
  if (p.likelihood.type === "bernoulli") {
    k.bernoulliBackward(ws.dOut, ws.out, ws.x, ws.c, K, p.D, r0, r1);
  } else {
    const lv = p.decLogvar >= 0 ? p.pParams + 4 * p.decLogvar : 0;
    k.gaussianBackward(ws.dOut, ws.out, ws.x, ws.c, lv, p.likelihood.logVar, K, p.D, r0, r1);
  }
  for (let i = p.dec.length - 1; i > 0; i--) {
    inputGrads(k, p, p.dec[i], decoderDy(p, ws, i), ws.dec[i - 1], ws.dDec[i - 1], p.dec[i - 1].act, r0, r1, scratch);
  }
  inputGrads(k, p, p.dec[0], decoderDy(p, ws, 0), ws.z, ws.dz, ACT.identity, r0, r1, scratch);
  if (p.latent.type === "categorical") {
    const tau = (a.relax ?? NO_RELAXATION).tau;
    k.categoricalBackward(ws.dh, ws.dz, ws.zs, ws.h, K, p.latent.N, p.latent.C, tau, a.klScale, b0, b1);
  } else if (p.flow) {
    // the total derivative, or (IAF) the path derivative; VAE refuses the rest with a flow
    const path = a.gradMode === GRAD.path;
    flowBackwardRows(k, p, ws, K, b0, b1, scratch, path, a.useR);
    k.latentBackward(ws.dh, ws.dz, flowSlab(p, ws, 0), ws.eps, ws.h, ws.c, 0, K, p.Z, path ? GRAD.basePath : GRAD.base, a.klScale, b0, b1);
  } else {
    k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, a.useR ? ws.r : 0, K, p.Z, a.gradMode, a.klScale, b0, b1);
  }
  for (let i = p.enc.length - 1; i > 0; i--) {
    // the last hidden layer feeds the Gaussian head and the flow head
    const also = i === p.enc.length - 1 && p.flow ? { l: p.flow.head, dy: ws.dhf } : undefined;
    inputGrads(k, p, p.enc[i], encoderDy(p, ws, i), ws.enc[i - 1], ws.dEnc[i - 1], p.enc[i - 1].act, b0, b1, scratch, also);
  }
}

function decoderDy(p: StaticPlan, ws: Workspace, i: number): number {
  return i === p.dec.length - 1 ? ws.dOut : ws.dDec[i];
}
function encoderDy(p: StaticPlan, ws: Workspace, i: number): number {
  return i === p.enc.length - 1 ? ws.dh : ws.dEnc[i];
}

/**
 * Every parameter gradient over the whole batch (after backwardRows on every row), this thread
 * taking the panels of 8 outputs of every layer (and 8 columns of the Gaussian decoder's
 * log-variance) whose midpoint falls in its share [f0, f1) of that layer; with `adam`, then
 * updates exactly those parameters. Any share gives the same bits (each output is computed
 * alone). Nothing in this phase reads W, so updating it in place is safe. (Whole layers per
 * thread instead, so that a layer's inputs are read by one thread only, measured 2–3 % slower
 * on the two-thread VAE step and no better on the IWAE step.)
 */
export function weightGradsAll(k: Kernels, p: StaticPlan, ws: Workspace, B: number, K: number, adam: AdamArgs | null,
  f0: number, f1: number, scratch: number): void {
  const R = B * K;
  // the panels [q0, q1) of n outputs whose midpoints (q + ½)/panels lie in [f0, f1)
  const panels = (n: number): [number, number] => {
    const P = Math.ceil(n / 8);
    const first = (f: number) => (f <= 0 ? 0 : f >= 1 ? P : Math.min(P, Math.max(0, Math.ceil(f * P - 0.5))));
    return [first(f0), first(f1)];
  };
  // the first encoder layer's dW skips zero inputs when the batch is sparse (as firstLayer)
  const sparseX = ws.xs !== 0 && isSparse(k, ws.x, B * p.D);
  const layer = (l: Layer, dy: number, x: number, rows: number, sparse = false) => {
    const [q0, q1] = panels(l.outDim);
    if (q0 >= q1) return;
    const o0 = 8 * q0, o1 = Math.min(l.outDim, 8 * q1); // whole panels: packLayer writes whole panels
    weightGrads(k, p, l, dy, x, rows, o0, o1, scratch, sparse);
    if (adam) {
      adamRange(k, p, adam, l.w + o0 * l.inDim, l.w + o1 * l.inDim);
      adamRange(k, p, adam, l.b + o0, l.b + o1);
      packLayer(k, p, l, o0, o1);
    }
  };
  if (p.decLogvar >= 0) {
    const [q0, q1] = panels(p.D);
    if (q0 < q1) {
      const d0 = 8 * q0, d1 = Math.min(p.D, 8 * q1);
      const lv = p.pParams + 4 * p.decLogvar;
      k.gaussianLogvarGrad(p.pGrads + 4 * p.decLogvar, ws.out, ws.x, ws.c, lv, K, p.D, R, d0, d1);
      if (adam) adamRange(k, p, adam, p.decLogvar + d0, p.decLogvar + d1);
    }
  }
  p.dec.forEach((l, i) => layer(l, decoderDy(p, ws, i), i === 0 ? ws.z : ws.dec[i - 1], R));
  p.enc.forEach((l, i) => layer(l, encoderDy(p, ws, i), i === 0 ? ws.x : ws.enc[i - 1], B, i === 0 && sparseX));
  if (p.flow) {
    layer(p.flow.head, ws.dhf, encoderTop(p, ws), B);
    for (let s = 1; s <= iafSteps(p); s++) {
      layer(p.flow.iaf[2 * s - 2], ws.dIafHid[s - 1], flowIn(p, ws, s), R);
      layer(p.flow.iaf[2 * s - 1], ws.dIafOut[s - 1], ws.iafHid[s - 1], R);
    }
  }
}

// ---------------------------------------------------------------- optimiser

export interface AdamArgs {
  stepSize: number;
  beta1: number;
  beta2: number;
  eps: number;
  invSqrtBc2: number;
  weightDecay: number;
}

export function adamRange(k: Kernels, p: StaticPlan, a: AdamArgs, i0: number, i1: number): void {
  if (i0 >= i1) return;
  k.adam(p.pParams, p.pGrads, p.pM, p.pV, i0, i1, a.stepSize, a.beta1, a.beta2, a.eps, a.invSqrtBc2, a.weightDecay);
}

// ---------------------------------------------------------------- phases, driven by a control block

/** Thread t of T runs its share of the command in the control block. */
export function runShare(k: Kernels, p: StaticPlan, ws: Workspace, ctrl: Ctrl, t: number, T: number): void {
  const i = ctrl.i, f = ctrl.f;
  const cmd = i[CTRL.cmd];
  const scratch = ws.scratch[t];
  const B = i[CTRL.B], K = i[CTRL.K];
  switch (cmd) {
    case CMD.forward:
    case CMD.encode:
    case CMD.sample: {
      const [b0, b1] = share(t, B, T, ctrl.cut);
      if (b0 === b1) return;
      const seed = i[CTRL.seed] >>> 0, step = i[CTRL.step] >>> 0, rowOffset = i[CTRL.rowOffset] >>> 0;
      if (cmd !== CMD.sample && i[CTRL.binarize]) k.bernoulliSample(ws.x, ws.x, seed, i[CTRL.binStream], step, p.D, b0, b1, rowOffset);
      if (cmd === CMD.encode) {
        encodeRows(k, p, ws, b0, b1, scratch);
        return;
      }
      if (i[CTRL.drawEps]) {
        const noise = p.latent.type === "categorical" ? k.gumbelNoise : k.randomNormal;
        noise(ws.eps, seed, i[CTRL.epsStream], step, K, p.Z, b0, b1, rowOffset, i[CTRL.k0] >>> 0);
      }
      const relax = { tau: f[CTRL_F64.tau], hard: i[CTRL.hard] !== 0 };
      if (cmd === CMD.sample) {
        sampleRows(k, p, ws, K, b0, b1, scratch, false, relax); // log-weights only
        return;
      }
      forwardRows(k, p, ws, { B, K, relax, needKL: i[CTRL.needKL] !== 0, importanceWeights: i[CTRL.iw] !== 0 }, b0, b1, scratch);
      const fuse = i[CTRL.fuse];
      if (fuse) {
        // a training step whose row weights are row-local: this thread's c, then its row-wise
        // backward, with no barrier in between (FUSE.uniform: c = 1/(K·B); FUSE.importance: w̃/B)
        k.setWeights(ws.c, fuse === FUSE.importance ? ws.wt : 0, fuse === FUSE.importance ? B : K * B, b0 * K, b1 * K);
        backwardRows(k, p, ws, { B, K, relax, gradMode: i[CTRL.gradMode], useR: i[CTRL.useR] !== 0, klScale: f[CTRL_F64.klScale] }, b0, b1, scratch);
      }
      return;
    }
    case CMD.backward: {
      const [b0, b1] = share(t, B, T, ctrl.cut);
      const relax = { tau: f[CTRL_F64.tau], hard: i[CTRL.hard] !== 0 };
      backwardRows(k, p, ws, { B, K, relax, gradMode: i[CTRL.gradMode], useR: i[CTRL.useR] !== 0, klScale: f[CTRL_F64.klScale] }, b0, b1, scratch);
      return;
    }
    case CMD.weights: {
      const adam = i[CTRL.adam] ? {
        stepSize: f[CTRL_F64.stepSize], beta1: f[CTRL_F64.beta1], beta2: f[CTRL_F64.beta2], eps: f[CTRL_F64.eps],
        invSqrtBc2: f[CTRL_F64.invSqrtBc2], weightDecay: f[CTRL_F64.weightDecay],
      } : null;
      weightGradsAll(k, p, ws, B, K, adam, T > 1 ? ctrl.cut[t] : 0, T > 1 ? ctrl.cut[t + 1] : 1, scratch);
      return;
    }
    case CMD.faultThrow: // test hooks (VAE._injectWorkerFault)
      if (t > 0) throw new Error(`injected fault in worker ${t}`);
      return;
    case CMD.faultExit: // the worker itself exits before calling runShare
      return;
    default:
      throw new Error(`engine: unknown command ${cmd}`);
  }
}
