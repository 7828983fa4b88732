// A model's activations, as one table of named slots: the same table lays the workspace out in
// memory (the coordinating thread) and reads its pointers back (every worker), so the writer and
// the reader cannot drift apart. A slot is one region of floats, or a list of them (one per
// layer or thread); its size follows the model's dimensions and the capacity. The VAE's core
// slots are below (B examples, R = B·K rows); latent kinds add their own (latent/*.ts) after
// them, and M2 has a table of its own.
import { isConv, patchFloats, widthOf, type NetLayer } from "./conv.js";
import { scratchFloats } from "./dense.js";
import type { StaticPlan } from "./plan.js";

export interface SlotDims {
  p: StaticPlan;
  threads: number;
  /** capacity: examples and rows (examples × samples) */
  B: number;
  R: number;
  /** whether the sparse first layer can run (SIMD builds) */
  sparse: boolean;
}

/** One named region of a workspace whose sizes follow the dimensions D. */
export interface Slot<D = SlotDims> {
  /** floats of entry i (0: the slot is absent, its pointer 0) */
  floats: (d: D, i: number) => number;
  /** a list of regions: how many (never from the capacity, so that a reader without it counts the same) */
  count?: (d: D) => number;
}

export type SlotTable<D = SlotDims> = Record<string, Slot<D>>;

/** The pointers of a table's slots: a byte pointer per slot, a list for counted slots. */
export type Pointers<T extends SlotTable<never>> = { [K in keyof T]: T[K] extends { count: (...a: never[]) => number } ? number[] : number };

/** Lays out every slot in table order with `alloc` (floats → byte pointer); also returns the pointers flat, in that order. */
export function layOut<D>(table: SlotTable<D>, d: D, alloc: (floats: number) => number): { ptrs: Record<string, number | number[]>; flat: number[] } {
  const ptrs: Record<string, number | number[]> = {};
  const flat: number[] = [];
  const at = (floats: number) => (floats > 0 ? alloc(floats) : 0);
  for (const [name, s] of Object.entries(table)) {
    if (s.count) {
      const list = Array.from({ length: s.count(d) }, (_, i) => at(s.floats(d, i)));
      ptrs[name] = list;
      flat.push(...list);
    } else {
      const v = at(s.floats(d, 0));
      ptrs[name] = v;
      flat.push(v);
    }
  }
  return { ptrs, flat };
}

/** The pointers of a table read back from `flat` (as layOut wrote them), starting at `from`. */
export function readBack<D>(table: SlotTable<D>, d: D, flat: ArrayLike<number>, from = 0): Record<string, number | number[]> {
  const ptrs: Record<string, number | number[]> = {};
  let i = from;
  for (const [name, s] of Object.entries(table)) {
    if (s.count) {
      const n = s.count(d);
      ptrs[name] = Array.from({ length: n }, (_, j) => flat[i + j]);
      i += n;
    } else {
      ptrs[name] = flat[i++];
    }
  }
  return ptrs;
}

/** Number of pointers a table has for these dimensions. */
export function slotCount<D>(table: SlotTable<D>, d: D): number {
  return Object.values(table).reduce((n, s) => n + (s.count ? s.count(d) : 1), 0);
}

const head = (p: StaticPlan) => widthOf(p.enc[p.enc.length - 1]);
/** a convolution's patch rows (col) and patch gradients (dcol: conv only) for n examples; 0 for other layers */
const colFloats = (l: NetLayer, n: number) => (isConv(l) ? patchFloats(l, n) : 0);
const dcolFloats = (l: NetLayer, n: number) => (isConv(l) && l.kind === "conv" ? patchFloats(l, n) : 0);

