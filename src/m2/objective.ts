// The M2 objective (src/m2.ts has the model and its documentation) on the calling thread: its
// three networks' layout, its workspace and control block, and one step (`pass`) as three
// commands run here or shared with a worker pool (engine/m2-step.ts: forward rows, backward rows,
// weight gradients and Adam by outputs) around the part only this thread does: the objective,
// each row's weight c and the classifier's logit gradient, a few numbers per example in f64.
// The encoder and decoder see [x, onehot(y)] and [z, onehot(y)] (nn.Linear over the
// concatenation, as in Kingma et al.'s and Pyro's implementations); an unlabelled example becomes
// C rows r = Bl + u·C + y whose x part the encoder computes once (nn/dense.ts partForward…).
import { ACT, type Kernels } from "../../bindings/abi.js";
import type { Arena } from "../../bindings/arena.js";
import { ensureMemory, type Runtime } from "../../bindings/load.js";
import { CMD, CTRL, CTRL_BYTES, CTRL_F64, ctrlViews, type Ctrl } from "../engine/ctrl.js";
import { intactModelError, Pool, WorkerLostError, type PoolOptions } from "../engine/pool.js";
import { flushSubnormal } from "../estimators/index.js";
import type { Parameters } from "../model/params.js";
import type { AdamStep } from "../model/runner.js";
import { learnedLogvar } from "../model/config.js";
import type { Layer } from "../nn/dense.js";
import type { ParamLayout } from "../nn/layout.js";
import { mlpForward } from "../nn/mlp.js";
import { layOutM2Workspace, m2LayoutSlots, type M2Plan, type M2Workspace, type Nets, type SemiSupervisedConfig } from "../engine/m2-plan.js";
import { DRAW, rowOf, runM2Share, type StepShape } from "../engine/m2-step.js";

export type { Nets, SemiSupervisedConfig };
export type Workspace = M2Workspace;

/** below this many FLOPs a step's command stays on the calling thread (waking the workers costs ~20–40 µs) */
const SMALL_WORK_FLOPS = 2e6;

/**
 * Lays out the classifier (D → hidden → C), the encoder ([x, y] → hidden → mu, logvar) and the
 * decoder ([z, y] → hidden reversed → D), each output layer exposed as nn.Linear-style tensors
 * per head (its rows are contiguous); a Gaussian decoder's learned log-variance after them.
 */
export function layOutNets(L: ParamLayout, config: SemiSupervisedConfig): Nets {
  const { inputDim: D, classes: C, latentDim: Z, hidden } = config;
  const act = ACT[config.activation];
  const net = (name: string, inDim: number, sizes: number[], outDim: number, heads: [string, number][]): Layer[] => {
    const layers: Layer[] = [];
    let prev = inDim;
    sizes.forEach((h, i) => {
      layers.push(L.dense(prev, h, act));
      L.linear(`${name}.hidden.${i}`, layers[i]);
      prev = h;
    });
    const out = L.dense(prev, outDim, ACT.identity);
    let row = 0;
    for (const [head, rows] of heads) {
      L.linear(`${name}.${head}`, out, row, rows);
      row += rows;
    }
    return [...layers, out];
  };
  const cls = net("classifier", D, hidden, C, [["logits", C]]);
  const enc = net("encoder", D + C, hidden, 2 * Z, [["mu", Z], ["logvar", Z]]);
  const dec = net("decoder", Z + C, [...hidden].reverse(), D, [["out", D]]);
  return { cls, enc, dec, decLogvar: learnedLogvar(L, config.likelihood, D) };
}

/** One step's loss and gradients (and the forward passes the model's other methods use) over the model's memory. */
export class M2Objective {
  private ws: Workspace | null = null;
  readonly plan: M2Plan;
  readonly pCtrl: number;
  private ctrl: Ctrl;
  private readonly paramsEnd: number;
  /** FLOPs of one encoder/decoder row and one classifier row (forward) */
  private readonly rowFlops: number;
  private readonly clsFlops: number;
  pool: Pool | null = null;
  /** the public method running now: errors from the pool name it */
  caller = "SemiSupervisedVAE";

