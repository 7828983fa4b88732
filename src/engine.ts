// The computation of one training or evaluation step, as pure functions of (kernels, plan,
// chunk): the same code runs on the calling thread and in every worker (src/worker.ts).
//
// A batch of B examples with K samples each is split into a FIXED number of chunks C (never the
// thread count): chunk c owns examples [b0, b1) = [⌊cB/C⌋, ⌊(c+1)B/C⌋), encoder rows [b0, b1),
// decoder rows [b0·K, b1·K) (rows are b-major), and its own gradient buffer. Gradients are
// summed over chunks in chunk order (adam / sumChunks), so the parameters after any number of
// steps are bitwise identical whatever the number of threads that computed the chunks.
import { ACT, type Kernels } from "../bindings/abi.js";

export interface Layer {
  inDim: number;
  outDim: number;
  act: number;
  /** float offsets in the parameter block */
  w: number;
  b: number;
}

/** What never changes for a model: sent once to every worker. */
export interface StaticPlan {
  D: number;
  Z: number;
  enc: Layer[];
  dec: Layer[];
  likelihood: { type: "bernoulli" } | { type: "gaussian"; logVar: number };
  /** float offset of the learned per-output log-variance, or -1 */
  decLogvar: number;
  nParams: number;
  /** byte pointers: parameters, chunk-0 gradients (chunk c at pGrads + c·gradStride), Adam m and v */
  pParams: number;
  pGrads: number;
  gradStride: number;
  pM: number;
  pV: number;
  chunks: number;
  /** Int32 block of the workspace layout (writeLayout), re-read at every dispatch */
  pLayout: number;
  /** its size in Int32 slots (layoutSlots) */
  layoutSlots: number;
}

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
  dz: number;
  dec: number[]; // outputs of decoder hidden layers [B·K, H]
  dDec: number[];
  out: number; // decoder output [B·K, D]
  logpx: number; logpz: number; logqz: number; logw: number; c: number; r: number;
  kl: number; bound: number; wt: number;
  /** per-thread packing scratch (8·max(dim, rows) floats each) */
  scratch: number[];
}

export function chunkRange(c: number, B: number, C: number): [number, number] {
  return [Math.floor((c * B) / C), Math.floor(((c + 1) * B) / C)];
}

// ---------------------------------------------------------------- workspace layout in memory

/** Number of Int32 slots writeLayout needs for these layers and threads. */
export function layoutSlots(encLayers: number, decLayers: number, threads: number): number {
  return 2 + 4 + 2 * (encLayers - 1) + 5 + 2 * (decLayers - 1) + 10 + threads;
}

/** The layout block of a plan as an Int32Array over `buffer`. */
export function layoutView(buffer: ArrayBufferLike, p: StaticPlan): Int32Array {
  return new Int32Array(buffer, p.pLayout, p.layoutSlots);
}

export function writeLayout(mem: Int32Array, ws: Workspace): void {
  const v = [ws.B, ws.R, ws.x, ws.h, ws.dh, ws.eps, ...ws.enc, ...ws.dEnc, ws.z, ws.dz, ws.out, ws.logpx, ws.logpz,
    ...ws.dec, ...ws.dDec, ws.logqz, ws.logw, ws.c, ws.r, ws.kl, ws.bound, ws.wt, 0, 0, 0, ...ws.scratch];
  mem.set(v);
}

export function readLayout(mem: Int32Array, p: StaticPlan, threads: number): Workspace {
  let i = 0;
  const next = () => mem[i++];
  const many = (n: number) => Array.from({ length: n }, next);
  const B = next(), R = next(), x = next(), h = next(), dh = next(), eps = next();
  const enc = many(p.enc.length - 1), dEnc = many(p.enc.length - 1);
  const z = next(), dz = next(), out = next(), logpx = next(), logpz = next();
  const dec = many(p.dec.length - 1), dDec = many(p.dec.length - 1);
  const logqz = next(), logw = next(), c = next(), r = next(), kl = next(), bound = next(), wt = next();
  i += 3;
  const scratch = many(threads);
  return { B, R, x, enc, dEnc, h, dh, eps, z, dz, dec, dDec, out, logpx, logpz, logqz, logw, c, r, kl, bound, wt, scratch };
}

// ---------------------------------------------------------------- one dense layer

