// The programs a pool worker can run, chosen by the plan it was given: the VAE's step
// (engine/step.ts, a StaticPlan) or M2's (engine/m2-step.ts, an M2Plan). Each has its workspace's
// layout reader and its share of a command.
import type { Kernels } from "../../bindings/abi.js";
import { isM2Plan, readM2Layout, type M2Plan, type M2Workspace } from "./m2-plan.js";
import { runM2Share } from "./m2-step.js";
import type { StaticPlan } from "../nn/plan.js";
import type { Workspace } from "../nn/workspace.js";
import type { Ctrl } from "./ctrl.js";
import { runShare } from "./step.js";
import { readLayout } from "./workspace.js";

/** What a pool is started with: a plan with its layout block. */
export type EnginePlan = StaticPlan | M2Plan;
export type EngineWorkspace = Workspace | M2Workspace;

/** The workspace a plan's layout block describes. */
export function readAnyLayout(view: ArrayLike<number>, plan: EnginePlan, threads: number): EngineWorkspace {
  return isM2Plan(plan) ? readM2Layout(view, plan, threads) : readLayout(view, plan, threads);
}

/** Thread t of T runs its share of the command in the control block, for the plan's program. */
export function runProgramShare(k: Kernels, plan: EnginePlan, ws: EngineWorkspace, ctrl: Ctrl, t: number, T: number,
  memory: WebAssembly.Memory): void {
  if (isM2Plan(plan)) runM2Share(k, plan, ws as M2Workspace, ctrl, t, T, memory);
  else runShare(k, plan, ws as Workspace, ctrl, t, T);
}
