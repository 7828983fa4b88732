// What never changes for a model, sent once to every thread: its sizes, its layers, its latent
// variable, its likelihood and where its parameter blocks live.
import type { Layer, ParamBlocks } from "./dense.js";

export interface StaticPlan extends ParamBlocks {
  D: number;
  /** decoder input width: the latent's dimension (a categorical latent's variables × categories) */
  Z: number;
  /** the encoder: its hidden layers, then the head the latent kind reads */
  enc: Layer[];
  dec: Layer[];
  /** the latent kind's own data (latent/index.ts LatentPlan; `kind` names it) */
  latent: { kind: string };
  likelihood: { type: "bernoulli" } | { type: "gaussian"; logVar: number };
  /** float offset of the learned per-output log-variance, or -1 */
  decLogvar: number;
  /** the widest dimension of any layer (or D): sizes the GEMM scratch */
  maxDim: number;
  nParams: number;
  /** byte pointers of Adam's m and v */
  pM: number;
  pV: number;
  /** Int32 block of the workspace layout (engine/workspace.ts), re-read at every dispatch */
  pLayout: number;
  /** its size in Int32 slots */
  layoutSlots: number;
}
