// The thread pool: T - 1 workers plus the calling thread over one shared WebAssembly.Memory.
// The module is compiled once and posted to every worker. A command is dispatched by writing
// it into the control block, bumping the generation and Atomics.notify; the caller runs share 0
// itself, then Atomics.wait-s for the others. Waking a thread that sleeps in Atomics.wait takes
// ~0.1 ms on the 2-core VMs measured (vs ~0.03 ms when it just went to sleep), a lot next to a
// 1–2 ms phase, so each side first polls for at most `spinMs` (default 0.2 ms) and then sleeps:
// a short bounded poll while a step is in flight, never a long spin (spin loops collapse on a
// loaded machine). A worker that throws or exits writes the reason into the control block and
// acknowledges the command, so the caller wakes and rethrows it; a silent worker times out.
// Each command's split between the threads (the cuts in the control block) comes from the
// balancer (engine/balance.ts), fed with each thread's start time and busy time of the last run.
import { isNode } from "../../bindings/load.js";
import type { StaticPlan } from "../nn/plan.js";
import { Balancer, evenSplit, share } from "./balance.js";
import { CMD, CTRL, type Ctrl } from "./ctrl.js";
import type { WorkerInit } from "./worker-loop.js";

interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

export interface PoolOptions {
  /** how long to wait for the workers of one command before giving up (default 120 s) */
  timeoutMs?: number;
  /** how long a waiting thread polls before it sleeps, in ms (default 0.2; 0 = always sleep) */
  spinMs?: number;
  /** split each command by the threads' measured speed (engine/balance.ts; default true) or evenly */
  balance?: boolean;
  /** @internal the worker script (tests run workers that can be made to fail); default ./worker.js */
  workerUrl?: URL;
}

const DEFAULT_SPIN_MS = 0.2;
/** The weight phase's cuts move in steps of 1/WEIGHT_STEPS of every layer. */
const WEIGHT_STEPS = 64;

export class Pool {
  private disposed = false;
  /** set when a worker died: every later run throws it */
  private broken: string | null = null;
  /** commands run on the workers so far (tests check work really went to the pool) */
  runs = 0;
  /** @internal tests: the cuts of every command instead of the balancer's (model/internals.ts setCuts) */
  cutsOverride: ((cmd: number, T: number) => number[]) | null = null;
  private readonly balancer: Balancer | null;
  private constructor(
    readonly threads: number,
    private readonly workers: AnyWorker[],
    private readonly ctrl: Ctrl,
    private readonly timeoutMs: number,
    private readonly spinMs: number,
    balance: boolean,
  ) {
    this.balancer = balance ? new Balancer() : null;
  }

