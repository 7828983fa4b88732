// What every thread of an M2 model (src/m2.ts) needs, sent once to each worker: its
// configuration, its three networks and where its parameter blocks live; and its workspace,
// one table of slots laid out by the coordinating thread and read back by every worker from
// the plan's layout block ([Bc, R, then every pointer in table order]).
import { scratchFloats, type Layer } from "../nn/dense.js";
import type { PlanBlocks } from "../nn/plan.js";
import type { ResolvedLikelihood } from "../model/config.js";
import { layOut, readBack, slotCount, type SlotTable } from "../nn/workspace.js";

/** The configuration of an M2 model (saved with it). */
export interface SemiSupervisedConfig {
  inputDim: number;
  classes: number;
  latentDim: number;
  hidden: number[];
  activation: "relu" | "tanh";
  /** p(x|y,z): Bernoulli on logits, or Gaussian around the decoder's means (fixed or learned variance per value) */
  likelihood: ResolvedLikelihood;
  seed: number;
}

/** The three networks (classifier, encoder, decoder), each a list of dense layers. */
export interface Nets {
  cls: Layer[];
  enc: Layer[];
  dec: Layer[];
  /** a Gaussian decoder's learned log-variance per value (`decoder.logvar`, [D]): its offset in floats, or -1 */
  decLogvar: number;
}

export interface M2Plan extends PlanBlocks, Nets {
  /** tells the worker which program serves this plan (engine/programs.ts) */
  program: "m2";
  config: SemiSupervisedConfig;
}

interface Dims extends Nets {
  config: SemiSupervisedConfig;
  threads: number;
  /** classifier rows (labelled + unlabelled examples) and encoder/decoder rows (labelled + E per unlabelled) */
  Bc: number;
  R: number;
  /** whether the sparse first layers can run (SIMD builds) */
  sparse: boolean;
}

const hiddenOf = (net: (d: Dims) => Layer[], rows: (d: Dims) => number) => ({
  count: (d: Dims) => net(d).length - 1, floats: (d: Dims, i: number) => rows(d) * net(d)[i].outDim,
});
/** rows × width floats */
const per = (rows: (d: Dims) => number, width: (d: Dims) => number) => ({ floats: (d: Dims) => rows(d) * width(d) });
const Bc = (d: Dims) => d.Bc, R = (d: Dims) => d.R, one = () => 1;
const D = (d: Dims) => d.config.inputDim, C = (d: Dims) => d.config.classes, Z = (d: Dims) => d.config.latentDim;

/** The workspace: each network's hidden layers and their gradients, and the step's rows. */
const SLOTS = {
  /** per-thread GEMM scratch */
  scratch: {
    count: (d: Dims) => d.threads,
    floats: (d: Dims) => {
      const { inputDim, classes, latentDim, hidden } = d.config;
      return scratchFloats(Math.max(inputDim + classes, latentDim + classes, 2 * latentDim, ...hidden, d.R, d.Bc));
    },
  },
  clsHidden: hiddenOf((d) => d.cls, Bc), clsDHidden: hiddenOf((d) => d.cls, Bc),
  encHidden: hiddenOf((d) => d.enc, R), encDHidden: hiddenOf((d) => d.enc, R),
  decHidden: hiddenOf((d) => d.dec, R), decDHidden: hiddenOf((d) => d.dec, R),
  /** the examples [Bc, D] (labelled first) and the labelled examples' classes (as floats) */
  xc: per(Bc, D),
  /** the examples' nonzero lists for the classifier's first layer and the encoder's x part (2·Bc·(D + 1) floats), or 0 */
  xs: { floats: (d: Dims) => (d.sparse ? 2 * d.Bc * (D(d) + 1) : 0) }, labels: per(Bc, one), logits: per(Bc, C), dLogits: per(Bc, C),
  /** y of every encoder/decoder row [R, C] (one-hot or relaxed), the encoder's x part once per example [Bc, H₀] and its gradient */
  yIn: per(R, C), encA: per(Bc, (d) => d.enc[0].outDim), dEncA: per(Bc, (d) => d.enc[0].outDim),
  h: per(R, (d) => 2 * Z(d)), dh: per(R, (d) => 2 * Z(d)), eps: per(R, Z), z: per(R, Z),
  decIn: per(R, (d) => Z(d) + C(d)), out: per(R, D), dOut: per(R, D), dz: per(R, Z),
  logpx: per(R, one), kl: per(R, one), c: per(R, one),
  /** Gumbel-softmax of the unlabelled rows' y: noise, sample, relaxed sample, its gradient, KL [Bc·C] */
  g: per(Bc, C), y: per(Bc, C), ys: per(Bc, C), dys: per(Bc, C), klY: per(Bc, one),
  /** the unlabelled rows' part of a learned log-variance's gradient [D] */
  dLogvarU: per(one, D),
} satisfies SlotTable<Dims>;

export type M2Workspace = { Bc: number; R: number } & { [K in keyof typeof SLOTS]: (typeof SLOTS)[K] extends { count: unknown } ? number[] : number };

const dims = (p: M2Plan, threads: number, Bc: number, R: number, sparse = false): Dims =>
  ({ cls: p.cls, enc: p.enc, dec: p.dec, decLogvar: p.decLogvar, config: p.config, threads, Bc, R, sparse });

/** Int32 slots of an M2 plan's layout block. */
export function m2LayoutSlots(p: Omit<M2Plan, "pLayout" | "layoutSlots">, threads: number): number {
  return 2 + slotCount(SLOTS, dims(p as M2Plan, threads, 0, 0));
}

/**
 * Lays out a workspace for Bc examples and R rows with `alloc` (floats → byte pointer), with room
 * for the sparse first layers' lists when `sparse`; returns it and its layout block's contents.
 */
export function layOutM2Workspace(p: M2Plan, threads: number, Bc: number, R: number, sparse: boolean, alloc: (floats: number) => number):
  { ws: M2Workspace; layout: number[] } {
  const { ptrs, flat } = layOut(SLOTS, dims(p, threads, Bc, R, sparse), alloc);
  return { ws: { Bc, R, ...ptrs } as M2Workspace, layout: [Bc, R, ...flat] };
}

/** The workspace a layout block describes. */
export function readM2Layout(view: ArrayLike<number>, p: M2Plan, threads: number): M2Workspace {
  return { Bc: view[0], R: view[1], ...readBack(SLOTS, dims(p, threads, 0, 0), view, 2) } as M2Workspace;
}

export function isM2Plan(p: object): p is M2Plan {
  return (p as { program?: string }).program === "m2";
}
