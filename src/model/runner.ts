// The coordinating side of the engine for one model: its control block, its workspace, the
// pool of workers, and the commands of a step (forward, backward, weights) written into the
// control block and run on the calling thread or shared with the workers. The estimator's part
// of every command comes from estimators/index.ts stepFields.
//
// Losing a worker: the pool throws a WorkerLostError and is gone. The model is intact: Adam
// wrote the parameters' other bank (model/params.ts), which becomes current only after a whole
// weight update, so the current bank holds the last finished step; the forward panels, which
// the interrupted update may have half re-packed, are re-packed from it. The runner then goes on
// on the calling thread alone (a later startPool makes a new pool) and rethrows the error with
// the caller's name and the model's state.
import { STREAM, type Kernels } from "../../bindings/abi.js";
import type { Arena } from "../../bindings/arena.js";
import { ensureMemory, type Runtime } from "../../bindings/load.js";
import { CMD, CTRL, CTRL_BYTES, CTRL_F64, ctrlViews, FUSE, type Ctrl } from "../engine/ctrl.js";
import { intactModelError, Pool, WorkerLostError, type PoolOptions } from "../engine/pool.js";
import { runShare } from "../engine/step.js";
import { layOutWorkspace, layoutSlots, layoutView } from "../engine/workspace.js";
import { flushSubnormal, stepFields, type Estimator } from "../estimators/index.js";
import { atBank, type StaticPlan } from "../nn/plan.js";
import type { Workspace } from "../nn/workspace.js";
import type { Matrix } from "../util/validate.js";
import type { Parameters } from "./params.js";

/** below this many FLOPs a forward or backward pass stays on the calling thread */
const SMALL_WORK_FLOPS = 2e6;

/** Options of one forward command. */
export interface ForwardOptions {
  /** draw eps at (seed, stream, step) (else it is already in ws.eps) */
  drawEps: boolean;
  seed?: number;
  epsStream?: number;
  step?: number;
  /** the first example's index (noise is keyed by example index) */
  rowOffset?: number;
  binarize?: boolean;
  binStream?: number;
  threads?: number;
  /** Gumbel-softmax temperature and straight-through */
  tau?: number;
  hard?: boolean;
  /** run the backward rows in the same dispatch (a training step whose row weights are row-local) */
  fuse?: number;
  /** free bits λ of the analytic KL, for this forward and the backward after it (default 0: none) */
  freeBits?: number;
}

/** Adam's arguments for one step. */
export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  adamEps: number;
  weightDecay: number;
  /** the step number t (1 for the first update) */
  t: number;
}

export class Runner {
  readonly plan: StaticPlan;
  readonly pCtrl: number;
  private ctrl: Ctrl;
  private readonly paramsEnd: number;
  /** multiply-adds of one decoder row's forward, times 2 (a proxy for a step's cost per row) */
  private readonly flopsPerRow: number;
  pool: Pool | null = null;
  private ws: Workspace | null = null;
  /** the public method running now (model.checkAlive sets it): errors from the pool name it */
  caller = "vae-wasm";
  /** the model's state in words, for the message of a lost worker */
  describeState: () => string = () => "its last finished step";
  /**
   * @internal bench/phases.ts: called after every command with its wall time on the calling
   * thread and, when it ran on the pool, each thread's busy time and start after the dispatch (ms)
   */
  profile: ((cmd: number, wallMs: number, busy: number[], late: number[]) => void) | null = null;

  /** Reserves the control block and the layout block after the parameters; `plan` lacks only the latter. */
  constructor(readonly rt: Runtime, readonly arena: Arena, plan: Omit<StaticPlan, "pLayout" | "layoutSlots">, readonly threads: number,
    flopsPerRow: number, private readonly params: Parameters) {
    this.pCtrl = arena.floats(CTRL_BYTES / 4);
    const slots = layoutSlots({ ...plan, pLayout: 0, layoutSlots: 0 }, threads);
    this.plan = { ...plan, pLayout: arena.floats(slots), layoutSlots: slots };
    this.paramsEnd = arena.end;
    ensureMemory(rt, this.paramsEnd);
    this.ctrl = ctrlViews(rt.memory.buffer, this.pCtrl);
    this.flopsPerRow = flopsPerRow;
  }