  /** Starts threads - 1 workers; resolves when each has instantiated the module. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, plan: StaticPlan, pCtrl: number, ctrl: Ctrl,
    threads: number, opts: PoolOptions = {}): Promise<Pool> {
    const workers: AnyWorker[] = [];
    const ready: Promise<void>[] = [];
    const spinMs = opts.spinMs ?? DEFAULT_SPIN_MS;
    Atomics.store(ctrl.i, CTRL.cmd, 0);
    for (let index = 1; index < threads; index++) {
      const init: WorkerInit = { module, memory, plan, pCtrl, index, threads, spinMs };
      if (isNode) {
        const { Worker } = await import("node:worker_threads");
        const w = new Worker(opts.workerUrl ?? new URL("./worker.js", import.meta.url));
        ready.push(new Promise((resolve, reject) => {
          w.once("message", () => resolve());
          w.once("error", reject);
          w.once("exit", (code) => reject(new Error(`vae-wasm: worker ${index} exited with code ${code} while starting`)));
        }));
        w.postMessage(init);
        workers.push(w as unknown as AnyWorker);
      } else {
        // written inline so bundlers (Vite, webpack) recognise and emit the worker
        const w = opts.workerUrl ? new Worker(opts.workerUrl, { type: "module" }) : new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
        ready.push(new Promise((resolve, reject) => {
          w.onmessage = () => resolve();
          w.onerror = (e) => reject(new Error(`vae-wasm: worker ${index} failed to start: ${e.message}`));
        }));
        w.postMessage(init);
        workers.push(w);
      }
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    // an idle pool must not keep a Node process alive (only after start: unref'd workers
    // would let the process exit while we wait for them to be ready)
    for (const w of workers) (w as { unref?: () => void }).unref?.();
    return new Pool(threads, workers, ctrl, opts.timeoutMs ?? 120_000, spinMs, opts.balance ?? true);
  }

  /**
   * Runs the command already written into the control block on the first `active` threads
   * (the others wake, skip and count themselves done): the calling thread runs share(0, active),
   * each worker its own share of the command; throws a worker's error.
   */
  run(share0: (t: number, T: number) => void, active = this.threads): void {
    if (this.broken) throw new Error(`vae-wasm: the thread pool stopped after a worker failed (${this.broken}); dispose this model and create a new one`);
    if (this.disposed) throw new Error("vae-wasm: the thread pool was disposed");
    const i = this.ctrl.i;
    i[CTRL.threads] = active;
    this.runs++;
    const cmd = i[CTRL.cmd];
    // the split: forced (tests), balanced by measured speed, or even
    const key = `${cmd}:${i[CTRL.B]}:${i[CTRL.K]}:${active}`;
    // commands split by examples get whole examples, in pairs when an example has an odd number
    // of rows (K samples): an odd share of rows leaves each GEMM a single-row tail, at a fraction
    // of the 4-row kernel's rate (a 51/49 split of the 784-400-20 step measured 1.6 % slower than
    // 50/50 or 52/48), while pairs of 500-row examples would only coarsen the split (an
    // evaluation chunk of 10 went 6/4); the weight phase, 64ths of every layer (its cuts also
    // change only for a predicted 3 % gain: a moved cut moves weights, their gradients and
    // Adam's moments to the other core's cache)
    const grain = i[CTRL.K] % 2 === 1 ? 2 : 1;
    const balanced = (b: Balancer) => (cmd === CMD.weights ? b.split(key, active, WEIGHT_STEPS) : b.split(key, active, i[CTRL.B], grain));
    const cuts = this.cutsOverride?.(cmd, active) ?? (this.balancer ? balanced(this.balancer) : evenSplit(active));
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
    // address the coordinator sleeps on: every finish bumps it (never reset; Atomics.wait
    // compares for equality, so wrapping is harmless) and the coordinator re-checks the slots.
    const until = performance.now() + this.spinMs;
    while (this.pending(gen) > 0 && performance.now() < until);
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const done = Atomics.load(i, CTRL.done); // read before the check: a finish after it changes the value we sleep on
      const pending = this.pending(gen);
      if (pending === 0) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.dispose();
        throw new Error(`vae-wasm: ${pending} worker(s) did not finish a step within ${this.timeoutMs} ms; the pool was stopped`);
      }
      Atomics.wait(i, CTRL.done, done, Math.min(left, 1000));
    }
    if (mine) throw mine;
    const failed = Atomics.load(i, CTRL.error);
    if (!failed && this.balancer) this.measured(key, cmd, cuts, dispatched, active);
    if (failed) {
      const bytes = this.ctrl.msg;
      const end = bytes.indexOf(0);
      const message = new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end)) || `vae-wasm: worker ${Math.abs(failed)} failed`;
      if (failed < 0) {
        // a dead worker never answers again: stop the rest now rather than time out later
        this.broken = message;
        this.dispose();
      }
      throw new Error(message);
    }
  }

  /** Feeds the balancer what each thread of the finished command did and how long it took. */
  private measured(key: string, cmd: number, cuts: number[], dispatched: number, T: number): void {
    const B = this.ctrl.i[CTRL.B];
    // commands split by examples did whole examples: the fraction each thread really got
    const done = cuts.slice(1).map((c, t) => {
      if (cmd === CMD.weights) return c - cuts[t];
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

  /** Stops every worker. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    Atomics.store(this.ctrl.i, CTRL.cmd, CMD.stop);
    Atomics.add(this.ctrl.i, CTRL.gen, 1);
    Atomics.notify(this.ctrl.i, CTRL.gen);
    for (const w of this.workers) w.terminate();
  }

  get alive(): boolean {
    return !this.disposed;
  }

  /** @internal the worker objects (tests) */
  get workerObjects(): readonly unknown[] {
    return this.workers;
  }
}
