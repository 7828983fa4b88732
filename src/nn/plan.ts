// What never changes for a model, sent once to every thread: its sizes, its layers, its latent
// variable, its likelihood and where its parameter blocks live.
import type { NetLayer } from "./conv.js";
import type { ParamBlocks } from "./dense.js";

/** What every thread of any model's program reads: its parameter blocks, banks and workspace layout block. */
export interface PlanBlocks extends ParamBlocks {
  nParams: number;
  /** byte pointers of Adam's m and v */
  pM: number;
  pV: number;
  /**
   * bytes from bank 0 of the values, m and v to bank 1 (0: one bank, updated in place). With two,
   * a step reads one bank and Adam writes the other (atBank).
   */
  bankBytes: number;
  /** Int32 block of the workspace layout (engine/workspace.ts), re-read at every dispatch */
  pLayout: number;
  /** its size in Int32 slots */
  layoutSlots: number;
}

export interface StaticPlan extends PlanBlocks {
  D: number;
  /** decoder input width: the latent's dimension (a categorical latent's variables × categories) */
  Z: number;
  /** the encoder: its hidden layers (dense, convolutions, reshapes), then the (dense) head the latent kind reads */
  enc: NetLayer[];
  /** the decoder: its layers, the last one's output the likelihood's parameters [D] */
  dec: NetLayer[];
  /** the latent kind's own data (latent/index.ts LatentPlan; `kind` names it) */
  latent: { kind: string };
  likelihood: { type: "bernoulli" } | { type: "gaussian"; logVar: number };
  /** float offset of the learned per-output log-variance, or -1 */
  decLogvar: number;
  /** the widest dimension of any layer (or D): sizes the GEMM scratch */
  maxDim: number;
  /** the most patch rows per example of any convolution (1 without): its dW GEMM's inner dimension is rows × this */
  maxGrid: number;
}

const bank1 = new WeakMap<PlanBlocks, PlanBlocks>();

/**
 * The plan whose values, m and v pointers are those of bank `bank` (the plan itself for bank 0
 * or with one bank). A pool's model keeps two banks: a step reads the current one and Adam
 * writes the other, which becomes current only once every thread has finished, so a step that
 * fails half-way (a worker died) leaves the last step's parameters and moments whole.
 */
export function atBank<P extends PlanBlocks>(p: P, bank: number): P {
  if (bank === 0 || p.bankBytes === 0) return p;
  let q = bank1.get(p);
  if (!q) {
    q = { ...p, pParams: p.pParams + p.bankBytes, pM: p.pM + p.bankBytes, pV: p.pV + p.bankBytes };
    bank1.set(p, q);
  }
  return q as P;
}