  get k(): Kernels {
    return this.rt.k;
  }

  /** Starts the worker pool (threads > 1). */
  async startPool(opts: PoolOptions = {}): Promise<void> {
    this.pool?.dispose();
    this.pool = null;
    this.pool = await Pool.start(this.rt.module, this.rt.memory, this.plan, this.pCtrl, this.ctrl, this.threads, opts);
  }

  /** The plan with the current parameter bank's pointers (for kernels run directly on this thread). */
  get livePlan(): StaticPlan {
    return atBank(this.plan, this.params.bank);
  }

  /** Lays out activations for up to B examples × K samples (re-lays only when outgrown). */
  workspace(B: number, K: number): Workspace {
    const R = B * K;
    if (this.ws && this.ws.B >= B && this.ws.R >= R) return this.ws;
    const Bc = Math.max(B, this.ws?.B ?? 0);
    const Rc = Math.max(R, this.ws?.R ?? 0);
    this.arena.reset(this.paramsEnd);
    // the sparse first layer needs SIMD (gemmSparseA); the scalar build always runs it dense
    const { ws, layout } = layOutWorkspace(this.plan, this.threads, Bc, Rc, this.k.simdLevel() > 0, (n) => this.arena.floats(n));
    this.grow(this.arena.end);
    layoutView(this.rt.memory.buffer, this.plan).set(layout);
    this.ws = ws;
    return ws;
  }

  /**
   * Grows the memory to `bytes`. Growing a non-shared memory detaches its old ArrayBuffer, so
   * the control-block views are re-made here, the one place memory grows after layout.
   */
  grow(bytes: number): void {
    ensureMemory(this.rt, bytes);
    this.ctrl = ctrlViews(this.rt.memory.buffer, this.pCtrl);
  }

