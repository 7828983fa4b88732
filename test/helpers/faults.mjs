// Faults injected into a model's worker pool (tests only): the pool is restarted with workers
// that fail on the fault commands (fault-worker.mjs), which are then run on the workers.
import { restartPool, runOnWorkers } from "../../dist/src/model/internals.js";

/** Command codes no engine command uses. */
export const FAULT = { throw: 90, exit: 91 };

/** Gives the (threaded) model workers that can be made to fail. */
export function useFaultyWorkers(vae) {
  return restartPool(vae, { workerUrl: new URL("./fault-worker.mjs", import.meta.url) });
}

/** Makes worker 1 throw ('throw') or exit ('exit') during a command. */
export function injectWorkerFault(vae, kind) {
  runOnWorkers(vae, FAULT[kind]);
}
