// The pool's supervisor: a thread that starts the compute workers (engine/worker.ts) and watches
// them. The coordinating thread cannot: it sleeps in Atomics.wait while a command runs, so the
// runtime's news of a dead worker (a Worker's 'exit' or 'error' event) would wait in its event
// loop forever. This thread does nothing else, so it hears of every death at once: it writes
// which worker died and why into the control block (CTRL.dead, Ctrl.death), wakes the
// coordinator, and stops the other workers; the coordinator's wait is sliced (engine/pool.ts) and
// checks that record and this thread's heartbeat.
//
// How a death is seen:
//   Node      a worker's 'exit' event (terminated, process.exit, an uncaught error, the heap
//             limit of resourceLimits; 'error' first says which error);
//   browsers  a worker holds a Web Lock from its start until it dies, and this thread asks for
//             the same lock: it is granted when the worker is gone, however it went (closed
//             itself, terminated, crashed); an 'error' event (an uncaught error, which does not
//             end a browser worker) counts as death too, and the worker is terminated. (Chromium
//             ends a terminated worker only once its task returns, or forcibly 2 s later: a
//             worker being terminated is first asked to leave its loop, CTRL leave.)
import { isNode } from "../../bindings/load.js";
import { CTRL, CTRL_F64, ctrlViews, describeError, writeText, type Ctrl } from "./ctrl.js";
import type { WorkerInit } from "./worker-loop.js";

/** How often the supervisor writes its heartbeat (Date.now() into CTRL_F64.heartbeat). */
export const HEARTBEAT_MS = 100;

/** What the pool sends the supervisor to start: the workers' WorkerInit without their index. */
export interface SupervisorInit extends Omit<WorkerInit, "index" | "lock"> {
  /** the compute workers' script when not the library's own (tests: workers that can be made to fail) */
  workerUrl?: string;
  /** worker_threads resource limits of each compute worker (Node; tests: a small heap to run out of) */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
  /** a name unique to this pool: each worker's Web Lock is `${lockPrefix}/${index}` (browsers) */
  lockPrefix: string;
}

export type ToSupervisor =
  | { init: SupervisorInit }
  /**
   * tests: terminate worker `kill` (0: the supervisor ends itself, its workers with it), once the
   * generation differs from `afterGen` (if given), `delayMs` later
   */
  | { kill: number; afterGen?: number; delayMs?: number };

export type FromSupervisor = { ready: true } | { failed: string };

/** A compute worker as the supervisor sees it, whatever the runtime. */
interface Child {
  post(m: unknown): void;
  terminate(): void;
}

interface Port {
  postMessage(m: unknown): void;
  on?(ev: "message", f: (m: ToSupervisor) => void): void;
  onmessage?: ((e: { data: ToSupervisor }) => void) | null;
}

