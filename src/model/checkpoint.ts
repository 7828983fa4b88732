// A training run's state beyond the parameters, for resuming it exactly: Adam's step count (its
// moments are tensors of the file: model/params.ts), where the run stands (epoch, step, the key
// of the epoch's row order, the epoch's running sums), what it trains on (rows, columns, a CRC-32
// of the data) and the options it was started with. Shared by the VAE and M2; stored as JSON
// under one metadata key of the checkpoint file, and checked field by field when read back.
import { crc32 } from "../files/crc32.js";
import type { SafeTensor } from "../files/safetensors.js";
import { Parameters } from "./params.js";
import { checkInt, checkNumber, fail, type Matrix } from "../util/validate.js";
import type { Position } from "./train.js";

/** The metadata key of a checkpoint's training state. */
export const CHECKPOINT_KEY = "checkpoint";

/** A fit option as a checkpoint keeps it: functions (schedules) and custom estimators by a marker only. */
export type StoredOption = number | boolean | string | number[];

/** A run that a checkpoint can continue. */
export interface Run {
  rows: number;
  cols: number;
  /** CRC-32 of the training data's float32 bytes, 8 hex digits */
  dataCrc: string;
  /** the options the run was started with (model/fit.ts storedOptions) */
  options: Record<string, StoredOption>;
  position: Position;
  /** a model's own loop state (M2: the labelled order and the epoch's sums) */
  extra: Record<string, number>;
}

export interface CheckpointState {
  /** Adam's step count t (its bias correction); 0 with fresh moments */
  adamSteps: number;
  /** the run in progress or last finished; null when the steps were taken outside fit */
  run: Run | null;
}

/**
 * A run being trained: its data (the CRC is taken only when a checkpoint asks for it), its
 * position (the training loop's, updated in place), and its model's own loop state, read when a
 * checkpoint is taken (between steps).
 */
export class LiveRun {
  private crc: string | null = null;

  constructor(private readonly data: Matrix, readonly options: Record<string, StoredOption>, public position: Position,
    private readonly extra: () => Record<string, number> = () => ({})) {}

  /** The run as a checkpoint stores it. */
  stored(): Run {
    this.crc ??= dataCrc(this.data);
    return { rows: this.data.rows, cols: this.data.cols, dataCrc: this.crc, options: this.options, position: { ...this.position }, extra: this.extra() };
  }
}

/** The CRC-32 of a matrix's float32 values, as 8 hex digits. */
export function dataCrc(x: Matrix): string {
  return crc32(new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength)).toString(16).padStart(8, "0");
}

/**
 * Refuses data other than the run's: `fn` names the call, `arg` the data argument. The CRC is
 * taken here (a 60,000 × 784 dataset: ~0.2 s).
 */
export function checkSameData(fn: string, arg: string, run: Run, x: Matrix): void {
  const crc = x.rows === run.rows && x.cols === run.cols ? dataCrc(x) : "";
  if (crc !== run.dataCrc) {
    throw new Error(`${fn}: the checkpoint's run trained on ${run.rows} rows × ${run.cols} values (CRC-32 ${run.dataCrc}); ` +
      `${arg} is ${x.rows} rows × ${x.cols} values${crc ? ` (CRC-32 ${crc})` : ""}. Resume with the same data, in the same order.`);
  }
}

/** The training state as the checkpoint's metadata value. */
export function encodeCheckpoint(state: CheckpointState): string {
  // (JSON writes every double so that it reads back to the same bits)
  return JSON.stringify(state);
}

