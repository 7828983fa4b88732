// One M2 training step (src/m2.ts) as pure functions of (kernels, plan, workspace, thread share),
// run on the calling thread and in every worker (engine/programs.ts) like the VAE's (engine/step.ts), and
// bitwise identical for any thread count for the same reason:
//   forward   examples: the classifier, the Gumbel-softmax of unlabelled y, the encoder's rows
//             [x, y], z, the decoder's rows [z, y], log p(x|y,z) and the KL of every row;
//   (the calling thread alone: the objective, each row's weight c and the classifier's logit
//   gradient, a few numbers per example in f64: m2/objective.ts)
//   backward  examples: every row's chain of dY and dX = dY·W down the decoder, the latent head,
//             the encoder, through the relaxed y to the logits, and down the classifier;
//   weights   outputs: dW and db over ALL rows in row order for this thread's panels of every
//             layer's outputs, then Adam on exactly those parameters (into the other bank).
// Rows: the Bl labelled examples come first, one encoder/decoder row each, then the Bu unlabelled
// ones, E rows each (the C classes enumerated, or one relaxed sample): example b's rows start at
// rowOf(b). The forward and backward commands are split by rows (CTRL.B = R) and a thread takes
// the examples whose first row falls in its share, so the balancer sees work, not examples.
import { ACT, GRAD, STREAM, type Kernels } from "../../bindings/abi.js";
import { share } from "./balance.js";
import { CMD, CTRL, CTRL_F64, type Ctrl } from "./ctrl.js";
import { adamOf, adamRange, panelRange, type AdamArgs } from "./step.js";
import { biasGrads, linearForward, packLayer, partForward, partInputGrads, partWeightGrads, weightGrads, type Layer } from "../nn/dense.js";
import { isSparse, listNonzeros, mlpBackward, mlpForward, sparseForward } from "../nn/mlp.js";
import { atBank } from "../nn/plan.js";
import type { M2Plan, M2Workspace } from "./m2-plan.js";

/** CTRL.drawEps bits: draw z's noise, draw the Gumbel noise (else the caller wrote them) */
export const DRAW = { eps: 1, gumbel: 2 } as const;

/**
 * One step's shape: labelled and unlabelled examples, rows per unlabelled example, the
 * relaxation's τ (0: enumeration), and β, the weight of z's KL term.
 */
export interface StepShape {
  Bl: number;
  Bu: number;
  E: number;
  tau: number;
  beta: number;
}

/** The first row of example b. */
export function rowOf(s: StepShape, b: number): number {
  return b <= s.Bl ? b : s.Bl + (b - s.Bl) * s.E;
}

/** The examples whose first row lies in rows [ρ0, ρ1). */
export function examplesOfRows(s: StepShape, r0: number, r1: number): [number, number] {
  const at = (r: number) => (r <= s.Bl ? r : s.Bl + Math.ceil((r - s.Bl) / s.E));
  return [at(r0), at(r1)];
}

/** The shape of the step in the control block. */
export function shapeOf(ctrl: Ctrl): StepShape {
  return { Bl: ctrl.i[CTRL.m2Bl], Bu: ctrl.i[CTRL.m2Bu], E: ctrl.i[CTRL.m2E], tau: ctrl.f[CTRL_F64.tau], beta: ctrl.f[CTRL_F64.klScale] };
}

const f32 = (mem: WebAssembly.Memory, p: number, n: number) => new Float32Array(mem.buffer, p, n);

/** A Gaussian decoder's log-variance: learned per value (lv, a pointer) or the fixed logVar; null for Bernoulli. */
function gaussianOf(p: M2Plan): { lv: number; logVar: number } | null {
  const l = p.config.likelihood;
  if (l.type !== "gaussian") return null;
  return { lv: p.decLogvar >= 0 ? p.pParams + 4 * p.decLogvar : 0, logVar: Math.log(l.variance) };
}

/**
 * The y part of rows [r0, r1) into dst ([rows, width + C], after `width` columns that stay):
 * labelled rows one-hot of their class, enumerated rows one-hot of (r − Bl) mod C, relaxed rows
 * the Gumbel-softmax sample of their example.
 */
function writeY(mem: WebAssembly.Memory, p: M2Plan, ws: M2Workspace, s: StepShape, dst: number, width: number, r0: number, r1: number): void {
  const C = p.config.classes, W = width + C;
  const d = f32(mem, dst, ws.R * W), labels = f32(mem, ws.labels, Math.max(s.Bl, 1)), ys = f32(mem, ws.ys, Math.max(s.Bu, 1) * C);
  for (let r = r0; r < r1; r++) {
    const at = r * W + width;
    d.fill(0, at, at + C);
    if (r < s.Bl) d[at + labels[r]] = 1;
    else if (s.tau) d.set(ys.subarray((r - s.Bl) * C, (r - s.Bl + 1) * C), at);
    else d[at + ((r - s.Bl) % C)] = 1;
  }
}

