// The control block in shared memory through which the coordinating thread drives every
// thread's share of a command (engine/step.ts runShare): Int32 slots, Float64 slots, an error
// message, one acknowledgement slot per worker, and the load balancer's cuts and timings.
/**
 * Control block in shared memory: Int32 slots then Float64 slots then an error message. The
 * coordinating thread writes a command and its arguments, every thread runs its share.
 */
export const CTRL = {
  gen: 0, cmd: 1, done: 2, error: 3, B: 4, K: 5, needKL: 6, iw: 7, gradMode: 8, useR: 9, k0: 10,
  seed: 12, epsStream: 13, step: 14, binarize: 15, binStream: 16, rowOffset: 17, drawEps: 18, threads: 19, adam: 20, hard: 21, fuse: 22,
} as const;
export const CTRL_F64 = { klScale: 0, stepSize: 1, beta1: 2, beta2: 3, eps: 4, invSqrtBc2: 5, weightDecay: 6, tau: 7 } as const;
export const CTRL_INTS = 32;
export const CTRL_F64S = 8;
export const CTRL_MSG_BYTES = 1024;
/** One Int32 per thread (up to 256): the generation each worker last finished (Pool.run). */
export const CTRL_ACKS = 256;
/** Float64 load-balancing slots: the cuts (CTRL_ACKS + 1), then each thread's start time and busy time. */
export const CTRL_BAL_F64S = 3 * CTRL_ACKS + 1;
export const CTRL_BYTES = 4 * CTRL_INTS + 8 * CTRL_F64S + CTRL_MSG_BYTES + 4 * CTRL_ACKS + 8 * CTRL_BAL_F64S;

/** CTRL.fuse: how a forward dispatch computes the row weights before running the backward rows. */
export const FUSE = { none: 0, uniform: 1, importance: 2 } as const;

/** The commands a dispatch runs (engine/step.ts runShare). */
export const CMD = { forward: 1, backward: 2, weights: 3, encode: 5, sample: 6, stop: 7 } as const;

export interface Ctrl {
  i: Int32Array;
  f: Float64Array;
  msg: Uint8Array;
  /** ack[w]: the generation worker w last finished */
  ack: Int32Array;
  /** the command's cuts between the active threads (share): cut[0] = 0, cut[T] = 1 */
  cut: Float64Array;
  /** when thread w started the command (ms, performance.timeOrigin + now()) and how long it ran (ms) */
  start: Float64Array;
  busy: Float64Array;
}

export function ctrlViews(buffer: ArrayBufferLike, at: number): Ctrl {
  const bal = at + 4 * CTRL_INTS + 8 * CTRL_F64S + CTRL_MSG_BYTES + 4 * CTRL_ACKS;
  return {
    i: new Int32Array(buffer, at, CTRL_INTS),
    f: new Float64Array(buffer, at + 4 * CTRL_INTS, CTRL_F64S),
    msg: new Uint8Array(buffer, at + 4 * CTRL_INTS + 8 * CTRL_F64S, CTRL_MSG_BYTES),
    ack: new Int32Array(buffer, at + 4 * CTRL_INTS + 8 * CTRL_F64S + CTRL_MSG_BYTES, CTRL_ACKS),
    cut: new Float64Array(buffer, bal, CTRL_ACKS + 1),
    start: new Float64Array(buffer, bal + 8 * (CTRL_ACKS + 1), CTRL_ACKS),
    busy: new Float64Array(buffer, bal + 8 * (2 * CTRL_ACKS + 1), CTRL_ACKS),
  };
}
