// The computation of one training or evaluation step, as pure functions of (kernels, plan,
// workspace, thread share): the same code runs on the calling thread and in every worker
// (engine/worker.ts).
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
// the cuts at every command to balance uneven threads: engine/balance.ts.)
//
// A training step is three dispatches (each a wake-up of the workers, ~0.03–0.1 ms here; two
// when the estimator's row weights are row-local, CTRL.fuse: the backward rows then run at the
// end of the forward dispatch):
//   forward   rows: encoder, the latent sample, decoder, log-densities;
//   backward  rows: the whole chain of dY and dX = dY·W for this thread's rows, no barrier
//             needed since every row's chain is its own (each layer keeps its own dY buffer);
//   weights   outputs: dW = dYᵀ·X and db for this thread's share of every layer's outputs,
//             then Adam on exactly those parameters and the re-packing of their panels
//             (nothing reads W in this phase, so updating it in place is safe). With two
//             parameter banks (a pool's model) every command reads the bank in CTRL.bank and
//             Adam writes the other one (nn/plan.ts atBank).
// What depends on the latent variable (Gaussian, categorical, a flow) is its kind's (latent/).
import { ACT, type Kernels } from "../../bindings/abi.js";
import { convWeightGrads, isConv, isReshape, type NetLayer } from "../nn/conv.js";
import { packLayer, weightGrads } from "../nn/dense.js";
import { isSparse, layerInputGrads, mlpBackward, mlpForward } from "../nn/mlp.js";
import { atBank, type PlanBlocks, type StaticPlan } from "../nn/plan.js";
import type { Workspace } from "../nn/workspace.js";
import { kindOf, type BackwardArgs, type Relaxation, type RowArgs } from "../latent/index.js";
import { share } from "./balance.js";
import { CMD, CTRL, CTRL_F64, FUSE, type Ctrl } from "./ctrl.js";

// ---------------------------------------------------------------- forward

/** Encoder on examples [b0, b1): fills ws.enc and ws.h (and the latent kind's own heads). */
export function encodeRows(k: Kernels, p: StaticPlan, ws: Workspace, b0: number, b1: number, scratch: number): void {
  mlpForward(k, p, p.enc, ws.x, ws.enc, ws.h, b0, b1, scratch, ws.xs, ws.encCol);
  kindOf(p).encodeExtras?.(k, p, ws, b0, b1, scratch);
}

/** Decoder on rows [r0, r1) of ws.z: fills ws.dec and ws.out. */
export function decodeRows(k: Kernels, p: StaticPlan, ws: Workspace, r0: number, r1: number, scratch: number): void {
  mlpForward(k, p, p.dec, ws.z, ws.dec, ws.out, r0, r1, scratch, 0, ws.decCol);
}

const NO_RELAXATION: Relaxation = { tau: 1, hard: false };

/**
 * Given ws.h and ws.eps for examples [b0, b1) with K samples: z, decoder, log p(x|z), and (for
 * latent kinds with a density) log p(z), log q(z|x), log w per row. With `probs` a Bernoulli
 * decoder's ws.out then holds probabilities (the backward pass needs them; evaluation does not).
 */
export function sampleRows(k: Kernels, p: StaticPlan, ws: Workspace, K: number, b0: number, b1: number, scratch: number, probs = true,
  relax: Relaxation = NO_RELAXATION, freeBits = 0): void {
  const r0 = b0 * K, r1 = b1 * K;
  const kind = kindOf(p);
  kind.sample(k, p, ws, { K, relax }, b0, b1, scratch);
  decodeRows(k, p, ws, r0, r1, scratch);
  if (p.likelihood.type === "bernoulli") {
    k.bernoulliLogProb(ws.logpx, probs ? ws.out : 0, ws.out, ws.x, K, p.D, r0, r1);
  } else {
    const lv = p.decLogvar >= 0 ? p.pParams + 4 * p.decLogvar : 0;
    k.gaussianLogProb(ws.logpx, ws.out, ws.x, lv, p.likelihood.logVar, K, p.D, r0, r1);
  }
  // (a kind without a density, the categorical, allows only the analytic-KL estimator, which
  // reads logpx and kl)
  kind.logDensities?.(k, p, ws, K, b0, b1, freeBits);
}

export interface ForwardArgs extends RowArgs {
  B: number;
  needKL: boolean;
  /** free bits λ of the KL (0: none) */
  freeBits: number;
  importanceWeights: boolean;
}