/** The forward over examples [b0, b1) (their x in ws.xc, labels in ws.labels, noise drawn here unless the caller wrote it). */
export function forwardRows(k: Kernels, mem: WebAssembly.Memory, p: M2Plan, ws: M2Workspace, s: StepShape, ctrl: Ctrl, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  const { inputDim: D, classes: C, latentDim: Z, seed } = p.config;
  const { Bl, E } = s;
  const i = ctrl.i, step = i[CTRL.step] >>> 0, draw = i[CTRL.drawEps];
  const r0 = rowOf(s, b0), r1 = rowOf(s, b1);
  const l0 = Math.min(b0, Bl), l1 = Math.min(b1, Bl), u0 = Math.max(b0, Bl) - Bl, u1 = Math.max(b1, Bl) - Bl;
  if (i[CTRL.binarize]) k.bernoulliSample(ws.xc, ws.xc, seed, STREAM.binarize, step, D, b0, b1, 0);
  // the classifier's first layer and the encoder's x part both read x: from its nonzero lists
  // when sparse enough (MNIST digits), bitwise the dense results (nn/mlp.ts sparseForward)
  const listed = listNonzeros(k, ws.xs, ws.xc, D, b0, b1);
  const c0 = p.cls[0], clsY0 = p.cls.length > 1 ? ws.clsHidden[0] : ws.logits;
  if (listed) sparseForward(k, p, c0, clsY0, ws.xs, D, b0, b1);
  else linearForward(k, p, c0, clsY0, ws.xc, b0, b1, scratch);
  mlpForward(k, p, p.cls.slice(1), clsY0, ws.clsHidden.slice(1), ws.logits, b0, b1, scratch);
  const lu = ws.logits + 4 * Bl * C;
  if (s.tau && u0 < u1) {
    if (draw & DRAW.gumbel) k.gumbelNoise(ws.g, seed, STREAM.eps + 16, step, 1, C, u0, u1, 0, 0);
    k.gumbelSoftmax(ws.y, ws.ys, ws.g, lu, 1, 1, C, s.tau, 0, u0, u1);
    k.categoricalKL(ws.klY, lu, 1, C, u0, u1);
  }
  // the encoder: its first layer on [x, y] is W_x·x + b once per example plus W_y·y per row (an
  // unlabelled example's x part is shared by its E rows)
  writeY(mem, p, ws, s, ws.yIn, 0, r0, r1);
  const L = p.enc, e0 = L[0], H = e0.outDim;
  const y0 = L.length > 1 ? ws.encHidden[0] : ws.h;
  if (listed) sparseForward(k, p, e0, ws.encA, ws.xs, D, b0, b1, ACT.identity); // A = x·W_xᵀ + b
  else partForward(k, p, e0, 0, D, ws.encA, ws.xc, b0, b1, scratch, true);
  partForward(k, p, e0, D, D + C, y0, ws.yIn, r0, r1, scratch, false); // y0 = Y·W_yᵀ, then + A of the row's example and the activation
  if (l0 < l1) k.addContext(y0, ws.encA, H, 1, H, l0, l1, e0.act);
  if (u0 < u1) k.addContext(y0 + 4 * Bl * H, ws.encA + 4 * Bl * H, H, E, H, u0 * E, u1 * E, e0.act);
  mlpForward(k, p, L.slice(1), y0, ws.encHidden.slice(1), ws.h, r0, r1, scratch);
  if (draw & DRAW.eps) k.randomNormal(ws.eps, seed, STREAM.eps, step, 1, Z, r0, r1, 0, 0);
  k.reparameterize(ws.z, ws.eps, ws.h, 1, Z, r0, r1);
  // the decoder's rows [z, y]
  const z = f32(mem, ws.z, ws.R * Z), decIn = f32(mem, ws.decIn, ws.R * (Z + C));
  for (let r = r0; r < r1; r++) decIn.set(z.subarray(r * Z, (r + 1) * Z), r * (Z + C));
  writeY(mem, p, ws, s, ws.decIn, Z, r0, r1);
  mlpForward(k, p, p.dec, ws.decIn, ws.decHidden, ws.out, r0, r1, scratch);
  // log p(x|y,z) against each row's x: labelled rows 1:1, unlabelled rows E per example
  const xu = ws.xc + 4 * Bl * D, ou = ws.out + 4 * Bl * D;
  const g = gaussianOf(p);
  if (!g) {
    if (l0 < l1) k.bernoulliLogProb(ws.logpx, ws.out, ws.out, ws.xc, 1, D, l0, l1);
    if (u0 < u1) k.bernoulliLogProb(ws.logpx + 4 * Bl, ou, ou, xu, E, D, u0 * E, u1 * E);
  } else {
    if (l0 < l1) k.gaussianLogProb(ws.logpx, ws.out, ws.xc, g.lv, g.logVar, 1, D, l0, l1);
    if (u0 < u1) k.gaussianLogProb(ws.logpx + 4 * Bl, ou, xu, g.lv, g.logVar, E, D, u0 * E, u1 * E);
  }
  k.klStandardNormal(ws.kl, ws.h, Z, 0, r0, r1);
}