  f32(bytePtr: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, bytePtr, n);
  }

  /** The control block's Int32 slots (for commands written by hand: encode, sample). */
  get ints(): Int32Array {
    return this.ctrl.i;
  }

  /**
   * Runs one engine command (arguments already in the control block): inline on one thread, or
   * shared with the pool's workers. The arithmetic is the same either way.
   */
  dispatch(ws: Workspace, cmd: number, threads = this.threads): void {
    const i = this.ctrl.i;
    // Work too small to pay for waking the workers (~20–40 µs a round trip) runs inline; the
    // split never changes the numbers.
    if (threads > 1) {
      const rows = i[CTRL.B] * (cmd === CMD.encode ? 1 : Math.max(1, i[CTRL.K]));
      if (rows * this.flopsPerRow < SMALL_WORK_FLOPS) threads = 1;
    }
    i[CTRL.cmd] = cmd;
    i[CTRL.bank] = this.params.bank;
    const t0 = this.profile ? performance.now() : 0;
    if (this.pool && threads > 1) {
      try {
        this.pool.run((t, T) => runShare(this.k, this.plan, ws, this.ctrl, t, T), threads); // (writes the active count)
      } catch (e) {
        if (e instanceof WorkerLostError) this.lost(e, cmd);
        throw e;
      }
    } else {
      runShare(this.k, this.plan, ws, this.ctrl, 0, 1);
    }
    if (this.profile) {
      const T = this.pool && threads > 1 ? threads : 1, c = this.ctrl, wall = performance.now() - t0;
      const start = performance.timeOrigin + t0;
      this.profile(cmd, wall, T === 1 ? [wall] : Array.from(c.busy.subarray(0, T)), Array.from({ length: T }, (_, t) => (t === 0 ? 0 : c.start[t] - start)));
    }
    // a whole Adam update: its bank becomes current
    if (cmd === CMD.weights && i[CTRL.adam]) this.params.flip();
  }

  /** The pool lost a worker during command `cmd`: go on without the pool, the model intact; throws. */
  private lost(e: WorkerLostError, cmd: number): never {
    this.pool = null;
    const updating = cmd === CMD.weights && this.ctrl.i[CTRL.adam] !== 0;
    if (updating) this.params.repack();
    throw intactModelError(this.caller, e, this.describeState(), updating);
  }

  /** Forward over B examples in ws.x with K samples; eps drawn at (seed, stream, step) unless drawEps is false. */
  forward(ws: Workspace, B: number, K: number, est: Estimator, o: ForwardOptions & { seed: number }): void {
    const i = this.ctrl.i;
    const f = stepFields(est);
    i[CTRL.fuse] = o.fuse ?? FUSE.none;
    this.ctrl.f[CTRL_F64.tau] = o.tau ?? 1;
    this.ctrl.f[CTRL_F64.freeBits] = o.freeBits ?? 0;
    i[CTRL.hard] = o.hard ? 1 : 0;
    i[CTRL.B] = B; i[CTRL.K] = K;
    i[CTRL.needKL] = f.needKL;
    i[CTRL.iw] = f.iw;
    i[CTRL.drawEps] = o.drawEps ? 1 : 0;
    i[CTRL.seed] = o.seed;
    i[CTRL.epsStream] = o.epsStream ?? STREAM.eps;
    i[CTRL.step] = o.step ?? 0;
    i[CTRL.rowOffset] = o.rowOffset ?? 0;
    i[CTRL.k0] = 0;
    i[CTRL.binarize] = o.binarize ? 1 : 0;
    i[CTRL.binStream] = o.binStream ?? STREAM.binarize;
    this.dispatch(ws, CMD.forward, o.threads);
  }

  /**
   * The backward's arguments: the estimator's gradient mode and factor, the KL's weight, and
   * Adam's (with `adam`) for the weight phase.
   */
  backwardArgs(B: number, K: number, est: Estimator, adam: AdamStep | null, beta = 1): void {
    const i = this.ctrl.i;
    const f = stepFields(est);
    i[CTRL.B] = B; i[CTRL.K] = K;
    i[CTRL.gradMode] = f.gradMode;
    i[CTRL.useR] = f.useR;
    i[CTRL.adam] = adam ? 1 : 0;
    // the analytic KL's weight per example, or β on the Monte Carlo estimators' log p(z) − log q(z|x)
    this.ctrl.f[CTRL_F64.klScale] = est.analyticKL ? beta / B : beta;
    if (adam) {
      const c = this.ctrl.f;
      c[CTRL_F64.stepSize] = adam.lr / (1 - Math.pow(adam.beta1, adam.t));
      c[CTRL_F64.invSqrtBc2] = 1 / Math.sqrt(1 - Math.pow(adam.beta2, adam.t));
      c[CTRL_F64.beta1] = adam.beta1; c[CTRL_F64.beta2] = adam.beta2; c[CTRL_F64.eps] = adam.adamEps; c[CTRL_F64.weightDecay] = adam.weightDecay;
    }
  }

  /**
   * Backward for the weights the estimator wrote (arguments from backwardArgs): the row-wise
   * chain (unless a fused forward ran it), then every parameter gradient (and Adam's update).
   */
  backward(ws: Workspace, threads?: number, rowsDone = false): void {
    if (!rowsDone) this.dispatch(ws, CMD.backward, threads);
    this.dispatch(ws, CMD.weights, threads);
  }

  /** The estimator's view of one step's rows; its subnormal row weights then flushed to 0 (flushSubnormal). */
  weigh(ws: Workspace, B: number, K: number, est: Estimator, beta = 1): number {
    const R = K * B;
    const c = this.f32(ws.c, R), r = this.f32(ws.r, R);
    const objective = est.weigh({
      K, B, beta,
      logpx: this.f32(ws.logpx, R), logw: this.f32(ws.logw, R), kl: this.f32(ws.kl, B),
      wt: this.f32(ws.wt, R), bound: this.f32(ws.bound, B),
      c, r,
    });
    flushSubnormal(c, R);
    if (est.usesEncoderFactor) flushSubnormal(r, R);
    return objective;
  }

  /** Copies rows of `m` (by index list or a contiguous range) into ws.x. */
  loadBatch(ws: Workspace, m: Matrix, idx: ArrayLike<number> | null, start: number, B: number): void {
    const D = this.plan.D;
    const x = this.f32(ws.x, B * D);
    if (idx) {
      for (let b = 0; b < B; b++) {
        const i = idx[start + b];
        x.set(m.data.subarray(i * D, (i + 1) * D), b * D);
      }
    } else {
      x.set(m.data.subarray(start * D, (start + B) * D));
    }
  }

  /** Stops the workers and forgets the workspace. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
    this.ws = null;
  }
}