/** Forward over examples [b0, b1) (x and eps already in place): encoder, samples, KL and w̃ when asked. */
export function forwardRows(k: Kernels, p: StaticPlan, ws: Workspace, a: ForwardArgs, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  encodeRows(k, p, ws, b0, b1, scratch);
  // (free bits floor the analytic KL when the estimator reads it, else the Monte Carlo one in log w)
  sampleRows(k, p, ws, a.K, b0, b1, scratch, true, a.relax, a.needKL ? 0 : a.freeBits);
  if (a.needKL) kindOf(p).kl!(k, p, ws, b0, b1, a.freeBits);
  if (a.importanceWeights) k.importanceWeights(ws.bound, ws.wt, ws.logw, a.K, b0, b1);
}

// ---------------------------------------------------------------- backward

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
  mlpBackward(k, p, p.dec, ws.dec, ws.dDec, ws.dOut, r0, r1, scratch, ws.decCol, ws.decDcol);
  layerInputGrads(k, p, p.dec[0], decoderDy(p, ws, 0), ws.z, ws.dz, ACT.identity, r0, r1, scratch, ws.decCol[0], ws.decDcol[0]);
  const kind = kindOf(p);
  kind.backward(k, p, ws, a, b0, b1, scratch);
  for (let i = p.enc.length - 1; i > 0; i--) {
    // the last hidden layer feeds the latent head and any heads of the kind's own
    const also = i === p.enc.length - 1 ? kind.sideHeads?.(p, ws) ?? [] : [];
    layerInputGrads(k, p, p.enc[i], encoderDy(p, ws, i), ws.enc[i - 1], ws.dEnc[i - 1], p.enc[i - 1].act, b0, b1, scratch,
      ws.encCol[i], ws.encDcol[i], also);
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
 * updates exactly those parameters, writing them (and their panels) to the bank of `adam.to`. Any share gives the same bits (each output is computed
 * alone). Nothing in this phase reads W, so updating it in place is safe. (Whole layers per
 * thread instead, so that a layer's inputs are read by one thread only, measured 2–3 % slower
 * on the two-thread VAE step and no better on the IWAE step.)
 */
export function weightGradsAll(k: Kernels, p: StaticPlan, ws: Workspace, B: number, K: number, adam: AdamArgs | null,
  f0: number, f1: number, scratch: number): void {
  const R = B * K;
  // the first encoder layer's dW skips zero inputs when the batch is sparse (as the forward)
  const sparseX = ws.xs !== 0 && isSparse(k, ws.x, B * p.D);
  // (rows: examples for the encoder, rows for the decoder; col: a convolution's patch slot)
  const layer = (l: NetLayer, dy: number, x: number, rows: number, sparse = false, col = 0) => {
    if (isReshape(l)) return;
    const [o0, o1] = panelRange(l.outDim, f0, f1);
    if (o0 >= o1) return;
    if (isConv(l)) convWeightGrads(k, p, l, dy, x, col, rows, o0, o1, scratch);
    else weightGrads(k, p, l, dy, x, rows, o0, o1, scratch, sparse);
    if (adam) {
      adamRange(k, p, adam, l.w + o0 * l.inDim, l.w + o1 * l.inDim);
      // (a transposed convolution's bias belongs to its output channels: the first share's)
      if (isConv(l) && l.kind === "convT") {
        if (o0 === 0) adamRange(k, p, adam, l.b, l.b + l.g.O);
      } else {
        adamRange(k, p, adam, l.b + o0, l.b + o1);
      }
      packLayer(k, adam.to, l, o0, o1);
    }
  };
  if (p.decLogvar >= 0) {
    const [d0, d1] = panelRange(p.D, f0, f1);
    if (d0 < d1) {
      const lv = p.pParams + 4 * p.decLogvar;
      k.gaussianLogvarGrad(p.pGrads + 4 * p.decLogvar, ws.out, ws.x, ws.c, lv, K, p.D, R, d0, d1);
      if (adam) adamRange(k, p, adam, p.decLogvar + d0, p.decLogvar + d1);
    }
  }
  p.dec.forEach((l, i) => layer(l, decoderDy(p, ws, i), i === 0 ? ws.z : ws.dec[i - 1], R, false, ws.decCol[i]));
  p.enc.forEach((l, i) => layer(l, encoderDy(p, ws, i), i === 0 ? ws.x : ws.enc[i - 1], B, i === 0 && sparseX, ws.encCol[i]));
  for (const o of kindOf(p).ownLayers?.(p, ws, B, R) ?? []) layer(o.l, o.dy, o.x, o.rows);
}

/**
 * The outputs [o0, o1) of a layer of n outputs that a thread with share [f0, f1) of the weight
 * phase takes: whole panels of 8 (packLayer writes whole panels) whose midpoints (q + ½)/panels
 * lie in [f0, f1).
 */
export function panelRange(n: number, f0: number, f1: number): [number, number] {
  const P = Math.ceil(n / 8);
  const first = (f: number) => (f <= 0 ? 0 : f >= 1 ? P : Math.min(P, Math.max(0, Math.ceil(f * P - 0.5))));
  return [8 * first(f0), Math.min(n, 8 * first(f1))];
}

// ---------------------------------------------------------------- optimiser

export interface AdamArgs {
  /** the plan of the bank the new values, m and v go to (the same plan: in place) */
  to: PlanBlocks;
  stepSize: number;
  beta1: number;
  beta2: number;
  eps: number;
  invSqrtBc2: number;
  weightDecay: number;
}

/** Adam's arguments in the control block for a weight command on `plan` (null: gradients only); it writes the bank the command does not read. */
export function adamOf(ctrl: Ctrl, plan: PlanBlocks): AdamArgs | null {
  const i = ctrl.i, f = ctrl.f;
  if (!i[CTRL.adam]) return null;
  return {
    to: atBank(plan, 1 - i[CTRL.bank]),
    stepSize: f[CTRL_F64.stepSize], beta1: f[CTRL_F64.beta1], beta2: f[CTRL_F64.beta2], eps: f[CTRL_F64.eps],
    invSqrtBc2: f[CTRL_F64.invSqrtBc2], weightDecay: f[CTRL_F64.weightDecay],
  };
}

export function adamRange(k: Kernels, p: PlanBlocks, a: AdamArgs, i0: number, i1: number): void {
  if (i0 >= i1) return;
  const q = a.to;
  k.adam(p.pParams, p.pGrads, p.pM, p.pV, q.pParams, q.pM, q.pV, i0, i1, a.stepSize, a.beta1, a.beta2, a.eps, a.invSqrtBc2, a.weightDecay);
}

// ---------------------------------------------------------------- phases, driven by the control block

/** Thread t of T runs its share of the command in the control block. */
export function runShare(k: Kernels, plan: StaticPlan, ws: Workspace, ctrl: Ctrl, t: number, T: number): void {
  const i = ctrl.i, f = ctrl.f;
  const bank = i[CTRL.bank];
  const p = atBank(plan, bank);
  const cmd = i[CTRL.cmd];
  const scratch = ws.scratch[t];
  const B = i[CTRL.B], K = i[CTRL.K];
  const relax = (): Relaxation => ({ tau: f[CTRL_F64.tau], hard: i[CTRL.hard] !== 0 });
  const backwardArgs = (): BackwardArgs => ({ K, relax: relax(), gradMode: i[CTRL.gradMode], useR: i[CTRL.useR] !== 0, klScale: f[CTRL_F64.klScale], freeBits: f[CTRL_F64.freeBits] });
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
        const noise = kindOf(p).noise === "gumbel" ? k.gumbelNoise : k.randomNormal;
        noise(ws.eps, seed, i[CTRL.epsStream], step, K, p.Z, b0, b1, rowOffset, i[CTRL.k0] >>> 0);
      }
      if (cmd === CMD.sample) {
        sampleRows(k, p, ws, K, b0, b1, scratch, false, relax()); // log-weights only
        return;
      }
      forwardRows(k, p, ws, { B, K, relax: relax(), needKL: i[CTRL.needKL] !== 0, freeBits: f[CTRL_F64.freeBits], importanceWeights: i[CTRL.iw] !== 0 }, b0, b1, scratch);
      const fuse = i[CTRL.fuse];
      if (fuse) {
        // a training step whose row weights are row-local: this thread's c, then its row-wise
        // backward, with no barrier in between (FUSE.uniform: c = 1/(K·B); FUSE.importance: w̃/B)
        const importance = fuse === FUSE.importance;
        k.setWeights(ws.c, importance ? ws.wt : 0, importance ? B : K * B, b0 * K, b1 * K);
        backwardRows(k, p, ws, backwardArgs(), b0, b1, scratch);
      }
      return;
    }
    case CMD.backward: {
      const [b0, b1] = share(t, B, T, ctrl.cut);
      backwardRows(k, p, ws, backwardArgs(), b0, b1, scratch);
      return;
    }
    case CMD.weights: {
      weightGradsAll(k, p, ws, B, K, adamOf(ctrl, plan), T > 1 ? ctrl.cut[t] : 0, T > 1 ? ctrl.cut[t + 1] : 1, scratch);
      return;
    }
    default:
      throw new Error(`engine: unknown command ${cmd}`);
  }
}