/** Y[m0:m1] = act(X[m0:m1]·Wᵀ + b). */
function linearForward(k: Kernels, p: StaticPlan, l: Layer, y: number, x: number, m0: number, m1: number, scratch: number): void {
  const P = p.pParams;
  k.gemm(y, l.outDim, x, l.inDim, 1, P + 4 * l.w, 1, l.inDim, P + 4 * l.b, m0, m1, l.outDim, l.inDim, 0, l.act, scratch);
}

/**
 * Backward of one dense layer over rows [r0, r1); dy already holds ∂loss/∂(pre-activation).
 * Writes dW and db of this chunk into grads (=, not +=) and, when dx != 0, dx = dy·W followed
 * by the previous layer's activation derivative.
 */
function linearBackward(k: Kernels, p: StaticPlan, l: Layer, grads: number, dy: number, x: number, r0: number, r1: number,
  dx: number, prevAct: number, scratch: number): void {
  const O = l.outDim, I = l.inDim;
  k.gemm(grads + 4 * l.w, I, dy + 4 * r0 * O, 1, O, x + 4 * r0 * I, I, 1, 0, 0, O, I, r1 - r0, 0, ACT.identity, scratch);
  k.biasGrad(grads + 4 * l.b, dy, O, r0, r1, O, 0);
  if (dx !== 0) {
    k.gemm(dx, I, dy, O, 1, p.pParams + 4 * l.w, I, 1, 0, r0, r1, I, O, 0, ACT.identity, scratch);
    k.actBackward(dx, x, r0 * I, r1 * I, prevAct);
  }
}

// ---------------------------------------------------------------- forward

/** An MLP over rows [m0, m1): layer i writes hidden[i], the last layer writes `out`. */
function mlpForward(k: Kernels, p: StaticPlan, layers: Layer[], x: number, hidden: number[], out: number,
  m0: number, m1: number, scratch: number): void {
  layers.forEach((l, i) => {
    const y = i < layers.length - 1 ? hidden[i] : out;
    linearForward(k, p, l, y, x, m0, m1, scratch);
    x = y;
  });
}

/** Encoder on examples [b0, b1): fills ws.enc and ws.h. */
export function encodeRows(k: Kernels, p: StaticPlan, ws: Workspace, b0: number, b1: number, scratch: number): void {
  mlpForward(k, p, p.enc, ws.x, ws.enc, ws.h, b0, b1, scratch);
}

/** Decoder on rows [r0, r1) of ws.z: fills ws.dec and ws.out. */
export function decodeRows(k: Kernels, p: StaticPlan, ws: Workspace, r0: number, r1: number, scratch: number): void {
  mlpForward(k, p, p.dec, ws.z, ws.dec, ws.out, r0, r1, scratch);
}

/**
 * Given ws.h and ws.eps for examples [b0, b1) with K samples: z, decoder, log p(x|z) (a Bernoulli
 * decoder's ws.out then holds probabilities), log p(z), log q(z|x), log w per row.
 */
export function sampleRows(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number): void {
  const r0 = b0 * K, r1 = b1 * K;
  k.reparameterize(ws.z, ws.eps, ws.h, K, p.Z, b0, b1);
  decodeRows(k, p, ws, r0, r1, scratch);
  if (p.likelihood.type === "bernoulli") {
    k.bernoulliLogProb(ws.logpx, ws.out, ws.out, ws.x, K, p.D, r0, r1);
  } else {
    const lv = p.decLogvar >= 0 ? p.pParams + 4 * p.decLogvar : 0;
    k.gaussianLogProb(ws.logpx, ws.out, ws.x, lv, p.likelihood.logVar, K, p.D, r0, r1);
  }
  k.gaussianLogProbs(ws.logw, ws.logpz, ws.logqz, ws.logpx, ws.z, ws.eps, ws.h, K, p.Z, b0, b1);
}

export interface ForwardArgs {
  B: number;
  K: number;
  needKL: boolean;
  importanceWeights: boolean;
}

