// The library's internals as tests reach them: a model's state behind a public VAE, and its
// worker pool. Nothing here is exported by the package's entry points or appears on the public
// types; tests import this module by its path.
import { CTRL } from "../engine/ctrl.js";
import type { PoolOptions } from "../engine/pool.js";
import type { VaeModel } from "./vae-model.js";

const models = new WeakMap<object, VaeModel>();

/** Binds a facade to its model (the facade's constructor calls it). */
export function bind(facade: object, m: VaeModel): void {
  models.set(facade, m);
}

/** The model behind a VAE. */
export function modelOf(vae: object): VaeModel {
  const m = models.get(vae);
  if (!m) throw new Error("internals: not a VAE of this module instance");
  return m;
}

/** Commands the model's worker pool has run (0 on one thread): tests check work really went to the workers. */
export function poolRuns(vae: object): number {
  return modelOf(vae).runner.pool?.runs ?? 0;
}

/**
 * How every later command is split between the threads (cumulative cuts, cut[0] = 0,
 * cut[T] = 1) instead of the pool's balancer; null restores it.
 */
export function setCuts(vae: object, f: ((cmd: number, T: number) => number[]) | null): void {
  const pool = modelOf(vae).runner.pool;
  if (pool) pool.cutsOverride = f;
}

/** Terminates pool worker `index` from outside (through the pool's supervisor), at once or once the next command is dispatched. */
export function killWorker(vae: object, index: number, opts: { atNextCommand?: boolean; delayMs?: number } = {}): void {
  const pool = modelOf(vae).runner.pool;
  if (!pool) throw new Error("internals: this model has no worker pool");
  pool.kill(index, opts);
}

/** Replaces the model's worker pool by a new one (e.g. workers of another script). */
export function restartPool(vae: object, opts: PoolOptions): Promise<void> {
  return modelOf(vae).runner.startPool(opts);
}

/** Runs command `cmd` on the pool's workers with nothing on the calling thread's share (tests of worker failures). */
export function runOnWorkers(vae: object, cmd: number): void {
  const r = modelOf(vae).runner;
  if (!r.pool) throw new Error("internals: this model has no worker pool");
  r.ints[CTRL.cmd] = cmd;
  r.pool.run(() => {});
}