/**
 * The row-wise backward of examples [b0, b1), given each row's weight ws.c and the classifier's
 * logit gradient ws.dLogits: reads W, writes no parameter gradient (no barrier between layers).
 */
export function backwardRows(k: Kernels, p: M2Plan, ws: M2Workspace, s: StepShape, b0: number, b1: number, scratch: number): void {
  if (b0 >= b1) return;
  const { inputDim: D, classes: C, latentDim: Z } = p.config;
  const { Bl, Bu, E } = s;
  const r0 = rowOf(s, b0), r1 = rowOf(s, b1);
  const l0 = Math.min(b0, Bl), l1 = Math.min(b1, Bl), u0 = Math.max(b0, Bl) - Bl, u1 = Math.max(b1, Bl) - Bl;
  const xu = ws.xc + 4 * Bl * D, ou = ws.out + 4 * Bl * D;
  // the decoder rows weighted by c, then z, the encoder's head and the encoder
  const g = gaussianOf(p);
  if (!g) {
    if (l0 < l1) k.bernoulliBackward(ws.dOut, ws.out, ws.xc, ws.c, 1, D, l0, l1);
    if (u0 < u1) k.bernoulliBackward(ws.dOut + 4 * Bl * D, ou, xu, ws.c + 4 * Bl, E, D, u0 * E, u1 * E);
  } else {
    if (l0 < l1) k.gaussianBackward(ws.dOut, ws.out, ws.xc, ws.c, g.lv, g.logVar, 1, D, l0, l1);
    if (u0 < u1) k.gaussianBackward(ws.dOut + 4 * Bl * D, ou, xu, ws.c + 4 * Bl, g.lv, g.logVar, E, D, u0 * E, u1 * E);
  }
  mlpBackward(k, p, p.dec, ws.decHidden, ws.decDHidden, ws.dOut, r0, r1, scratch);
  // dz = dY₀·W₀[:, 0:Z]: the z columns of the decoder's first layer (its y columns need no gradient)
  const d0 = p.dec[0], dyD = p.dec.length > 1 ? ws.decDHidden[0] : ws.dOut;
  partInputGrads(k, p, d0, 0, Z, dyD, ws.dz, r0, r1, scratch, 0);
  // analytic KL with each row's own weight β·c_r (K = 1: the rows are the encoder's examples)
  k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, 0, 1, Z, GRAD.analyticPerExample, s.beta, 0, r0, r1);
  mlpBackward(k, p, p.enc, ws.encHidden, ws.encDHidden, ws.dh, r0, r1, scratch);
  const e0 = p.enc[0], H = e0.outDim, dyE = p.enc.length > 1 ? ws.encDHidden[0] : ws.dh;
  if (s.tau && u0 < u1) {
    // ∂loss/∂y_soft from the y columns of the encoder's and the decoder's first layers, then
    // through the relaxed sample (and the closed-form KL) to the classifier's logits
    partInputGrads(k, p, e0, D, D + C, dyE + 4 * Bl * H, ws.dys, u0, u1, scratch, 0);
    partInputGrads(k, p, d0, Z, Z + C, dyD + 4 * Bl * d0.outDim, ws.dys, u0, u1, scratch, 1);
    k.categoricalBackward(ws.dLogits + 4 * Bl * C, ws.dys, ws.ys, ws.logits + 4 * Bl * C, 1, 1, C, s.tau, 1 / Bu, u0, u1);
  }
  mlpBackward(k, p, p.cls, ws.clsHidden, ws.clsDHidden, ws.dLogits, b0, b1, scratch);
  // the encoder's x part: its dY summed over each example's rows (dW_x = dAᵀ·X in the weight phase)
  if (l0 < l1) k.sumOverSamples(ws.dEncA, H, dyE, 1, H, l0, l1);
  if (u0 < u1) k.sumOverSamples(ws.dEncA + 4 * Bl * H, H, dyE + 4 * Bl * H, E, H, u0, u1);
}

/**
 * Every parameter gradient over the whole step, for the panels of every layer's outputs whose
 * midpoints fall in [f0, f1); with `adam`, then Adam on exactly those parameters (into the bank
 * of adam.to) and the re-packing of their panels.
 */
