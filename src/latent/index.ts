// The latent kinds by name (a plan's `latent.kind`). Adding a kind: its file in this folder and
// one line here.
import type { StaticPlan } from "../nn/plan.js";
import { checkKeys, checkOneOf, fail } from "../util/validate.js";
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

/**
 * The latent and flow options resolved by their kinds (each kind checks its own option), and
 * the latent width (a kind may set it, e.g. variables × categories).
 */
export function resolveLatent(fn: string, o: { latent?: unknown; flow?: unknown; latentDim?: unknown }, latentDim: number, arg = "options"):
  LatentOptions & { latentDim: number } {
  const withKey = (key: "latent" | "flow") => Object.entries(KINDS).filter(([, k]) => k.option.key === key);
  const lt = o.latent ?? "gaussian";
  const types = withKey("latent");
  const type = typeof lt === "string" ? lt : typeof lt === "object" && lt !== null ? (lt as { type?: unknown }).type : undefined;
  const found = types.find(([n]) => n === type);
  // (a string names only a kind without other keys)
  if (!found || (typeof lt === "string" && found[1].option.keys.length > 0)) fail(fn, `${arg}.latent`, types.map(([, k]) => k.option.form).join(" or "), lt);
  const [, kind] = found;
  if (typeof lt === "object") checkKeys(fn, `${arg}.latent`, lt, ["type", ...kind.option.keys]);
  const r = kind.option.resolve(fn, typeof lt === "object" ? lt as Record<string, unknown> : { type }, latentDim, o.latentDim !== undefined, arg);
  const latent = r.resolved as LatentOptions["latent"];
  let flow: LatentOptions["flow"] = null;
  if (o.flow !== undefined && o.flow !== null) {
    const flows = withKey("flow");
    const f = o.flow;
    const keys = [...new Set(flows.flatMap(([, k]) => k.option.keys))];
    const optional = (key: string) => (flows.every(([, k]) => k.option.keys.includes(key)) ? key : `${key}?`);
    if (typeof f !== "object") fail(fn, `${arg}.flow`, `{type: ${flows.map(([n]) => `'${n}'`).join(" | ")}, ${keys.map(optional).join(", ")}}`, f);
    checkKeys(fn, `${arg}.flow`, f, ["type", ...keys]);
    const name = checkOneOf(fn, `${arg}.flow.type`, (f as { type?: unknown }).type, flows.map(([n]) => n));
    if (latent.type !== "gaussian") fail(fn, `${arg}.flow`, `no flow with a ${latent.type} latent (flows transform a Gaussian q(z|x))`, f);
    flow = KINDS[name].option.resolve(fn, f as Record<string, unknown>, r.latentDim, true, arg).resolved as LatentOptions["flow"];
  }
  return { latent, flow, latentDim: r.latentDim };
}

/** The kind a model's options select: a flow's type, else the latent's type. */
export function kindFor(o: LatentOptions): { name: string; kind: LatentKind } {
  const name = o.flow ? o.flow.type : o.latent.type;
  return { name, kind: KINDS[name] };
}

export type { LatentKind, LatentModel, LatentOptions, LatentOption, Relaxation, RowArgs, BackwardArgs } from "./kind.js";
export type { Capability } from "./capability.js";