  constructor(private readonly rt: Runtime, private readonly arena: Arena, readonly params: Parameters, readonly nets: Nets,
    readonly config: SemiSupervisedConfig, readonly threads = 1) {
    this.pCtrl = arena.floats(CTRL_BYTES / 4);
    const { pParams, pGrads, pPacked, pMask, pM, pV } = params.base;
    const base = { program: "m2" as const, ...nets, config, nParams: params.n, pParams, pGrads, pPacked, pMask, pM, pV, bankBytes: params.bankBytes };
    const slots = m2LayoutSlots(base, threads);
    this.plan = { ...base, pLayout: arena.floats(slots), layoutSlots: slots };
    this.paramsEnd = arena.end;
    ensureMemory(rt, this.paramsEnd);
    this.ctrl = ctrlViews(rt.memory.buffer, this.pCtrl);
    const flops = (ls: Layer[]) => 2 * ls.reduce((a, l) => a + l.inDim * l.outDim, 0);
    this.rowFlops = flops(nets.enc) + flops(nets.dec);
    this.clsFlops = flops(nets.cls);
  }

  get k(): Kernels {
    return this.rt.k;
  }

  f32(p: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, p, n);
  }

  /** Starts the worker pool (threads > 1). */
  async startPool(opts: PoolOptions = {}): Promise<void> {
    this.pool?.dispose();
    this.pool = null;
    this.pool = await Pool.start(this.rt.module, this.rt.memory, this.plan, this.pCtrl, this.ctrl, this.threads, opts);
  }

  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
  }

  /** Activations for up to Bl labelled and Bu unlabelled examples (re-laid when outgrown). */
  workspace(Bl: number, Bu: number): Workspace {
    const Bc = Bl + Bu, R = Bl + Bu * this.config.classes;
    if (this.ws && this.ws.Bc >= Bc && this.ws.R >= R) return this.ws;
    this.arena.reset(this.paramsEnd);
    const { ws, layout } = layOutM2Workspace(this.plan, this.threads, Bc, R, this.k.simdLevel() > 0, (n) => this.arena.floats(n));
    ensureMemory(this.rt, this.arena.end);
    this.ctrl = ctrlViews(this.rt.memory.buffer, this.pCtrl);
    new Int32Array(this.rt.memory.buffer, this.plan.pLayout, this.plan.layoutSlots).set(layout);
    this.ws = ws;
    return ws;
  }

  /** The classifier's logits for the B rows in ws.xc (into ws.logits). */
  classify(ws: Workspace, B: number): void {
    mlpForward(this.k, this.params.blocks, this.nets.cls, ws.xc, ws.clsHidden, ws.logits, 0, B, ws.scratch[0]);
  }

  /** The decoder's outputs (logits) for n rows [z, y] in ws.decIn (into ws.out). */
  decode(ws: Workspace, n: number): void {
    mlpForward(this.k, this.params.blocks, this.nets.dec, ws.decIn, ws.decHidden, ws.out, 0, n, ws.scratch[0]);
  }

  /** Rows of [v, onehot(y)] into dst ([rows, width + C]). */
  concatOneHot(dst: number, src: Float32Array, width: number, rowOf: (r: number) => number, labelOf: (r: number) => number, rows: number): void {
    const C = this.config.classes, W = width + C;
    const d = this.f32(dst, rows * W);
    d.fill(0);
    for (let r = 0; r < rows; r++) {
      const s = rowOf(r);
      d.set(src.subarray(s * width, (s + 1) * width), r * W);
      d[r * W + width + labelOf(r)] = 1;
    }
  }

  /** Runs one command (its arguments in the control block) here, or shared with the pool. */
  private dispatch(ws: Workspace, cmd: number, flops: number): void {
    const i = this.ctrl.i;
    i[CTRL.cmd] = cmd;
    i[CTRL.bank] = this.params.bank;
    const memory = this.rt.memory;
    if (this.pool && flops >= SMALL_WORK_FLOPS) {
      try {
        this.pool.run((t, T) => runM2Share(this.k, this.plan, ws, this.ctrl, t, T, memory), this.threads);
      } catch (e) {
        if (e instanceof WorkerLostError) this.lost(e, cmd);
        throw e;
      }
    } else {
      runM2Share(this.k, this.plan, ws, this.ctrl, 0, 1, memory);
    }
    // a whole Adam update: its bank becomes current
    if (cmd === CMD.m2Weights && i[CTRL.adam]) this.params.flip();
  }

  /** The pool lost a worker during command `cmd`: go on without the pool, the model intact; throws. */
  private lost(e: WorkerLostError, cmd: number): never {
    this.pool = null;
    const updating = cmd === CMD.m2Weights && this.ctrl.i[CTRL.adam] !== 0;
    if (updating) this.params.repack();
    throw intactModelError(this.caller, e, "its last finished step", updating);
  }

  /**
   * One step over the examples in ws.xc (Bl labelled, whose classes are `labels`, then Bu
   * unlabelled): the loss −(mean_u U + λ·mean_l [L + α·log q(y|x)]), every parameter's gradient,
   * and with `adam` the update. Noise is drawn at (seed, step) unless `eps` / `gumbel` give it;
   * `binarize` binarizes x first (dynamic binarization); `beta` weighs z's KL term in every bound
   * (default 1).
   */
  pass(ws: Workspace, labels: ArrayLike<number>, Bl: number, Bu: number, alpha: number, lw: number, step: number,
    o: { eps?: Float32Array; tau?: number; gumbel?: Float32Array; binarize?: boolean; adam?: AdamStep | null; beta?: number } = {}):
    { loss: number; unlabelled: number; correct: number } {
    const { classes: C, latentDim: Z } = this.config;
    const tau = o.tau ?? 0, beta = o.beta ?? 1;
    const E = tau ? 1 : C; // rows per unlabelled example: C classes enumerated, or one relaxed sample
    const s: StepShape = { Bl, Bu, E, tau, beta };
    const Bc = Bl + Bu, R = rowOf(s, Bc);
    const i = this.ctrl.i, f = this.ctrl.f;
    this.f32(ws.labels, Bl).set(labels);
    if (o.eps) this.f32(ws.eps, R * Z).set(o.eps);
    if (o.gumbel) this.f32(ws.g, Bu * C).set(o.gumbel);
    i[CTRL.B] = R; i[CTRL.K] = 1; // (split by rows: see engine/m2-step.ts)
    i[CTRL.m2Bl] = Bl; i[CTRL.m2Bu] = Bu; i[CTRL.m2E] = E;
    f[CTRL_F64.tau] = tau;
    f[CTRL_F64.klScale] = beta;
    i[CTRL.step] = step;
    i[CTRL.binarize] = o.binarize ? 1 : 0;
    i[CTRL.drawEps] = (o.eps ? 0 : DRAW.eps) | (o.gumbel ? 0 : DRAW.gumbel);
    const flops = R * this.rowFlops + Bc * this.clsFlops;
    this.dispatch(ws, CMD.m2Forward, flops);
    const r = this.rowWeights(ws, labels, s, alpha, lw);
    if (!Number.isFinite(r.loss)) return r;
    this.dispatch(ws, CMD.m2Backward, 2 * flops);
    const a = o.adam;
    i[CTRL.adam] = a ? 1 : 0;
    if (a) {
      f[CTRL_F64.stepSize] = a.lr / (1 - a.beta1 ** a.t);
      f[CTRL_F64.beta1] = a.beta1;
      f[CTRL_F64.beta2] = a.beta2;
      f[CTRL_F64.eps] = a.adamEps;
      f[CTRL_F64.invSqrtBc2] = 1 / Math.sqrt(1 - a.beta2 ** a.t);
      f[CTRL_F64.weightDecay] = a.weightDecay;
    }
    this.dispatch(ws, CMD.m2Weights, flops);
    return r;
  }

  /**
   * After the forward: the objective, each row's weight c (the decoder's rows are weighted by
   * c_r in the backward) and the classifier's logit gradient, in f64.
   */
  private rowWeights(ws: Workspace, labels: ArrayLike<number>, s: StepShape, alpha: number, lw: number):
    { loss: number; unlabelled: number; correct: number } {
    const C = this.config.classes;
    const { Bl, Bu, tau, beta } = s;
    const Bc = Bl + Bu, R = rowOf(s, Bc);
    const logits = this.f32(ws.logits, Bc * C), dLogits = this.f32(ws.dLogits, Bc * C);
    const logpx = this.f32(ws.logpx, R), kl = this.f32(ws.kl, R), c = this.f32(ws.c, R);
    const logPy = -Math.log(C);
    const logq = new Float64Array(C), q = new Float64Array(C), g = new Float64Array(C);
    const softmax = (b: number) => {
      let m = -Infinity;
      for (let y = 0; y < C; y++) m = Math.max(m, logits[b * C + y]);
      let sum = 0;
      for (let y = 0; y < C; y++) sum += Math.exp(logits[b * C + y] - m);
      const lse = m + Math.log(sum);
      for (let y = 0; y < C; y++) {
        logq[y] = logits[b * C + y] - lse;
        q[y] = Math.exp(logq[y]);
      }
    };
    let labelled = 0, unlabelled = 0, correct = 0;
    for (let b = 0; b < Bl; b++) {
      softmax(b);
      const y = labels[b];
      labelled += logpx[b] - beta * kl[b] + logPy + alpha * logq[y];
      c[b] = lw / Bl;
      let arg = 0;
      for (let j = 0; j < C; j++) {
        dLogits[b * C + j] = -((lw * alpha) / Bl) * ((j === y ? 1 : 0) - q[j]);
        if (q[j] > q[arg]) arg = j;
      }
      if (arg === y) correct++;
    }
    const klY = this.f32(ws.klY, Bu);
    for (let u = 0; u < Bu && tau; u++) {
      // one relaxed sample: U ≈ log p(x|y_soft, z) − KL_z − KL(q(y|x) ‖ uniform); the classifier's
      // gradient comes from categoricalBackward in the backward rows
      const r = Bl + u;
      unlabelled += logpx[r] - beta * kl[r] - klY[u];
      c[r] = 1 / Bu;
    }
    for (let u = 0; u < Bu && !tau; u++) {
      const b = Bl + u;
      softmax(b);
      let U = 0;
      for (let y = 0; y < C; y++) {
        const r = Bl + u * C + y;
        g[y] = logpx[r] - beta * kl[r] + logPy - logq[y]; // L(x, y) − log q(y|x)
        U += q[y] * g[y];
        c[r] = q[y] / Bu;
      }
      unlabelled += U;
      // ∂U/∂logit_j = q_j·(g_j − U)  (softmax; the −1 of ∂H/∂q cancels since Σ_j ∂q_j = 0)
      for (let j = 0; j < C; j++) dLogits[b * C + j] = -(q[j] * (g[j] - U)) / Bu;
    }
    const loss = -((Bl ? (lw * labelled) / Bl : 0) + (Bu ? unlabelled / Bu : 0));
    flushSubnormal(c, R); // q(y|x) of a confident classifier reaches 1e-40 (estimators/estimator.ts)
    return { loss, unlabelled: -unlabelled / Math.max(Bu, 1), correct };
  }
}