export function weightGradsAll(k: Kernels, p: M2Plan, ws: M2Workspace, s: StepShape, adam: AdamArgs | null,
  f0: number, f1: number, scratch: number): void {
  const { inputDim: D, classes: C } = p.config;
  const Bc = s.Bl + s.Bu, R = rowOf(s, Bc);
  const update = (l: Layer, o0: number, o1: number) => {
    if (!adam) return;
    adamRange(k, p, adam, l.w + o0 * l.inDim, l.w + o1 * l.inDim);
    adamRange(k, p, adam, l.b + o0, l.b + o1);
    packLayer(k, adam.to, l, o0, o1);
  };
  // the classifier's first layer and the encoder's x part skip x's zeros when it is sparse (as the forward)
  const sparseX = ws.xs !== 0 && isSparse(k, ws.xc, Bc * D);
  const net = (layers: Layer[], hidden: number[], dHidden: number[], x: number, dOut: number, rows: number, from: number, sparse = false) => {
    layers.forEach((l, i) => {
      if (i < from) return;
      const [o0, o1] = panelRange(l.outDim, f0, f1);
      if (o0 >= o1) return;
      weightGrads(k, p, l, i === layers.length - 1 ? dOut : dHidden[i], i === 0 ? x : hidden[i - 1], rows, o0, o1, scratch, i === 0 && sparse);
      update(l, o0, o1);
    });
  };
  if (p.decLogvar >= 0) {
    // a learned log-variance: Σ over the labelled rows (one per example), then the unlabelled ones (E per example)
    const [d0, d1] = panelRange(D, f0, f1);
    if (d0 < d1) {
      const lv = p.pParams + 4 * p.decLogvar, dlv = p.pGrads + 4 * p.decLogvar, { Bl, Bu, E } = s;
      k.gaussianLogvarGrad(dlv, ws.out, ws.xc, ws.c, lv, 1, D, Bl, d0, d1);
      if (Bu) {
        k.gaussianLogvarGrad(ws.dLogvarU, ws.out + 4 * Bl * D, ws.xc + 4 * Bl * D, ws.c + 4 * Bl, lv, E, D, Bu * E, d0, d1);
        // dlv[d] += dLogvarU[d] (the bias-gradient kernel over one row, accumulating)
        k.biasGrad(dlv + 4 * d0, ws.dLogvarU + 4 * d0, D, 0, 1, d1 - d0, 1);
      }
      if (adam) adamRange(k, p, adam, p.decLogvar + d0, p.decLogvar + d1);
    }
  }
  net(p.dec, ws.decHidden, ws.decDHidden, ws.decIn, ws.dOut, R, 0);
  net(p.enc, ws.encHidden, ws.encDHidden, 0, ws.dh, R, 1);
  // the encoder's first layer: W_x through the per-example sums, W_y over the rows, b
  const e0 = p.enc[0], [o0, o1] = panelRange(e0.outDim, f0, f1);
  if (o0 < o1) {
    const dy0 = p.enc.length > 1 ? ws.encDHidden[0] : ws.dh;
    partWeightGrads(k, p, e0, 0, D, ws.dEncA, ws.xc, Bc, scratch, o0, o1, sparseX); // dW_x = dAᵀ·X
    partWeightGrads(k, p, e0, D, D + C, dy0, ws.yIn, R, scratch, o0, o1); // dW_y = dY0ᵀ·Y
    biasGrads(k, p, e0, dy0, R, o0, o1);
    update(e0, o0, o1);
  }
  net(p.cls, ws.clsHidden, ws.clsDHidden, ws.xc, ws.dLogits, Bc, 0, sparseX);
}

/** Thread t of T runs its share of the M2 command in the control block. */
export function runM2Share(k: Kernels, plan: M2Plan, ws: M2Workspace, ctrl: Ctrl, t: number, T: number, mem: WebAssembly.Memory): void {
  const i = ctrl.i;
  const p = atBank(plan, i[CTRL.bank]);
  const s = shapeOf(ctrl);
  const scratch = ws.scratch[t];
  switch (i[CTRL.cmd]) {
    case CMD.m2Forward:
    case CMD.m2Backward: {
      const [b0, b1] = examplesOfRows(s, ...share(t, i[CTRL.B], T, ctrl.cut));
      if (i[CTRL.cmd] === CMD.m2Forward) forwardRows(k, mem, p, ws, s, ctrl, b0, b1, scratch);
      else backwardRows(k, p, ws, s, b0, b1, scratch);
      return;
    }
    case CMD.m2Weights: {
      weightGradsAll(k, p, ws, s, adamOf(ctrl, plan), T > 1 ? ctrl.cut[t] : 0, T > 1 ? ctrl.cut[t + 1] : 1, scratch);
      return;
    }
    default:
      throw new Error(`engine: unknown M2 command ${i[CTRL.cmd]}`);
  }
}
