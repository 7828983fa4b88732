// The loop of a pool worker: instantiates the shared module over the shared memory, then waits
// on the control block (Atomics.wait) and runs its share of each command with the handler it
// was given (engine/worker.ts: the engine's runShare). An error in a share is reported through
// the control block (the coordinator, blocked in Atomics.wait, cannot receive messages) and the
// worker lives on; its death, however it comes, is reported by the pool's supervisor
// (engine/supervise.ts), which started it.
import type { Kernels } from "../../bindings/abi.js";
import { isNode } from "../../bindings/load.js";
import { CMD, CTRL, ctrlViews, describeError, writeText, type Ctrl } from "./ctrl.js";
import { readAnyLayout, type EnginePlan, type EngineWorkspace } from "./programs.js";

export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  plan: EnginePlan;
  pCtrl: number;
  index: number;
  threads: number;
  /** how long to poll for the next command before sleeping (ms; see Pool) */
  spinMs: number;
  /** the Web Lock this worker holds while it lives (browsers: how the supervisor sees it die) */
  lock?: string;
  /** the pool it belongs to (CTRL.pool while that pool lives) */
  pool: number;
}

interface Port {
  postMessage(m: { ready: number } | { fatal: string }): void;
  on?(ev: "message", f: (m: WorkerInit) => void): void;
  onmessage?: ((e: { data: WorkerInit }) => void) | null;
}

/** What a worker does with its share of a command (thread `index` of `active`; engine/programs.ts runProgramShare). */
export type ShareHandler = (k: Kernels, plan: EnginePlan, ws: EngineWorkspace, ctrl: Ctrl, index: number, active: number, memory: WebAssembly.Memory) => void;

/** Runs this worker: receives its WorkerInit, then serves commands until told to stop. */
export async function serveWorker(handler: ShareHandler): Promise<void> {
  let port: Port;
  if (isNode) {
    const wt = await import("node:worker_threads");
    port = wt.parentPort as unknown as Port;
  } else {
    port = self as unknown as Port;
  }
  const init = await new Promise<WorkerInit>((resolve) => {
    if (port.on) port.on("message", (m) => resolve(m));
    else port.onmessage = (e) => resolve(e.data);
  });
  const { module, memory, plan, pCtrl, index, threads, spinMs } = init;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const k = instance.exports as unknown as Kernels;
  const ctrl = ctrlViews(memory.buffer, pCtrl);
  if (!isNode && init.lock) {
    // held until this worker is gone: the supervisor, asking for it too, is granted it then
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    if (locks) await new Promise<void>((held) => void locks.request(init.lock!, () => (held(), new Promise<never>(() => {}))));
  }
  // a thrown error: its text, and the worker's index in the error slot
  const fail = (message: string) => {
    writeText(ctrl.msg, message.slice(0, 900));
    Atomics.store(ctrl.i, CTRL.error, index);
  };
  // this worker finished generation `gen`: its own acknowledgement slot, then the shared counter
  // whose change wakes the coordinator (which checks every slot, not the count)
  const finish = (gen: number) => {
    Atomics.store(ctrl.ack, index, gen);
    Atomics.add(ctrl.i, CTRL.done, 1);
    Atomics.notify(ctrl.i, CTRL.done);
  };
  // Read the generation BEFORE announcing readiness: a command dispatched right after "ready"
  // must look new to this worker, or it would wait for the next one and the caller forever.
  // the workspace layout, re-read only when its block changed (a re-lay), not at every command
  let layout = new Int32Array(0);
  let ws: EngineWorkspace | null = null;
  let view = null as Int32Array | null; // over memory.buffer, which is a new object after a grow
  let seen = Atomics.load(ctrl.i, CTRL.gen);
  port.postMessage({ ready: index });
  for (;;) {
    // During training the next command follows within microseconds: poll briefly, since a
    // sleeping thread takes ~0.1 ms to wake here; then sleep (a bounded poll, never a long spin).
    const until = performance.now() + spinMs;
    while (Atomics.load(ctrl.i, CTRL.gen) === seen && performance.now() < until);
    // Sleep until the generation really changes. A wake-up alone proves nothing: the notify of
    // generation N can arrive after this worker already saw N while polling, ran it and went back
    // to sleep (the coordinator preempted between its add and its notify, which happens on a
    // loaded machine); treating that wake-up as a new command re-ran command N, e.g. a second
    // Adam update of this worker's panels, and broke the bitwise equality across thread counts.
    while (Atomics.load(ctrl.i, CTRL.gen) === seen && !Atomics.load(ctrl.leave, index)) Atomics.wait(ctrl.i, CTRL.gen, seen);
    // being terminated: return to the event loop, where a browser can end this worker (it
    // cannot while the loop runs: Chromium forces it only 2 s later)
    if (Atomics.load(ctrl.leave, index)) break;
    seen = Atomics.load(ctrl.i, CTRL.gen);
    const cmd = Atomics.load(ctrl.i, CTRL.cmd);
    if (cmd === CMD.stop || Atomics.load(ctrl.i, CTRL.pool) !== init.pool) break;
    try {
      const active = Atomics.load(ctrl.i, CTRL.threads);
      if (index < active) {
        // the workspace may have been re-laid since the last command
        if (view?.buffer !== memory.buffer) view = new Int32Array(memory.buffer, plan.pLayout, plan.layoutSlots);
        if (!ws || view.some((v, j) => v !== layout[j])) {
          layout = view.slice();
          ws = readAnyLayout(view, plan, threads);
        }
        const t0 = performance.now();
        ctrl.start[index] = performance.timeOrigin + t0; // (the coordinator reads them after the acknowledgement)
        handler(k, plan, ws, ctrl, index, active, memory);
        ctrl.busy[index] = performance.now() - t0;
      }
    } catch (e) {
      fail(`vae-wasm worker ${index}: ${describeError(e, true)}`);
    }
    finish(seen);
  }
}

/**
 * Ends a worker whose loop failed (not a share: errors in a share are reported and the worker
 * lives on). Node ends it with this error, which the supervisor's 'error' event carries; a browser
 * worker would outlive an uncaught error without its loop, so it says why and closes itself.
 */
export function failWorker(e: unknown): void {
  if (isNode) {
    setTimeout(() => {
      throw e;
    });
    return;
  }
  (self as unknown as Port).postMessage({ fatal: describeError(e) });
  close();
}