/** A checkpoint's training state from its metadata value, every field checked; failures name `fn`. */
export function decodeCheckpoint(fn: string, text: string): CheckpointState {
  const at = `metadata.${CHECKPOINT_KEY}`;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${fn}: ${at} is not JSON (${(e as Error).message})`);
  }
  const o = object(fn, at, v, ["adamSteps", "run"]);
  const adamSteps = checkInt(fn, `${at}.adamSteps`, o.adamSteps, 0, 0xffffffff);
  if (o.run === null) return { adamSteps, run: null };
  const r = object(fn, `${at}.run`, o.run, ["rows", "cols", "dataCrc", "options", "position", "extra"]);
  const rows = checkInt(fn, `${at}.run.rows`, r.rows, 1, 2 ** 32);
  const cols = checkInt(fn, `${at}.run.cols`, r.cols, 1, 2 ** 32);
  if (typeof r.dataCrc !== "string" || !/^[0-9a-f]{8}$/.test(r.dataCrc)) fail(fn, `${at}.run.dataCrc`, "8 hex digits (a CRC-32)", r.dataCrc);
  const opts = object(fn, `${at}.run.options`, r.options, null);
  const options: Record<string, StoredOption> = {};
  for (const [k, x] of Object.entries(opts)) {
    const ok = typeof x === "boolean" || typeof x === "string" || (typeof x === "number" && Number.isFinite(x)) ||
      (Array.isArray(x) && x.every((e) => typeof e === "number" && Number.isFinite(e)));
    if (!ok) fail(fn, `${at}.run.options.${k}`, "a finite number, a boolean, a string or an array of numbers", x);
    options[k] = x as StoredOption;
  }
  const p = object(fn, `${at}.run.position`, r.position, ["epoch", "step", "epochStart", "lossSum", "seen", "seconds"]);
  const position: Position = {
    epoch: checkInt(fn, `${at}.run.position.epoch`, p.epoch, 0, 2 ** 32),
    step: checkInt(fn, `${at}.run.position.step`, p.step, 0, 2 ** 32),
    epochStart: checkInt(fn, `${at}.run.position.epochStart`, p.epochStart, 0, 0xffffffff),
    lossSum: checkNumber(fn, `${at}.run.position.lossSum`, p.lossSum),
    seen: checkInt(fn, `${at}.run.position.seen`, p.seen, 0, 2 ** 32),
    seconds: checkNumber(fn, `${at}.run.position.seconds`, p.seconds, { min: 0 }),
  };
  const e = object(fn, `${at}.run.extra`, r.extra, null);
  const extra: Record<string, number> = {};
  for (const [k, x] of Object.entries(e)) extra[k] = checkNumber(fn, `${at}.run.extra.${k}`, x);
  return { adamSteps, run: { rows, cols, dataCrc: r.dataCrc, options, position, extra } };
}

/** A plain object with exactly `keys` (any keys when null). */
function object(fn: string, arg: string, v: unknown, keys: readonly string[] | null): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(fn, arg, "an object", v);
  const o = v as Record<string, unknown>;
  if (keys) {
    for (const k of keys) if (!(k in o)) fail(fn, arg, `an object with ${keys.join(", ")} (missing '${k}')`, Object.keys(o));
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(fn, arg, `an object with ${keys.join(", ")} only`, k);
  }
  return o;
}

/**
 * The options of a resumed fit: those given, and for the rest the run's own. Options that set
 * what a position means (batch size, shuffling) must be the run's; a schedule or a custom
 * estimator, which a file cannot hold, must be given again.
 */
export function resumedOptions<T extends object>(fn: string, stored: Record<string, StoredOption>, givenOptions: T,
  fixed: readonly string[]): T {
  const given = givenOptions as Record<string, unknown>;
  const out: Record<string, unknown> = { ...given };
  for (const [k, v] of Object.entries(stored)) {
    if (given[k] !== undefined) {
      if (fixed.includes(k) && given[k] !== v) {
        fail(fn, `options.${k}`, `${JSON.stringify(v)}, as in the checkpoint's run (it fixes what its position means); start a new run to change it`, given[k]);
      }
      continue;
    }
    if (v === SCHEDULE) {
      throw new Error(`${fn}: the checkpoint's run used a schedule (a function) for options.${k}, which a file cannot hold: pass options.${k} again to resume it`);
    }
    if (v === CUSTOM) {
      throw new Error(`${fn}: the checkpoint's run used a custom estimator object, which a file cannot hold: pass options.${k} again to resume it`);
    }
    out[k] = v;
  }
  return out as T;
}

/** Markers of options a checkpoint cannot hold. */
export const SCHEDULE = "(schedule)";
export const CUSTOM = "(custom estimator)";

/** What a model keeps of its training: the parameters, the step counts and a run to continue. */
export interface Trainable {
  params: Parameters;
  steps: number;
  adamSteps: number;
  resumeFrom: Run | null;
}

/**
 * A file's training state when `resume` (null otherwise): a file without one (written by save)
 * is refused, pointing to `loader`. Checked before any memory is taken.
 */
export function trainingState(fn: string, metadata: Record<string, string>, tensors: Map<string, SafeTensor>, resume: boolean,
  loader: string): CheckpointState | null {
  if (!resume) return null;
  if (metadata[CHECKPOINT_KEY] === undefined || !Parameters.hasMoments(tensors)) {
    throw new Error(`${fn}: the file holds no optimizer state (it was written by save(), not checkpoint()); load it with ${loader}, which starts Adam afresh`);
  }
  return decodeCheckpoint(fn, metadata[CHECKPOINT_KEY]);
}

/** Sets a new model's parameters and step count from a file, and with a training state its Adam and run. */
export function restore(fn: string, m: Trainable, dict: Record<string, Float32Array>, steps: number, state: CheckpointState | null,
  tensors: Map<string, SafeTensor>): void {
  m.params.load(fn, dict, false, (name) => `tensor '${name}'`);
  m.steps = steps;
  if (state) {
    m.params.loadMoments(fn, tensors);
    m.adamSteps = state.adamSteps;
    m.resumeFrom = state.run;
  }
}
