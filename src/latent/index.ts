// The latent kinds by name (a plan's `latent.kind`). Adding a kind: its file in this folder and
// one line here.
import type { StaticPlan } from "../nn/plan.js";
import { planar, radial } from "./amortized.js";
import { categorical } from "./categorical.js";
import { gaussian } from "./gaussian.js";
import { iaf } from "./iaf.js";
import type { LatentKind, LatentOptions } from "./kind.js";

const KINDS: Record<string, LatentKind> = {
  gaussian,
  categorical,
  planar,
  radial,
  iaf,
};

/** The kind of a plan's latent variable. */
export function kindOf(p: StaticPlan): LatentKind {
  const kind = KINDS[p.latent.kind];
  if (!kind) throw new Error(`vae-wasm: unknown latent kind '${p.latent.kind}'`);
  return kind;
}

/** The kind a model's options select: a flow's type, else the latent's type. */
export function kindFor(o: LatentOptions): { name: string; kind: LatentKind } {
  const name = o.flow ? o.flow.type : o.latent.type;
  return { name, kind: KINDS[name] };
}

export type { LatentKind, LatentModel, LatentOptions, Relaxation, RowArgs, BackwardArgs } from "./kind.js";
export type { Capability } from "./capability.js";