/** Runs the supervisor: starts the workers, reports ready, then watches them until the pool ends it. */
export async function supervise(): Promise<void> {
  const port: Port = isNode ? (await import("node:worker_threads")).parentPort as unknown as Port : self as unknown as Port;
  const messages: ToSupervisor[] = [];
  let deliver: ((m: ToSupervisor) => void) | null = null;
  const onMessage = (m: ToSupervisor) => (deliver ? deliver(m) : messages.push(m));
  if (port.on) port.on("message", onMessage);
  else port.onmessage = (e) => onMessage(e.data);
  const first = messages.shift() ?? await new Promise<ToSupervisor>((resolve) => (deliver = resolve));
  if (!("init" in first)) throw new Error("vae-wasm supervisor: the first message must be init");
  const init = first.init;
  const ctrl = ctrlViews(init.memory.buffer, init.pCtrl);
  ctrl.f[CTRL_F64.heartbeat] = Date.now();
  setInterval(() => {
    ctrl.f[CTRL_F64.heartbeat] = Date.now();
  }, HEARTBEAT_MS);

  const children: Child[] = [];
  const killed = new Set<number>();
  let ready = false;
  let over = false;
  const failStart = (index: number, why: string) => {
    if (over) return;
    over = true;
    children.forEach((c) => c.terminate());
    port.postMessage({ failed: `vae-wasm: worker ${index} ${why} while starting` } satisfies FromSupervisor);
  };
  /** Records the first death and wakes the coordinator (which waits for the others to finish their share, then ends the pool). */
  const died = (index: number, cause: string) => {
    if (!ready) return failStart(index, cause);
    if (over) return;
    over = true;
    record(ctrl, index, init.threads, cause);
  };
  const causeOf = (index: number, fallback: string) => (killed.has(index) ? "was terminated" : fallback);

  const started: Promise<void>[] = [];
  for (let index = 1; index < init.threads; index++) {
    const { workerUrl: _u, resourceLimits: _r, lockPrefix, ...shared } = init;
    const msg: WorkerInit = { ...shared, index, lock: `${lockPrefix}/${index}` };
    let onReady = () => {};
    started.push(new Promise<void>((resolve) => (onReady = resolve)));
    if (isNode) {
      const { Worker } = await import("node:worker_threads");
      const url = init.workerUrl ? new URL(init.workerUrl) : new URL("./worker.js", import.meta.url);
      const w = new Worker(url, init.resourceLimits ? { resourceLimits: init.resourceLimits } : {});
      let cause: string | null = null;
      w.on("message", (m: { ready?: number; fatal?: string }) => {
        if (m.ready !== undefined) onReady();
        if (m.fatal !== undefined) cause = `failed: ${m.fatal}`;
      });
      w.on("error", (e: Error & { code?: string }) => {
        cause = e.code === "ERR_WORKER_OUT_OF_MEMORY" ? `ran out of memory (${describeError(e)})` : `threw an uncaught error: ${describeError(e)}`;
        died(index, cause);
      });
      w.on("exit", (code: number) => died(index, cause ?? causeOf(index, `exited with code ${code}`)));
      w.postMessage(msg);
      children[index] = { post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
    } else {
      // written inline so bundlers (Vite, webpack) recognise and emit the worker
      const w = init.workerUrl ? new Worker(init.workerUrl, { type: "module" }) : new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<{ ready?: number; fatal?: string }>) => {
        if (e.data.ready !== undefined) {
          onReady();
          // granted when the worker no longer holds it: when it is gone
          (navigator as Navigator & { locks?: LockManager }).locks?.request(msg.lock!, () => died(index, causeOf(index, "exited (it closed itself or crashed)")));
        }
        if (e.data.fatal !== undefined) {
          died(index, `failed: ${e.data.fatal}`);
          w.terminate();
        }
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        died(index, `threw an uncaught error: ${e.message || "(no message)"}`);
        w.terminate();
      };
      w.postMessage(msg);
      children[index] = { post: (m) => w.postMessage(m), terminate: () => w.terminate() };
    }
  }
  await Promise.all(started);
  if (over) return;
  ready = true;
  port.postMessage({ ready: true } satisfies FromSupervisor);

  deliver = (m) => {
    if (!("kill" in m)) return;
    const kill = () => {
      if (m.kill === 0) return isNode ? process.exit(0) : close();
      killed.add(m.kill);
      // (a browser ends a worker only once its task returns: it is asked to leave its loop)
      Atomics.store(ctrl.leave, m.kill, 1);
      Atomics.notify(ctrl.i, CTRL.gen);
      children[m.kill]?.terminate();
      // (Node reports the exit; a browser worker's lock is released)
    };
    if (m.afterGen === undefined) return void setTimeout(kill, m.delayMs ?? 0);
    // (Atomics.waitAsync: Node ≥ 16, Chromium ≥ 87; not yet in TypeScript's ES2022 lib)
    const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> } }).waitAsync;
    const waited = waitAsync(ctrl.i, CTRL.gen, m.afterGen);
    const then = () => setTimeout(kill, m.delayMs ?? 0);
    if (waited.async) waited.value.then(then);
    else then();
  };
  for (const m of messages.splice(0)) deliver(m);
}

/** Writes the death of worker `index` into the control block and wakes the coordinator. */
function record(ctrl: Ctrl, index: number, threads: number, cause: string): void {
  // the text first: the coordinator reads it once it sees CTRL.dead set (only this thread writes either)
  writeText(ctrl.death, `worker ${index} (of ${threads - 1}) ${cause}`);
  Atomics.store(ctrl.i, CTRL.dead, index);
  Atomics.add(ctrl.i, CTRL.done, 1);
  Atomics.notify(ctrl.i, CTRL.done);
}
