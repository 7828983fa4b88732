// The workspace of a plan: the core slots (nn/workspace.ts) then its latent kind's, laid out
// by the coordinating thread and read back by every worker from the plan's layout block
// (B, R, then every pointer in table order).
import type { StaticPlan } from "../nn/plan.js";
import { CORE_SLOTS, layOut, readBack, slotCount, type SlotDims, type SlotTable, type Workspace } from "../nn/workspace.js";
import { kindOf } from "../latent/index.js";

function table(p: StaticPlan): SlotTable<SlotDims> {
  return { ...CORE_SLOTS, ...kindOf(p).slots };
}

/** Int32 slots of a plan's layout block. */
export function layoutSlots(p: StaticPlan, threads: number): number {
  return 2 + slotCount(table(p), { p, threads, B: 0, R: 0, sparse: false });
}

/** Lays out a workspace of B examples and R rows with `alloc` (floats → byte pointer); returns it and its layout block's contents. */
export function layOutWorkspace(p: StaticPlan, threads: number, B: number, R: number, sparse: boolean,
  alloc: (floats: number) => number): { ws: Workspace; layout: number[] } {
  const { ptrs, flat } = layOut(table(p), { p, threads, B, R, sparse }, alloc);
  return { ws: { B, R, ...ptrs } as Workspace, layout: [B, R, ...flat] };
}

/** The layout block of a plan as an Int32Array over `buffer`. */
export function layoutView(buffer: ArrayBufferLike, p: StaticPlan): Int32Array {
  return new Int32Array(buffer, p.pLayout, p.layoutSlots);
}

/** The workspace a layout block describes. */
export function readLayout(view: ArrayLike<number>, p: StaticPlan, threads: number): Workspace {
  return { B: view[0], R: view[1], ...readBack(table(p), { p, threads, B: 0, R: 0, sparse: false }, view, 2) } as Workspace;
}
