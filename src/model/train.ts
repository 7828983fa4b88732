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

/**
 * Where a run stands: the next step is step `step` (0-based) of epoch `epoch`, whose row order
 * was made from the optimiser step count `epochStart`; the running sums of that epoch so far.
 * After an epoch's last step, `step` equals the steps per epoch until its record is made; then
 * the position moves to step 0 of the next epoch.
 */
export interface Position {
  epoch: number;
  step: number;
  epochStart: number;
  lossSum: number;
  seen: number;
  seconds: number;
}

export interface Loop<R> {
  epochs: number;
  /** rows per epoch and rows per step (the last step takes the rest) */
  rows: number;
  batchSize: number;
  /** optimiser steps taken so far (the key of an epoch's order) */
  steps(): number;
  /** the order of an epoch that starts at optimiser step `epochStart` (null: in order) */
  order(epochStart: number): Uint32Array | null;
  /** one optimiser step on rows [start, start + B) of the order; returns its loss summed over those rows */
  step(order: Uint32Array | null, start: number, B: number, epoch: number, s: number): number;
  /** after each step: the running sums of the epoch */
  progress?(epoch: number, s: number, stepsPerEpoch: number, lossSum: number, seen: number, seconds: number): void;
  /** the epoch's record (its mean loss is lossSum / seen) */
  record(epoch: number, lossSum: number, seen: number, seconds: number): R;
  onEpochEnd?: (r: R) => void;
  /** aborts between steps: the loop rejects with the signal's reason */
  signal?: AbortSignal;
  /** continue a run from here (a checkpoint's position) instead of epoch 0 */
  from?: Position;
  /**
   * the position after every step (before progress) and after every epoch's record (before
   * onEpochEnd): one object, updated in place (copy it to keep it)
   */
  at?(p: Position): void;
  /** after each epoch's onEpochEnd: true ends the run there (early stopping) */
  done?(): boolean;
}

/** Yields to the event loop (a macrotask: timers, I/O and the signal's abort get their turn). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}

/**
 * Runs the epochs (from `loop.from` when given); resolves with one record per epoch it ended.
 * Yields at most every 50 ms of steps and after every epoch.
 */
export async function trainEpochs<R>(loop: Loop<R>): Promise<R[]> {
  const stepsPerEpoch = Math.ceil(loop.rows / loop.batchSize);
  const history: R[] = [];
  let lastYield = performance.now();
  const from = loop.from;
  const pos: Position = { epoch: 0, step: 0, epochStart: 0, lossSum: 0, seen: 0, seconds: 0 };
  const report = (epoch: number, step: number, epochStart: number, lossSum: number, seen: number, seconds: number) => {
    pos.epoch = epoch; pos.step = step; pos.epochStart = epochStart; pos.lossSum = lossSum; pos.seen = seen; pos.seconds = seconds;
    loop.at?.(pos);
  };
  for (let epoch = from?.epoch ?? 0; epoch < loop.epochs; epoch++) {
    const resumed = from && from.epoch === epoch ? from : null;
    const t0 = performance.now() - 1000 * (resumed?.seconds ?? 0);
    const epochStart = resumed ? resumed.epochStart : loop.steps();
    const order = loop.order(epochStart);
    let lossSum = resumed?.lossSum ?? 0;
    let seen = resumed?.seen ?? 0;
    for (let s = resumed?.step ?? 0; s < stepsPerEpoch; s++) {
      const B = Math.min(loop.batchSize, loop.rows - s * loop.batchSize);
      lossSum += loop.step(order, s * loop.batchSize, B, epoch, s);
      seen += B;
      const seconds = (performance.now() - t0) / 1000;
      report(epoch, s + 1, epochStart, lossSum, seen, seconds);
      loop.progress?.(epoch, s, stepsPerEpoch, lossSum, seen, seconds);
      if (performance.now() - lastYield > 50) {
        await yieldToEventLoop();
        lastYield = performance.now();
        loop.signal?.throwIfAborted();
      }
    }
    const rec = loop.record(epoch, lossSum, seen, (performance.now() - t0) / 1000);
    history.push(rec);
    report(epoch + 1, 0, loop.steps(), 0, 0, 0);
    loop.onEpochEnd?.(rec);
    if (loop.done?.()) break;
    await yieldToEventLoop();
    loop.signal?.throwIfAborted();
  }
  return history;
}
