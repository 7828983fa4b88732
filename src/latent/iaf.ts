// Inverse autoregressive flow (Kingma et al. 2016): each of T steps is a masked autoregressive
// network (MADE, Germain et al. 2015: one relu hidden layer of H units plus the encoder's
// context from the flow head) giving m and s, with z_t = σ(s)⊙z_{t−1} + (1 − σ(s))⊙m,
// log|det| = Σ log σ(s), and the variable order reversed between steps. Its masks are applied
// to the weights and to their gradients, so masked weights stay exactly 0. The path-derivative
// estimators work through the flow's inverse (iafPathGradient).
import { ACT, type Kernels } from "../../bindings/abi.js";
import { inputGrads, linearForward, matVecRows, type Layer } from "../nn/dense.js";
import type { StaticPlan } from "../nn/plan.js";
import type { SlotDims, Workspace } from "../nn/workspace.js";
import { checkInt, fail } from "../util/validate.js";
import { flowKind, flowSlab, type FlowPlan } from "./flow.js";

export interface IafPlan extends FlowPlan {
  kind: "iaf";
  /** hidden units of each step's masked network */
  H: number;
  /** step t (1-based) is steps[2t − 2] (Z → H, relu after the context) and steps[2t − 1] (H → 2Z: m, s) */
  steps: Layer[];
}

/**
 * MADE masks of IAF step t (0-based) for Z variables and H hidden units: variable j has degree
 * j+1 on even steps and Z−j on odd ones (the order reversed between steps), hidden unit k has
 * degree 1 + k mod (Z−1); hidden k sees input j when deg(k) ≥ deg(j), and outputs m_j, s_j see
 * hidden k when deg(j) > deg(k), so m_j and s_j depend only on the variables before j in the
 * step's order.
 */
export function madeMasks(Z: number, H: number, t: number): { hidden: Float32Array; out: Float32Array } {
  const deg = (j: number) => (t % 2 === 0 ? j + 1 : Z - j);
  const hdeg = (k: number) => 1 + (k % (Z - 1));
  const hidden = new Float32Array(H * Z), out = new Float32Array(2 * Z * H);
  for (let k = 0; k < H; k++) for (let j = 0; j < Z; j++) hidden[k * Z + j] = hdeg(k) >= deg(j) ? 1 : 0;
  for (let j = 0; j < Z; j++) {
    for (let k = 0; k < H; k++) out[j * H + k] = out[(Z + j) * H + k] = deg(j) > hdeg(k) ? 1 : 0;
  }
  return { hidden, out };
}

type Ws = Workspace & { iafHid: number[]; iafOut: number[]; dIafHid: number[]; dIafOut: number[]; fv: number; ones: number; zeros: number; dhf: number };

/** Flow step t's input z_{t−1}; t = 1…T. */
const flowIn = (p: StaticPlan, ws: Workspace, t: number) => flowSlab(p, ws, t - 1);
/** Flow step t's output z_t (z_T is ws.z, the decoder's input). */
const flowOut = (p: StaticPlan, f: IafPlan, ws: Workspace, t: number) => (t === f.T ? ws.z : flowSlab(p, ws, t));

/**
 * Back through the IAF steps T…1 for rows of examples [b0, b1): g = ∂/∂z_T in, ∂/∂z_0 out; the
 * log-determinants weighted by −w_r (w = c, or ones, or zeros); with `params` the context
 * gradient ws.dhf too (the layers' dY stay in ws.dIafOut / dIafHid for the weight phase).
 */
function backwardSteps(k: Kernels, p: StaticPlan, f: IafPlan, ws: Ws, K: number, b0: number, b1: number, scratch: number,
  g: number, w: number, params: boolean): void {
  const Z = p.Z, r0 = b0 * K, r1 = b1 * K;
  for (let t = f.T; t >= 1; t--) {
    const zin = flowIn(p, ws, t);
    const l1 = f.steps[2 * t - 2], l2 = f.steps[2 * t - 1];
    k.iafGateBackward(ws.dIafOut[t - 1], g, zin, ws.iafOut[t - 1], w, Z, r0, r1);
    inputGrads(k, p, [{ l: l2, dy: ws.dIafOut[t - 1] }], ws.iafHid[t - 1], ws.dIafHid[t - 1], ACT.relu, r0, r1, scratch);
    if (params) k.sumOverSamples(ws.dhf + 4 * (t - 1) * f.H, f.P, ws.dIafHid[t - 1], K, f.H, b0, b1);
    matVecRows(k, p, l1, ws.dIafHid[t - 1], g, r0, r1, 1, scratch);
  }
}

/**
 * ws.fv = ∂log q(z_T; φ′)/∂z_T per row, φ′ the current parameters held fixed: with
 * a(z0) = log q0(z0) − Σ log σ, u0 = ∂a/∂z0 (a backward pass with nothing at z_T and the
 * log-determinants at weight 1, plus −eps/σ), then v = u0·J_1⁻¹ ⋯ J_T⁻¹ (assembly/flows.ts iafSolve).
 */
