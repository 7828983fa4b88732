// The thread pool: T - 1 workers plus the calling thread over one shared WebAssembly.Memory.
// The module is compiled once and posted to a supervisor thread (engine/supervise.ts), which
// starts the workers and watches them. A command is dispatched by writing it into the control
// block, bumping the generation and Atomics.notify; the caller runs share 0 itself, then
// Atomics.wait-s for the others. Waking a thread that sleeps in Atomics.wait takes ~0.1 ms on the
// 2-core VMs measured (vs ~0.03 ms when it just went to sleep), a lot next to a 1–2 ms phase, so
// each side first polls for at most `spinMs` (default 0.2 ms) and then sleeps: a short bounded
// poll while a step is in flight, never a long spin (spin loops collapse on a loaded machine).
//
// Failures: a worker that throws reports the error in the control block and acknowledges, so the
// caller wakes and rethrows it (the pool goes on). A worker that dies — terminated, exited, an
// uncaught error, out of memory — cannot acknowledge: the supervisor records the death in the
// control block and wakes the caller, whose wait is cut into slices of WAIT_SLICE_MS that check
// that record and the supervisor's heartbeat; the run then throws a WorkerLostError and the pool
// stops for good (the model goes on without it: model/runner.ts). A worker alive but silent for
// `timeoutMs` also stops the pool.
// Each command's split between the threads (the cuts in the control block) comes from the
// balancer (engine/balance.ts), fed with each thread's start time and busy time of the last run.
import { isNode } from "../../bindings/load.js";
import type { EnginePlan } from "./programs.js";
import { Balancer, evenSplit, share } from "./balance.js";
import { CMD, CTRL, CTRL_F64, readText, WEIGHT_CMDS, type Ctrl } from "./ctrl.js";
import { HEARTBEAT_MS, type FromSupervisor, type SupervisorInit, type ToSupervisor } from "./supervise.js";

interface AnyWorker {
  postMessage(m: ToSupervisor): void;
  terminate(): unknown;
}

/** How long a waiting caller sleeps between checks that every worker is alive. */
export const WAIT_SLICE_MS = 50;
/** How long, after a worker died mid-command, the caller waits for the others to finish their share. */
export const QUIESCE_MS = 2500;
/** A supervisor whose heartbeat is older than this is taken for dead (it beats every HEARTBEAT_MS). */
export const SUPERVISOR_SILENCE_MS = 30 * HEARTBEAT_MS;

/** A pool worker died (or the pool's supervisor stopped): the pool is gone; what ran on it did not finish. */
export class WorkerLostError extends Error {
  constructor(message: string, readonly worker: number, readonly during: string) {
    super(message);
    this.name = "WorkerLostError";
  }
}

const COMMAND_NAMES: Record<number, string> = {
  [CMD.forward]: "forward", [CMD.backward]: "backward", [CMD.weights]: "weight-update", [CMD.encode]: "encode", [CMD.sample]: "sample",
  [CMD.m2Forward]: "forward (M2)", [CMD.m2Backward]: "backward (M2)", [CMD.m2Weights]: "weight-update (M2)",
};

/**
 * The error a model throws when its pool lost a worker during a call of `caller`: what happened,
 * that the model is intact (`state`: what it holds), and how it goes on.
 */
export function intactModelError(caller: string, e: WorkerLostError, state: string, updating: boolean): WorkerLostError {
  return new WorkerLostError(
    `${caller}: ${e.message}. The model is intact: it holds ${state}${updating ? " (the update in progress was not applied)" : ""}, ` +
    "and runs on this thread alone until a new pool is started (fit() starts one; so does creating or loading the model again)", e.worker, e.during);
}

export interface PoolOptions {
  /** how long to wait for the workers of one command before giving up (default 120 s) */
  timeoutMs?: number;
  /** how long a waiting thread polls before it sleeps, in ms (default 0.2; 0 = always sleep) */
  spinMs?: number;
  /** split each command by the threads' measured speed (engine/balance.ts; default true) or evenly */
  balance?: boolean;
  /** @internal the balancer measures and re-splits one command in this many of each shape (default REBALANCE_EVERY) */
  rebalanceEvery?: number;
  /** @internal the worker script (tests run workers that can be made to fail); default ./worker.js */
  workerUrl?: URL;
  /** @internal worker_threads resource limits of each worker (Node; tests run one out of memory) */
  resourceLimits?: SupervisorInit["resourceLimits"];
}

