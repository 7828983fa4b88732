// A normalizing flow on the Gaussian q(z|x): z_T = f_T ∘ … ∘ f_1(z_0), z_0 ~ N(mu, σ²), and
// log q(z_T|x) = log q_0(z_0|x) − Σ_t log|det ∂f_t/∂z_{t−1}|. What every flow shares lives here:
// the Gaussian base head, a flow head on the encoder's last hidden layer giving every example
// P numbers (the layers' own parameters for amortized flows, the steps' context for IAF), the
// intermediate samples z_0 … z_{T−1} in slabs of R·Z floats, Σ log|det J| per row, and the
// backward into the base head. A flow kind supplies its steps (amortized.ts, iaf.ts).
import { ACT, GRAD, STREAM, type Kernels } from "../../bindings/abi.js";
import { linearForward, type Layer } from "../nn/dense.js";
import type { ParamLayout } from "../nn/layout.js";
import type { StaticPlan } from "../nn/plan.js";
import type { SlotTable, Workspace } from "../nn/workspace.js";
import { orList } from "../util/validate.js";
import type { Capability } from "./capability.js";
import { gaussianEncode, gaussianHead, normalPrior } from "./gaussian.js";
import type { BuildContext, LatentKind, OwnLayer } from "./kind.js";

export interface FlowPlan {
  kind: string;
  /** layers (amortized) or steps (IAF) */
  T: number;
  /** flow head outputs per example */
  P: number;
  /** the flow head on the encoder's last hidden layer */
  head: Layer;
}

/** What a flow kind adds to the shared machinery. */
export interface FlowSteps<F extends FlowPlan> {
  readonly type: string;
  /** its option's keys besides `type` */
  readonly keys: readonly string[];
  /** the resolved option (`{type, length, …}`) from the given one */
  resolve(fn: string, o: Record<string, unknown>, latentDim: number, arg: string): object;
  readonly provides: readonly Capability[];
  /** why an estimator that needs `missing` (not the analytic KL) cannot be used */
  why(name: string, missing: readonly Capability[]): string;
  /** the flow head's width P, and the plan data beyond FlowPlan (with layers of the kind's own, laid out after the head) */
  build(L: ParamLayout, c: BuildContext): { P: number; extra: (head: Layer) => F };
  init?(params: Float32Array, f: F, Z: number): void;
  readonly slots: SlotTable;
  /** z_0 (slab 0) → z_T (ws.z) and ws.logdet = Σ log|det J| per row, examples [b0, b1) */
  forward(k: Kernels, p: StaticPlan, f: F, ws: Workspace, K: number, b0: number, b1: number, scratch: number): void;
  /**
   * ws.dz = ∂L/∂z_T in, ∂L/∂z_0 out; ws.dhf and the kind's layers' dY filled. `path`: the path
   * derivative (log q's parameters held fixed), scaled per row by ws.r when `useR`.
   */
  backward(k: Kernels, p: StaticPlan, f: F, ws: Workspace, K: number, b0: number, b1: number, scratch: number, path: boolean, useR: boolean): void;
  ownLayers?(p: StaticPlan, f: F, ws: Workspace, B: number, R: number): OwnLayer[];
}

/** Slab t of the flow's intermediate samples (z_t, t < T). */
export function flowSlab(p: StaticPlan, ws: Workspace, t: number): number {
  return (ws.zf as number) + 4 * t * ws.R * p.Z;
}

/** The input of the encoder's heads: its last hidden layer, or x. */
export function encoderTop(p: StaticPlan, ws: Workspace): number {
  return p.enc.length > 1 ? ws.enc[p.enc.length - 2] : ws.x;
}