/** Forward of one chunk (x and eps already in place): encoder, samples, KL and w̃ when asked. */
export function forwardChunk(k: Kernels, p: StaticPlan, ws: Workspace, a: ForwardArgs, c: number, scratch: number): void {
  const [b0, b1] = chunkRange(c, a.B, p.chunks);
  if (b0 === b1) return;
  encodeRows(k, p, ws, b0, b1, scratch);
  sampleRows(k, p, ws, a.K, b0, b1, scratch);
  if (a.needKL) k.klStandardNormal(ws.kl, ws.h, p.Z, b0, b1);
  if (a.importanceWeights) k.importanceWeights(ws.bound, ws.wt, ws.logw, a.K, b0, b1);
}

// ---------------------------------------------------------------- backward

export interface BackwardArgs {
  B: number;
  K: number;
  gradMode: number;
  useR: boolean;
  klScale: number;
}

/** Backward of one chunk for the weights in ws.c / ws.r: writes that chunk's whole gradient buffer. */
export function backwardChunk(k: Kernels, p: StaticPlan, ws: Workspace, a: BackwardArgs, c: number, scratch: number): void {
  const grads = p.pGrads + c * p.gradStride;
  const [b0, b1] = chunkRange(c, a.B, p.chunks);
  if (b0 === b1) {
    new Float32Array(memoryOf(k), grads, p.nParams).fill(0); // an empty chunk adds nothing
    return;
  }
  const { K } = a;
  const r0 = b0 * K, r1 = b1 * K;
  if (p.likelihood.type === "bernoulli") {
    k.bernoulliBackward(ws.out, ws.out, ws.x, ws.c, K, p.D, r0, r1);
  } else {
    const lv = p.decLogvar >= 0 ? p.pParams + 4 * p.decLogvar : 0;
    const dlv = p.decLogvar >= 0 ? grads + 4 * p.decLogvar : 0;
    if (dlv) new Float32Array(memoryOf(k), dlv, p.D).fill(0);
    k.gaussianBackward(ws.out, ws.out, ws.x, ws.c, lv, dlv, p.likelihood.logVar, K, p.D, r0, r1);
  }
  for (let i = p.dec.length - 1; i >= 0; i--) {
    const dy = i === p.dec.length - 1 ? ws.out : ws.dDec[i];
    const x = i === 0 ? ws.z : ws.dec[i - 1];
    const dx = i === 0 ? ws.dz : ws.dDec[i - 1];
    linearBackward(k, p, p.dec[i], grads, dy, x, r0, r1, dx, i === 0 ? ACT.identity : p.dec[i - 1].act, scratch);
  }
  k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, a.useR ? ws.r : 0, K, p.Z, a.gradMode, a.klScale, b0, b1);
  for (let i = p.enc.length - 1; i >= 0; i--) {
    const dy = i === p.enc.length - 1 ? ws.dh : ws.dEnc[i];
    const x = i === 0 ? ws.x : ws.enc[i - 1];
    const dx = i === 0 ? 0 : ws.dEnc[i - 1];
    linearBackward(k, p, p.enc[i], grads, dy, x, b0, b1, dx, i === 0 ? ACT.identity : p.enc[i - 1].act, scratch);
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

/** The parameter range [i0, i1) of thread t of T (multiples of 4 floats, so SIMD lanes never straddle threads). */
export function paramRange(p: StaticPlan, t: number, T: number): [number, number] {
  const per = Math.ceil(p.nParams / T / 4) * 4;
  return [Math.min(p.nParams, t * per), Math.min(p.nParams, (t + 1) * per)];
}

export function adamRange(k: Kernels, p: StaticPlan, a: AdamArgs, i0: number, i1: number): void {
  if (i0 >= i1) return;
  k.adam(p.pParams, p.pGrads, p.pM, p.pV, i0, i1, a.stepSize, a.beta1, a.beta2, a.eps, a.invSqrtBc2, a.weightDecay, p.chunks, p.gradStride);
}

export function sumRange(k: Kernels, p: StaticPlan, i0: number, i1: number): void {
  if (i0 < i1) k.sumChunks(p.pGrads, i0, i1, p.chunks, p.gradStride);
}

// Kernels do not expose the memory; the plan's owner registers it (see bindMemory).
const memories = new WeakMap<Kernels, WebAssembly.Memory>();
export function bindMemory(k: Kernels, memory: WebAssembly.Memory): void {
  memories.set(k, memory);
}
function memoryOf(k: Kernels): ArrayBufferLike {
  const m = memories.get(k);
  if (!m) throw new Error("engine: kernels without a registered memory (bindMemory)");
  return m.buffer;
}

// ---------------------------------------------------------------- phases, driven by a control block

/**
 * Control block in shared memory: Int32 slots then Float64 slots then an error message. The
 * coordinating thread writes a command and its arguments, every thread runs its share.
 */
export const CTRL = {
  gen: 0, cmd: 1, done: 2, error: 3, B: 4, K: 5, needKL: 6, iw: 7, gradMode: 8, useR: 9, k0: 10, kn: 11,
  seed: 12, epsStream: 13, step: 14, binarize: 15, binStream: 16, rowOffset: 17, drawEps: 18, threads: 19,
} as const;
export const CTRL_F64 = { klScale: 0, stepSize: 1, beta1: 2, beta2: 3, eps: 4, invSqrtBc2: 5, weightDecay: 6 } as const;
export const CTRL_INTS = 32;
export const CTRL_F64S = 8;
export const CTRL_MSG_BYTES = 1024;
export const CTRL_BYTES = 4 * CTRL_INTS + 8 * CTRL_F64S + CTRL_MSG_BYTES;

export const CMD = { forward: 1, backward: 2, adam: 3, sum: 4, encode: 5, sample: 6, stop: 7, faultThrow: 90, faultExit: 91 } as const;

export interface Ctrl {
  i: Int32Array;
  f: Float64Array;
  msg: Uint8Array;
}

export function ctrlViews(buffer: ArrayBufferLike, at: number): Ctrl {
  return {
    i: new Int32Array(buffer, at, CTRL_INTS),
    f: new Float64Array(buffer, at + 4 * CTRL_INTS, CTRL_F64S),
    msg: new Uint8Array(buffer, at + 4 * CTRL_INTS + 8 * CTRL_F64S, CTRL_MSG_BYTES),
  };
}

/** Thread t of T runs its share of the command in the control block. */
export function runShare(k: Kernels, p: StaticPlan, ws: Workspace, ctrl: Ctrl, t: number, T: number): void {
  const i = ctrl.i, f = ctrl.f;
  const cmd = i[CTRL.cmd];
  const scratch = ws.scratch[t];
  const B = i[CTRL.B], K = i[CTRL.K];
  switch (cmd) {
    case CMD.forward:
    case CMD.encode:
    case CMD.sample:
      for (let c = t; c < p.chunks; c += T) {
        const [b0, b1] = chunkRange(c, B, p.chunks);
        if (b0 === b1) continue;
        const seed = i[CTRL.seed] >>> 0, step = i[CTRL.step] >>> 0, rowOffset = i[CTRL.rowOffset] >>> 0;
        if (cmd !== CMD.sample && i[CTRL.binarize]) k.bernoulliSample(ws.x, ws.x, seed, i[CTRL.binStream], step, p.D, b0, b1, rowOffset);
        if (cmd === CMD.encode) {
          encodeRows(k, p, ws, b0, b1, scratch);
          continue;
        }
        if (i[CTRL.drawEps]) k.randomNormal(ws.eps, seed, i[CTRL.epsStream], step, K, p.Z, b0, b1, rowOffset, i[CTRL.k0] >>> 0);
        if (cmd === CMD.sample) {
          sampleRows(k, p, ws, K, b0, b1, scratch);
        } else {
          forwardChunk(k, p, ws, { B, K, needKL: i[CTRL.needKL] !== 0, importanceWeights: i[CTRL.iw] !== 0 }, c, scratch);
        }
      }
      return;
    case CMD.backward: {
      const a = { B, K, gradMode: i[CTRL.gradMode], useR: i[CTRL.useR] !== 0, klScale: f[CTRL_F64.klScale] };
      for (let c = t; c < p.chunks; c += T) backwardChunk(k, p, ws, a, c, scratch);
      return;
    }
    case CMD.adam: {
      const [i0, i1] = paramRange(p, t, T);
      adamRange(k, p, {
        stepSize: f[CTRL_F64.stepSize], beta1: f[CTRL_F64.beta1], beta2: f[CTRL_F64.beta2], eps: f[CTRL_F64.eps],
        invSqrtBc2: f[CTRL_F64.invSqrtBc2], weightDecay: f[CTRL_F64.weightDecay],
      }, i0, i1);
      return;
    }
    case CMD.sum: {
      const [i0, i1] = paramRange(p, t, T);
      sumRange(k, p, i0, i1);
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