const DEFAULT_SPIN_MS = 0.2;
/** The balancer measures and re-splits one command in this many of each shape. */
const REBALANCE_EVERY = 8;
/** The weight phase's cuts move in steps of 1/WEIGHT_STEPS of every layer. */
const WEIGHT_STEPS = 64;

export class Pool {
  private disposed = false;
  /** set when the pool stopped for good (a worker died): every later run throws it */
  private broken: WorkerLostError | null = null;
  /** commands run on the workers so far (tests check work really went to the pool) */
  runs = 0;
  /** @internal tests: the cuts of every command instead of the balancer's (model/internals.ts setCuts) */
  cutsOverride: ((cmd: number, T: number) => number[]) | null = null;
  private readonly balancer: Balancer | null;
  /** per command: the shape it last ran with, its split, and the runs since the balancer chose it */
  private readonly lastSplit = new Map<number, { B: number; K: number; active: number; cuts: number[]; runs: number }>();
  private constructor(
    readonly threads: number,
    private readonly supervisor: AnyWorker,
    private readonly ctrl: Ctrl,
    private readonly timeoutMs: number,
    private readonly spinMs: number,
    balance: boolean,
    private readonly rebalanceEvery: number,
  ) {
    this.balancer = balance ? new Balancer() : null;
  }