/** Every model's slots: the input, the encoder, the latent sample, the decoder and the per-row quantities. */
export const CORE_SLOTS = {
  /** per-thread GEMM scratch (scratchFloats of the widest inner dimension) */
  scratch: { count: (d: SlotDims) => d.threads, floats: (d: SlotDims) => scratchFloats(Math.max(d.p.maxDim, d.R * d.p.maxGrid)) },
  /** the input rows [B, D] */
  x: { floats: (d: SlotDims) => d.B * d.p.D },
  /** outputs of the encoder's hidden layers [B, H_i], and their gradients */
  enc: { count: (d: SlotDims) => d.p.enc.length - 1, floats: (d: SlotDims, i: number) => d.B * widthOf(d.p.enc[i]) },
  dEnc: { count: (d: SlotDims) => d.p.enc.length - 1, floats: (d: SlotDims, i: number) => d.B * widthOf(d.p.enc[i]) },
  /** the encoder's and decoder's convolution patch slots, by layer (0 for other layers) */
  encCol: { count: (d: SlotDims) => d.p.enc.length, floats: (d: SlotDims, i: number) => colFloats(d.p.enc[i], d.B) },
  encDcol: { count: (d: SlotDims) => d.p.enc.length, floats: (d: SlotDims, i: number) => dcolFloats(d.p.enc[i], d.B) },
  decCol: { count: (d: SlotDims) => d.p.dec.length, floats: (d: SlotDims, i: number) => colFloats(d.p.dec[i], d.R) },
  decDcol: { count: (d: SlotDims) => d.p.dec.length, floats: (d: SlotDims, i: number) => dcolFloats(d.p.dec[i], d.R) },
  /** the latent head's output [B, width] (Gaussian: mu then logvar) and its gradient */
  h: { floats: (d: SlotDims) => d.B * head(d.p) },
  dh: { floats: (d: SlotDims) => d.B * head(d.p) },
  /** noise, the decoder's input z and its gradient [B, K, Z] (row b·K + k) */
  eps: { floats: (d: SlotDims) => d.R * d.p.Z },
  z: { floats: (d: SlotDims) => d.R * d.p.Z },
  dz: { floats: (d: SlotDims) => d.R * d.p.Z },
  /** outputs of the decoder's hidden layers [R, H_i], and their gradients */
  dec: { count: (d: SlotDims) => d.p.dec.length - 1, floats: (d: SlotDims, i: number) => d.R * widthOf(d.p.dec[i]) },
  dDec: { count: (d: SlotDims) => d.p.dec.length - 1, floats: (d: SlotDims, i: number) => d.R * widthOf(d.p.dec[i]) },
  /** the decoder's output [R, D] (Bernoulli: probabilities after the forward) and its gradient */
  out: { floats: (d: SlotDims) => d.R * d.p.D },
  dOut: { floats: (d: SlotDims) => d.R * d.p.D },
  /** per row: log p(x|z), log p(z), log q(z|x), log w; the estimator's weights c, r; w̃ */
  logpx: { floats: (d: SlotDims) => d.R },
  logpz: { floats: (d: SlotDims) => d.R },
  logqz: { floats: (d: SlotDims) => d.R },
  logw: { floats: (d: SlotDims) => d.R },
  c: { floats: (d: SlotDims) => d.R },
  r: { floats: (d: SlotDims) => d.R },
  wt: { floats: (d: SlotDims) => d.R },
  /** per example: the analytic KL, the IWAE bound */
  kl: { floats: (d: SlotDims) => d.B },
  bound: { floats: (d: SlotDims) => d.B },
  /** the input's nonzero lists for the sparse first layer (2·B·(D + 1) floats), or 0 */
  xs: { floats: (d: SlotDims) => (d.sparse ? 2 * d.B * (d.p.D + 1) : 0) },
} satisfies SlotTable;

/** Where the activations live for the current capacity: the core slots, and the latent kind's. */
export type Workspace = { B: number; R: number } & Pointers<typeof CORE_SLOTS> & Record<string, number | number[]>;

/**
 * Floats of workspace one row (an example with one sample) takes, the GEMM scratch of `threads`
 * threads included: sizes how many rows an evaluation pass may hold (a convolution's patch rows
 * make a row of a conv model ~15× a dense one's).
 */
export function floatsPerRow(p: StaticPlan, threads: number): number {
  const d: SlotDims = { p, threads, B: 1, R: 1, sparse: false };
  let n = 0;
  for (const [name, s] of Object.entries(CORE_SLOTS) as [string, Slot][]) {
    if (name === "scratch") continue;
    const count = s.count ? s.count(d) : 1;
    for (let i = 0; i < count; i++) n += s.floats(d, i);
  }
  return n + threads * scratchFloats(p.maxGrid);
}