function iafPathGradient(k: Kernels, p: StaticPlan, f: IafPlan, ws: Ws, K: number, b0: number, b1: number, scratch: number): void {
  const Z = p.Z, r0 = b0 * K, r1 = b1 * K;
  k.fill(ws.fv, 0, r0 * Z, r1 * Z);
  k.fill(ws.ones, 1, r0, r1);
  k.fill(ws.zeros, 0, r0, r1);
  backwardSteps(k, p, f, ws, K, b0, b1, scratch, ws.fv, ws.ones, false);
  k.addBaseScore(ws.fv, ws.eps, ws.h, K, Z, b0, b1);
  for (let t = 1; t <= f.T; t++) {
    const l1 = f.steps[2 * t - 2], l2 = f.steps[2 * t - 1];
    k.iafSolve(ws.fv, flowIn(p, ws, t), ws.iafOut[t - 1], ws.iafHid[t - 1], p.pParams + 4 * l1.w, p.pParams + 4 * l2.w, Z, f.H,
      (t - 1) % 2, r0, r1, scratch);
  }
}

const steps = (d: SlotDims) => (d.p.latent as IafPlan).T;

export const iaf = flowKind<IafPlan>({
  type: "iaf",
  keys: ["length", "hidden"],
  resolve(fn, o, latentDim, arg) {
    const length = checkInt(fn, `${arg}.flow.length`, o.length, 1, 64);
    if (latentDim < 2) fail(fn, `${arg}.latentDim`, "at least 2 for an IAF flow (an autoregressive map of one variable has no inputs)", latentDim);
    // (each step's masks take hidden × latentDim floats: bounded at 2^24)
    return { type: "iaf", length, hidden: checkInt(fn, `${arg}.flow.hidden`, o.hidden ?? 4 * latentDim, 1, Math.min(1 << 16, Math.floor(2 ** 24 / latentDim))) };
  },
  provides: ["density", "pathScore"],
  why: (name) => `'${name}' needs ∇φ log q(z|x) at a fixed z, i.e. the flow's inverse as a function of its parameters, which this library does not compute`,
  build(L, c) {
    const { length: T, hidden: H } = c.flow as { length: number; hidden: number };
    const Z = c.Z;
    return {
      P: T * H,
      extra: (head) => {
        const layers: Layer[] = [];
        for (let t = 0; t < T; t++) {
          const made = madeMasks(Z, H, t);
          const l1 = L.dense(Z, H, ACT.identity, made.hidden); // relu after the context (forward)
          const l2 = L.dense(H, 2 * Z, ACT.identity, made.out);
          L.linear(`encoder.iaf.${t}.hidden`, l1);
          L.linear(`encoder.iaf.${t}.out`, l2);
          layers.push(l1, l2);
        }
        return { kind: "iaf", T, P: T * H, H, head, steps: layers };
      },
    };
  },
  /** s's bias starts at 1: σ(s) ≈ 0.73, each step close to the identity (Kingma et al. 2016, sec. 4) */
  init(params, f, Z) {
    for (let t = 1; t < f.steps.length; t += 2) params.fill(1, f.steps[t].b + Z, f.steps[t].b + 2 * Z);
  },
  slots: {
    /** step t: the masked hidden layer [R, H] and output [R, 2Z], and their gradients */
    iafHid: { count: steps, floats: (d) => d.R * (d.p.latent as IafPlan).H },
    iafOut: { count: steps, floats: (d) => d.R * 2 * d.p.Z },
    dIafHid: { count: steps, floats: (d) => d.R * (d.p.latent as IafPlan).H },
    dIafOut: { count: steps, floats: (d) => d.R * 2 * d.p.Z },
    /** the path derivative: v = ∂log q(z_T; φ′)/∂z_T [R, Z], and per-row weights 1 and 0 [R] */
    fv: { floats: (d) => d.R * d.p.Z },
    ones: { floats: (d) => d.R },
    zeros: { floats: (d) => d.R },
  },

  forward(k, p, f, ws0, K, b0, b1, scratch) {
    const ws = ws0 as Ws;
    const r0 = b0 * K, r1 = b1 * K;
    for (let t = 1; t <= f.T; t++) {
      const zin = flowIn(p, ws, t), zo = flowOut(p, f, ws, t);
      const l1 = f.steps[2 * t - 2], l2 = f.steps[2 * t - 1];
      linearForward(k, p, l1, ws.iafHid[t - 1], zin, r0, r1, scratch);
      k.addContext(ws.iafHid[t - 1], (ws.hf as number) + 4 * (t - 1) * f.H, f.P, K, f.H, r0, r1, ACT.relu);
      linearForward(k, p, l2, ws.iafOut[t - 1], ws.iafHid[t - 1], r0, r1, scratch);
      k.iafGate(zo, zin, ws.iafOut[t - 1], ws.logdet as number, p.Z, r0, r1, t > 1 ? 1 : 0);
    }
  },
  backward(k, p, f, ws0, K, b0, b1, scratch, path, useR) {
    const ws = ws0 as Ws;
    const r0 = b0 * K, r1 = b1 * K;
    if (path) {
      iafPathGradient(k, p, f, ws, K, b0, b1, scratch);
      k.combinePath(ws.dz, ws.z, ws.fv, ws.c, useR ? ws.r : 0, p.Z, r0, r1);
    } else {
      k.addPrior(ws.dz, ws.z, ws.c, p.Z, r0, r1);
    }
    backwardSteps(k, p, f, ws, K, b0, b1, scratch, ws.dz, path ? ws.zeros : ws.c, true);
  },
  ownLayers(p, f, ws0, _B, R) {
    const ws = ws0 as Ws;
    const out = [];
    for (let t = 1; t <= f.T; t++) {
      out.push({ l: f.steps[2 * t - 2], dy: ws.dIafHid[t - 1], x: flowIn(p, ws, t), rows: R });
      out.push({ l: f.steps[2 * t - 1], dy: ws.dIafOut[t - 1], x: ws.iafHid[t - 1], rows: R });
    }
    return out;
  },
});