/** A latent kind from a flow's steps. */
export function flowKind<F extends FlowPlan>(s: FlowSteps<F>): LatentKind {
  const plan = (p: StaticPlan) => p.latent as F;
  return {
    describe: `Gaussian with a ${s.type} flow`,
    option: {
      key: "flow",
      keys: s.keys,
      form: `{type: '${s.type}', ${s.keys.join(", ")}}`,
      resolve: (fn, o, latentDim, _given, arg) => ({ resolved: s.resolve(fn, o, latentDim, arg), latentDim }),
    },
    provides: s.provides,
    refuse: (name, missing, allowed) => `${orList(allowed)} for a model with a ${s.type} flow: ${
      missing.includes("analyticKL") ? "the KL of a flow's q(z_T|x) to the prior has no closed form" : s.why(name, missing)}`,
    defaultEstimator: "td",
    noise: "normal",
    relaxed: false,
    slots: {
      /** the flow head's output and gradient [B, P] */
      hf: { floats: (d) => d.B * plan(d.p).P },
      dhf: { floats: (d) => d.B * plan(d.p).P },
      /** z_0 … z_{T−1}: T slabs of R·Z floats */
      zf: { floats: (d) => plan(d.p).T * d.R * d.p.Z },
      /** Σ_t log|det J_t| per row */
      logdet: { floats: (d) => d.R },
      ...s.slots,
    },

    build(L, c) {
      const base = gaussianHead(L, c.Z, c.top);
      const { P, extra } = s.build(L, c);
      // (the flow head is laid out before the kind's own layers)
      const head = L.dense(c.top, P, ACT.identity);
      L.tensor("encoder.flow.weight", [P, c.top], head.w);
      L.tensor("encoder.flow.bias", [P], head.b);
      return { head: base, plan: extra(head) };
    },
    init: s.init ? (params, p) => s.init!(params, plan(p), p.Z) : undefined,

    encodeExtras(k, p, ws, b0, b1, scratch) {
      linearForward(k, p, plan(p).head, ws.hf as number, encoderTop(p, ws), b0, b1, scratch);
    },
    sample(k, p, ws, a, b0, b1, scratch) {
      k.reparameterize(ws.zf as number, ws.eps, ws.h, a.K, p.Z, b0, b1); // z_0 in slab 0
      s.forward(k, p, plan(p), ws, a.K, b0, b1, scratch);
    },
    logDensities(k, p, ws, K, b0, b1) {
      k.gaussianLogProbs(ws.logw, ws.logpz, ws.logqz, ws.logpx, ws.z, ws.eps, ws.h, K, p.Z, b0, b1, ws.logdet as number, 0);
    },
    backward(k, p, ws, a, b0, b1, scratch) {
      // the total derivative, or the path derivative where the kind provides it (the model refuses the rest)
      const path = a.gradMode === GRAD.path;
      s.backward(k, p, plan(p), ws, a.K, b0, b1, scratch, path, a.useR);
      k.latentBackward(ws.dh, ws.dz, flowSlab(p, ws, 0), ws.eps, ws.h, ws.c, 0, a.K, p.Z, path ? GRAD.basePath : GRAD.base, a.klScale, 0, b0, b1);
    },
    sideHeads: (p, ws) => [{ l: plan(p).head, dy: ws.dhf as number }],
    ownLayers: (p, ws, B, R) => [{ l: plan(p).head, dy: ws.dhf as number, x: encoderTop(p, ws), rows: B }, ...(s.ownLayers?.(p, plan(p), ws, B, R) ?? [])],

    encode: gaussianEncode,
    /** decodes z_T = f(mu) (eps = 0), or one sample z_T = f(mu + σ·eps), eps keyed (seed, prior stream, example) as without a flow */
    reconstruct(m, x, sample, seed) {
      return m.sampleOutputs(x, (eps, s0, B) => {
        if (sample) m.k.randomNormal(eps, seed, STREAM.prior, 0, 1, m.Z, 0, B, s0, 0);
        else m.f32(eps, B * m.Z).fill(0);
      });
    },
    samplePrior: normalPrior,
  };
}
