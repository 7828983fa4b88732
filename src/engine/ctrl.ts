// The control block in shared memory through which the coordinating thread drives every
// thread's share of a command (engine/step.ts runShare): Int32 slots, Float64 slots, an error
// message, the supervisor's record of a dead worker, one acknowledgement slot per worker, and
// the load balancer's cuts and timings.
/**
 * Control block in shared memory: Int32 slots then Float64 slots then an error message. The
 * coordinating thread writes a command and its arguments, every thread runs its share.
 */
export const CTRL = {
  gen: 0, cmd: 1, done: 2, error: 3, B: 4, K: 5, needKL: 6, iw: 7, gradMode: 8, useR: 9, k0: 10,
  seed: 12, epsStream: 13, step: 14, binarize: 15, binStream: 16, rowOffset: 17, drawEps: 18, threads: 19, adam: 20, hard: 21, fuse: 22,
  /** the index of the first worker the supervisor saw die (0: none); its cause is in Ctrl.death */
  dead: 23,
  /** the parameter bank the command reads (nn/plan.ts atBank); Adam writes the other */
  bank: 24,
  /**
   * which pool the block serves (bumped by every Pool.start): a worker of an earlier pool still
   * running (a browser ends terminated workers only when their task returns) leaves at once
   */
  pool: 25,
  /** an M2 step's labelled and unlabelled examples, and rows per unlabelled example (engine/m2-step.ts) */
  m2Bl: 26, m2Bu: 27, m2E: 28,
} as const;
export const CTRL_F64 = {
  klScale: 0, stepSize: 1, beta1: 2, beta2: 3, eps: 4, invSqrtBc2: 5, weightDecay: 6, tau: 7,
  /** Date.now() as the supervisor last wrote it (every HEARTBEAT_MS): it is alive */
  heartbeat: 8,
  /** free bits λ of the analytic KL in this command (0: none) */
  freeBits: 9,
} as const;
export const CTRL_INTS = 32;
export const CTRL_F64S = 10;
export const CTRL_MSG_BYTES = 1024;
/** The supervisor's account of a dead worker (UTF-8, zero-terminated). */
export const CTRL_DEATH_BYTES = 512;
/** One Int32 per thread (up to 256): the generation each worker last finished (Pool.run). */
export const CTRL_ACKS = 256;
/** Float64 load-balancing slots: the cuts (CTRL_ACKS + 1), then each thread's start time and busy time. */
export const CTRL_BAL_F64S = 3 * CTRL_ACKS + 1;
export const CTRL_BYTES = 4 * CTRL_INTS + 8 * CTRL_F64S + CTRL_MSG_BYTES + CTRL_DEATH_BYTES + 2 * 4 * CTRL_ACKS + 8 * CTRL_BAL_F64S;

/** CTRL.fuse: how a forward dispatch computes the row weights before running the backward rows. */
export const FUSE = { none: 0, uniform: 1, importance: 2 } as const;

/** The commands a dispatch runs (the VAE's: engine/step.ts runShare; M2's: engine/m2-step.ts runM2Share). */
export const CMD = { forward: 1, backward: 2, weights: 3, encode: 5, sample: 6, stop: 7, m2Forward: 8, m2Backward: 9, m2Weights: 10 } as const;
/** Commands split by outputs of every layer, not by rows (the load balancer cuts them in 64ths). */
export const WEIGHT_CMDS: ReadonlySet<number> = new Set([CMD.weights, CMD.m2Weights]);

export interface Ctrl {
  i: Int32Array;
  f: Float64Array;
  msg: Uint8Array;
  /** why the worker in CTRL.dead died (written by the supervisor) */
  death: Uint8Array;
  /** ack[w]: the generation worker w last finished */
  ack: Int32Array;
  /** leave[w] = 1: worker w is being terminated and leaves its loop at its next look (browsers end a worker only once its task returns) */
  leave: Int32Array;
  /** the command's cuts between the active threads (share): cut[0] = 0, cut[T] = 1 */
  cut: Float64Array;
  /** when thread w started the command (ms, performance.timeOrigin + now()) and how long it ran (ms) */
  start: Float64Array;
  busy: Float64Array;
}

export function ctrlViews(buffer: ArrayBufferLike, at: number): Ctrl {
  const msg = at + 4 * CTRL_INTS + 8 * CTRL_F64S, death = msg + CTRL_MSG_BYTES, ack = death + CTRL_DEATH_BYTES;
  const leave = ack + 4 * CTRL_ACKS, bal = leave + 4 * CTRL_ACKS;
  return {
    i: new Int32Array(buffer, at, CTRL_INTS),
    f: new Float64Array(buffer, at + 4 * CTRL_INTS, CTRL_F64S),
    msg: new Uint8Array(buffer, msg, CTRL_MSG_BYTES),
    death: new Uint8Array(buffer, death, CTRL_DEATH_BYTES),
    ack: new Int32Array(buffer, ack, CTRL_ACKS),
    leave: new Int32Array(buffer, leave, CTRL_ACKS),
    cut: new Float64Array(buffer, bal, CTRL_ACKS + 1),
    start: new Float64Array(buffer, bal + 8 * (CTRL_ACKS + 1), CTRL_ACKS),
    busy: new Float64Array(buffer, bal + 8 * (2 * CTRL_ACKS + 1), CTRL_ACKS),
  };
}

/** Writes a message as zero-terminated UTF-8 into `bytes` (cut to fit). */
export function writeText(bytes: Uint8Array, text: string): void {
  const b = new TextEncoder().encode(text).subarray(0, bytes.length - 1);
  bytes.fill(0);
  bytes.set(b);
}

/** Reads a zero-terminated UTF-8 message. */
export function readText(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end));
}

/** An error as one line of text (with its stack when asked), whatever was thrown. */
export function describeError(e: unknown, stack = false): string {
  try {
    const err = e as Error;
    if (stack && typeof err?.stack === "string") return err.stack;
    if (err && typeof err === "object" && "message" in err) return String(err.message).split("\n")[0];
    return String(e);
  } catch {
    return "an error that could not be described";
  }
}