  /** Starts the supervisor and, through it, threads - 1 workers; resolves when each has instantiated the module. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, plan: EnginePlan, pCtrl: number, ctrl: Ctrl,
    threads: number, opts: PoolOptions = {}): Promise<Pool> {
    const spinMs = opts.spinMs ?? DEFAULT_SPIN_MS;
    // first a new pool id (a worker of an earlier pool that still runs reads it after the command, and leaves)
    const id = Atomics.add(ctrl.i, CTRL.pool, 1) + 1;
    Atomics.store(ctrl.i, CTRL.cmd, 0);
    Atomics.store(ctrl.i, CTRL.dead, 0);
    ctrl.leave.fill(0);
    const init: SupervisorInit = {
      module, memory, plan, pCtrl, threads, spinMs, pool: id,
      workerUrl: opts.workerUrl?.href, resourceLimits: opts.resourceLimits,
      lockPrefix: `vae-wasm-pool-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    };
    let pool: Pool | null = null;
    let sup: AnyWorker;
    let answered: (m: FromSupervisor) => void = () => {};
    const answer = new Promise<FromSupervisor>((resolve) => (answered = resolve));
    // the supervisor's own end (rare: it does nothing but watch) stops the pool when the caller is
    // not waiting; while it waits, the stale heartbeat tells it
    const supervisorEnded = (why: string) => {
      answered({ failed: `vae-wasm: the thread pool's supervisor ${why} while starting` });
      pool?.ended(new WorkerLostError(`the thread pool's supervisor ${why} while idle`, 0, "while idle"));
    };
    if (isNode) {
      const { Worker } = await import("node:worker_threads");
      const w = new Worker(new URL("./supervisor.js", import.meta.url));
      w.once("message", (m: FromSupervisor) => answered(m));
      w.on("error", (e) => supervisorEnded(`failed (${e.message})`));
      w.on("exit", (code) => supervisorEnded(`exited (code ${code})`));
      sup = w as unknown as AnyWorker;
    } else {
      // written inline so bundlers (Vite, webpack) recognise and emit the worker
      const w = new Worker(new URL("./supervisor.js", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<FromSupervisor>) => answered(e.data);
      w.onerror = (e) => supervisorEnded(`failed (${e.message})`);
      sup = w;
    }
    sup.postMessage({ init });
    const m = await answer;
    if ("failed" in m) {
      sup.terminate();
      throw new Error(m.failed);
    }
    // an idle pool must not keep a Node process alive (only after start: unref'd workers
    // would let the process exit while we wait for them to be ready)
    (sup as { unref?: () => void }).unref?.();
    pool = new Pool(threads, sup, ctrl, opts.timeoutMs ?? 120_000, spinMs, opts.balance ?? true, opts.rebalanceEvery ?? REBALANCE_EVERY);
    return pool;
  }

  /**
   * Runs the command already written into the control block on the first `active` threads
   * (the others wake, skip and count themselves done): the calling thread runs share(0, active),
   * each worker its own share of the command; throws a worker's error, or a WorkerLostError when
   * a worker died (before or during the command).
   */
  run(share0: (t: number, T: number) => void, active = this.threads): void {
    if (this.broken) throw this.broken;
    if (this.disposed) throw new Error("vae-wasm: the thread pool was disposed");
    const i = this.ctrl.i;
    const cmd = i[CTRL.cmd];
    const name = COMMAND_NAMES[cmd] ?? `#${cmd}`;
    // (it died since the last command: the pool was idle)
    if (Atomics.load(i, CTRL.dead)) this.lost(`before a ${name} command`);
    i[CTRL.threads] = active;
    this.runs++;
    // the split: forced (tests), balanced by measured speed, or even. The balancer runs on one
    // command in rebalanceEvery of each shape: its split and update cost ~45 µs each in place
    // (cold JS between milliseconds of WebAssembly, though ~2 µs in a hot loop), and the split in
    // use stays valid between (any split gives the same bits)
    const B = i[CTRL.B], K = i[CTRL.K];
    const last = this.lastSplit.get(cmd);
    const reuse = last !== undefined && last.B === B && last.K === K && last.active === active && ++last.runs % this.rebalanceEvery !== 0;
    const key = reuse ? "" : `${cmd}:${B}:${K}:${active}`;
    // commands split by examples get whole examples, in pairs when an example has an odd number
    // of rows (K samples): an odd share of rows leaves each GEMM a single-row tail, at a fraction
    // of the 4-row kernel's rate (a 51/49 split of the 784-400-20 step measured 1.6 % slower than
    // 50/50 or 52/48), while pairs of 500-row examples would only coarsen the split (an
    // evaluation chunk of 10 went 6/4); the weight phase, 64ths of every layer (its cuts also
    // change only for a predicted 3 % gain: a moved cut moves weights, their gradients and
    // Adam's moments to the other core's cache)
    const grain = i[CTRL.K] % 2 === 1 ? 2 : 1;
    const balanced = (b: Balancer) => (WEIGHT_CMDS.has(cmd) ? b.split(key, active, WEIGHT_STEPS) : b.split(key, active, i[CTRL.B], grain));
    let cuts: number[];
    if (this.cutsOverride) cuts = this.cutsOverride(cmd, active);
    else if (!this.balancer) cuts = evenSplit(active);
    else if (reuse) cuts = last.cuts;
    else cuts = balanced(this.balancer);
    if (!reuse) this.lastSplit.set(cmd, { B, K, active, cuts, runs: 0 });
    this.ctrl.cut.set(cuts);
    Atomics.store(i, CTRL.error, 0);
    const dispatched = performance.timeOrigin + performance.now();
    const gen = Atomics.add(i, CTRL.gen, 1) + 1;
    Atomics.notify(i, CTRL.gen);
    let mine: unknown = null;
    const t0 = performance.now();
    try {
      share0(0, active);
    } catch (e) {
      mine = e;
    }
    this.ctrl.busy[0] = performance.now() - t0;
    // Done when every worker has acknowledged THIS generation in its own slot. A shared count
    // of finished workers is not enough: under heavy load (4 threads on 2 cores while another
    // process compiled) the count was seen at T - 1 while a worker had not yet started the
    // command, and the step went on without that worker's rows (the bitwise thread tests failed
    // about one run in four that way; instrumented, the late worker's last command was the
    // previous one). Where the extra count came from is not established; with per-worker
    // acknowledgements the coordinator no longer depends on it. CTRL.done is now only the
    // address the coordinator sleeps on: every finish (and the supervisor's record of a death)
    // bumps it (never reset; Atomics.wait compares for equality, so wrapping is harmless) and
    // the coordinator re-checks the slots.
    const until = performance.now() + this.spinMs;
    while (this.pending(gen) > 0 && performance.now() < until);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const done = Atomics.load(i, CTRL.done); // read before the check: a finish after it changes the value we sleep on
      const pending = this.pending(gen);
      if (pending === 0) break;
      // sliced: a dead worker never acknowledges; the supervisor says so, and its heartbeat says it is there to say it
      const during = `during a ${name} command`;
      if (Atomics.load(i, CTRL.dead)) this.lost(during, gen);
      const now = Date.now();
      if (now - this.ctrl.f[CTRL_F64.heartbeat] > SUPERVISOR_SILENCE_MS) {
        this.stop(new WorkerLostError(`the thread pool's supervisor has not answered for ${SUPERVISOR_SILENCE_MS} ms ${during}`, 0, during));
      }
      if (now >= deadline) {
        this.stop(new WorkerLostError(`${pending} worker(s) did not finish a command within ${this.timeoutMs} ms (${during})`, 0, during));
      }
      Atomics.wait(i, CTRL.done, done, Math.min(WAIT_SLICE_MS, deadline - now));
    }
    if (mine) throw mine;
    const failed = Atomics.load(i, CTRL.error);
    if (failed) throw new Error(readText(this.ctrl.msg) || `vae-wasm: worker ${failed} failed`);
    if (this.balancer && !reuse) this.measured(key, cmd, cuts, dispatched, active);
  }

  /** The supervisor recorded a death: the pool stops for good. */
  private lost(during: string, gen = 0): never {
    const i = this.ctrl.i, dead = Atomics.load(i, CTRL.dead);
    // the others first finish their share of the command in flight: the model's next step, on
    // this thread alone, must not race their last writes (bounded: another may have died too)
    const until = Date.now() + QUIESCE_MS;
    for (let w = 1; gen && w < this.threads; w++) {
      while (w !== dead && Atomics.load(this.ctrl.ack, w) !== gen && Date.now() < until) {
        Atomics.wait(i, CTRL.done, Atomics.load(i, CTRL.done), WAIT_SLICE_MS);
      }
    }
    const text = readText(this.ctrl.death) || `worker ${dead} died`;
    return this.stop(new WorkerLostError(`${text} ${during}`, dead, during));
  }

  /** Stops the pool for good with `e` (later runs throw it too) and throws it. */
  private stop(e: WorkerLostError): never {
    this.ended(e);
    throw this.broken ?? e;
  }

  /** The pool ended by `e` (unless it was disposed first): later runs throw it. */
  private ended(e: WorkerLostError): void {
    if (this.disposed) return;
    this.broken = e;
    this.dispose();
  }

  /** Feeds the balancer what each thread of the finished command did and how long it took. */
  private measured(key: string, cmd: number, cuts: number[], dispatched: number, T: number): void {
    const B = this.ctrl.i[CTRL.B];
    // commands split by examples did whole examples: the fraction each thread really got
    const done = cuts.slice(1).map((c, t) => {
      if (WEIGHT_CMDS.has(cmd)) return c - cuts[t];
      const [b0, b1] = share(t, B, T, cuts);
      return B > 0 ? (b1 - b0) / B : 0;
    });
    const lat = done.map((_, t) => (t === 0 ? 0 : this.ctrl.start[t] - dispatched));
    const busy = Array.from(this.ctrl.busy.subarray(0, T));
    this.balancer!.update(key, done, lat, busy);
  }

  /** Workers that have not yet acknowledged generation `gen`. */
  private pending(gen: number): number {
    let n = 0;
    for (let w = 1; w < this.threads; w++) if (Atomics.load(this.ctrl.ack, w) !== gen) n++;
    return n;
  }

  /** Stops every worker and the supervisor. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctrl.i, CTRL.cmd, CMD.stop);
    Atomics.add(this.ctrl.i, CTRL.gen, 1);
    Atomics.notify(this.ctrl.i, CTRL.gen);
    // (the workers are the supervisor's: they end with it)
    this.supervisor.terminate();
  }

  /**
   * @internal tests: terminates worker `index` from outside (0: the supervisor ends, and its
   * workers with it), once the next command is dispatched (`atNextCommand`), after `delayMs`.
   */
  kill(index: number, opts: { atNextCommand?: boolean; delayMs?: number } = {}): void {
    this.supervisor.postMessage({ kill: index, afterGen: opts.atNextCommand ? Atomics.load(this.ctrl.i, CTRL.gen) : undefined, delayMs: opts.delayMs });
  }

  get alive(): boolean {
    return !this.disposed;
  }
}
