// Faults injected into a model's worker pool (tests only): the pool is restarted with workers
// that fail when armed (fault-worker.mjs), or a worker is terminated from outside through the
// pool's supervisor.
import { CTRL_INTS } from "../../dist/src/engine/ctrl.js";
import { killWorker, modelOf, restartPool, runOnWorkers } from "../../dist/src/model/internals.js";

/** A control-block slot the engine does not use: where a test arms a fault. */
export const FAULT_SLOT = CTRL_INTS - 1;
/** Fault kinds by code (code << 8 | command in FAULT_SLOT). */
export const FAULT_KINDS = [null, "throw", "exit", "uncaught", "oom", "stall"];
/** A command code no engine command uses: worker 1 acknowledges it, then fails while the caller is idle. */
export const FAULT = { idle: 90 };

/** Gives the (threaded) model workers that can be made to fail (`resourceLimits`: Node's, per worker). */
export function useFaultyWorkers(vae, resourceLimits) {
  return restartPool(vae, { workerUrl: new URL("./fault-worker.mjs", import.meta.url), resourceLimits });
}

/** Arms worker 1 to fail as `kind` at the next command `cmd` (engine CMD code), after running its share. */
export function armFault(vae, kind, cmd) {
  Atomics.store(modelOf(vae).runner.ints, FAULT_SLOT, (FAULT_KINDS.indexOf(kind) << 8) | cmd);
}

/** Worker 1 fails as `kind` during a command of its own (throw), or just after it, the caller idle. */
export function injectWorkerFault(vae, kind) {
  armFault(vae, kind, FAULT.idle);
  runOnWorkers(vae, FAULT.idle);
}

export { killWorker };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `f` with a 1 ms timer going and returns the longest gap between its ticks (the event
 * loop's longest stall while `f` ran), in ms.
 */
export async function longestStall(f) {
  let last = performance.now(), worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  try {
    await sleep(5);
    await f();
    await sleep(5);
  } finally {
    clearInterval(timer);
  }
  return Math.max(worst, performance.now() - last);
}
