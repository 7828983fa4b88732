// The training loop every model shares: epochs of steps over the rows (shuffled per epoch),
// callbacks, yielding to the event loop so progress can render and a signal can abort, and a
// record per epoch. The model supplies the step and the record (VAE: model/fit.ts; M2: m2.ts).
import { SeededRandom } from "../util/random.js";

/** The seed of the per-epoch shuffle (xored with the model's seed; the stream is the step count at the epoch's start). */
export const SHUFFLE_SEED = 0x5bd1e995;

/** The order of `rows` rows for an epoch that starts at optimiser step `step` (null: in order). */
export function epochOrder(seed: number, step: number, rows: number, shuffle = true): Uint32Array | null {
  return shuffle ? new SeededRandom(seed ^ SHUFFLE_SEED, step).permutation(rows) : null;
}

export interface Loop<R> {
  epochs: number;
  /** rows per epoch and rows per step (the last step takes the rest) */
  rows: number;
  batchSize: number;
  /** the epoch's row order, made at its start (null: in order) */
  order(epoch: number): Uint32Array | null;
  /** one optimiser step on rows [start, start + B) of the order; returns its loss summed over those rows */
  step(order: Uint32Array | null, start: number, B: number, epoch: number, s: number): number;
  /** after each step: the running sums of the epoch */
  progress?(epoch: number, s: number, stepsPerEpoch: number, lossSum: number, seen: number, seconds: number): void;
  /** the epoch's record (its mean loss is lossSum / seen) */
  record(epoch: number, lossSum: number, seen: number, seconds: number): R;
  onEpochEnd?: (r: R) => void;
  /** aborts between steps: the loop rejects with the signal's reason */
  signal?: AbortSignal;
}

/** Yields to the event loop (a macrotask: timers, I/O and the signal's abort get their turn). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}

/** Runs the epochs; resolves with one record per epoch. Yields at most every 50 ms of steps and after every epoch. */
export async function trainEpochs<R>(loop: Loop<R>): Promise<R[]> {
  const stepsPerEpoch = Math.ceil(loop.rows / loop.batchSize);
  const history: R[] = [];
  let lastYield = performance.now();
  for (let epoch = 0; epoch < loop.epochs; epoch++) {
    const t0 = performance.now();
    const order = loop.order(epoch);
    let lossSum = 0;
    let seen = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const B = Math.min(loop.batchSize, loop.rows - s * loop.batchSize);
      lossSum += loop.step(order, s * loop.batchSize, B, epoch, s);
      seen += B;
      loop.progress?.(epoch, s, stepsPerEpoch, lossSum, seen, (performance.now() - t0) / 1000);
      if (performance.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = performance.now();
        loop.signal?.throwIfAborted();
      }
    }
    const rec = loop.record(epoch, lossSum, seen, (performance.now() - t0) / 1000);
    history.push(rec);
    loop.onEpochEnd?.(rec);
    await yieldToEventLoop();
    loop.signal?.throwIfAborted();
  }
  return history;
}
