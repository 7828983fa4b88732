// Argument checks for every public entry point. Each error names the function, the argument,
// what was expected and what was received, so a stranger can fix the call from the message.

export class VAEArgumentError extends Error {
  constructor(fn: string, arg: string, expected: string, got: unknown) {
    super(`${fn}: ${arg} must be ${expected}; got ${describe(got)}`);
    this.name = "VAEArgumentError";
  }
}

/** A received value already described in words (e.g. "NaN at row 3, column 5"). */
export class Described {
  constructor(readonly text: string) {}
}

export function describe(v: unknown): string {
  if (v instanceof Described) return v.text;
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : String(v);
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v);
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as ArrayLike<number>).length}`;
  if (Array.isArray(v)) {
    if (v.length > 0 && Array.isArray(v[0])) return `an array of ${v.length} rows (first row length ${v[0].length})`;
    return `an array of length ${v.length}`;
  }
  if (typeof v === "function") return "a function";
  if (typeof v === "object") return `an object with keys [${Object.keys(v as object).slice(0, 8).join(", ")}]`;
  return typeof v;
}

export function fail(fn: string, arg: string, expected: string, got: unknown): never {
  throw new VAEArgumentError(fn, arg, expected, got);
}

export function checkInt(fn: string, arg: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(fn, arg, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`, v);
  }
  return v;
}

export function checkNumber(fn: string, arg: string, v: unknown, opts: { min?: number; max?: number; gt?: number; lt?: number } = {}): number {
  const parts: string[] = [];
  if (opts.gt !== undefined) parts.push(`> ${opts.gt}`);
  if (opts.min !== undefined) parts.push(`≥ ${opts.min}`);
  if (opts.lt !== undefined) parts.push(`< ${opts.lt}`);
  if (opts.max !== undefined) parts.push(`≤ ${opts.max}`);
  const expected = `a finite number${parts.length ? " " + parts.join(" and ") : ""}`;
  if (typeof v !== "number" || !Number.isFinite(v)) fail(fn, arg, expected, v);
  if ((opts.gt !== undefined && !(v > opts.gt)) || (opts.min !== undefined && v < opts.min) ||
    (opts.lt !== undefined && !(v < opts.lt)) || (opts.max !== undefined && v > opts.max)) {
    fail(fn, arg, expected, v);
  }
  return v;
}

export function checkOneOf<T extends string>(fn: string, arg: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    fail(fn, arg, `one of ${allowed.map((a) => `'${a}'`).join(", ")}`, v);
  }
  return v as T;
}

export function checkBool(fn: string, arg: string, v: unknown): boolean {
  if (typeof v !== "boolean") fail(fn, arg, "true or false", v);
  return v;
}

/** Rejects option keys the function does not know (a typo otherwise silently does nothing). */
export function checkKeys(fn: string, arg: string, obj: unknown, known: readonly string[]): void {
  if (obj === undefined) return;
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) fail(fn, arg, "an options object", obj);
  for (const key of Object.keys(obj as object)) {
    if (!known.includes(key)) {
      throw new VAEArgumentError(fn, `${arg}.${key}`, `one of the known options (${known.join(", ")})`, key);
    }
  }
}

/** A matrix of n rows × dim columns, stored row-major in a Float32Array. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

export type MatrixLike = Float32Array | Float64Array | number[] | number[][] | Matrix;

/**
 * Accepts a flat typed array / number[] (length a multiple of dim), rows as number[][], or a
 * Matrix. Checks every value is finite (and in [0, 1] when `unit`; `unitExpected` then says what
 * was expected, default: the VAE's Bernoulli wording). Float32Array input is not copied.
 */
export function toMatrix(fn: string, arg: string, x: unknown, dim: number,
  opts: { unit?: boolean; minRows?: number; unitExpected?: string; deferValues?: boolean } = {}): Matrix {
  let data: Float32Array;
  if (x instanceof Float32Array) {
    data = x;
  } else if (x instanceof Float64Array) {
    data = Float32Array.from(x);
  } else if (Array.isArray(x) && (x.length === 0 || typeof x[0] === "number")) {
    data = Float32Array.from(x as number[]);
  } else if (Array.isArray(x)) {
    data = new Float32Array(x.length * dim);
    for (let i = 0; i < x.length; i++) {
      const row = x[i];
      if (!Array.isArray(row) && !ArrayBuffer.isView(row)) fail(fn, `${arg}[${i}]`, `a row of ${dim} numbers`, row);
      if ((row as ArrayLike<number>).length !== dim) fail(fn, `${arg}[${i}]`, `a row of ${dim} numbers (the model's input size)`, row);
      data.set(row as ArrayLike<number>, i * dim);
    }
  } else if (x && typeof x === "object" && !ArrayBuffer.isView(x) && "data" in x) {
    // a matrix: its rows and cols must describe its data exactly
    const m = x as Matrix;
    if (!(m.data instanceof Float32Array)) fail(fn, `${arg}.data`, "a Float32Array of rows × cols values", m.data);
    if (!Number.isSafeInteger(m.cols) || m.cols < 1) fail(fn, `${arg}.cols`, "an integer ≥ 1", m.cols);
    if (m.cols !== dim) fail(fn, `${arg}.cols`, `${dim} (the model's input size)`, m.cols);
    if (!Number.isSafeInteger(m.rows) || m.rows < 1) fail(fn, `${arg}.rows`, "an integer ≥ 1", m.rows);
    if (m.rows * m.cols !== m.data.length) {
      fail(fn, arg, `rows × cols = ${m.rows} × ${m.cols} = ${m.rows * m.cols} values in data`, new Described(`a Float32Array of length ${m.data.length}`));
    }
    data = m.data;
  } else {
    fail(fn, arg, `a Float32Array, number[], number[][] or {data, rows, cols} with ${dim} columns`, x);
  }
  if (data.length % dim !== 0) {
    fail(fn, arg, `a flat array whose length is a multiple of ${dim} (rows × ${dim})`, x);
  }
  const rows = data.length / dim;
  if (rows < (opts.minRows ?? 1)) fail(fn, arg, `at least ${opts.minRows ?? 1} row(s) of ${dim} values`, x);
  // deferValues: the caller checks the values itself (trainStep scans the copied batch in
  // WebAssembly) and reports a bad one with invalidValue
  if (!opts.deferValues) {
    const bad = firstInvalid(data, opts.unit === true);
    if (bad >= 0) invalidValue(fn, arg, data, dim, bad, opts.unitExpected);
  }
  return { data, rows, cols: dim };
}

/** Throws the error for the bad value data[bad] of a matrix with `dim` columns (see toMatrix). */
export function invalidValue(fn: string, arg: string, data: Float32Array, dim: number, bad: number, unitExpected?: string): never {
  const v = data[bad];
  const where = new Described(`${v} at row ${Math.floor(bad / dim)}, column ${bad % dim}`);
  if (!Number.isFinite(v)) throw new VAEArgumentError(fn, arg, "finite numbers only", where);
  throw new VAEArgumentError(fn, arg,
    unitExpected ?? "values in [0, 1] for a Bernoulli likelihood (scale pixels by 1/255, or use likelihood 'gaussian')", where);
}

/**
 * Index of the first non-finite value (or, with `unit`, the first outside [0, 1]), else -1.
 * A small monomorphic loop of its own so V8 optimises it: inlined in toMatrix it ran at
 * interpreter speed (18 ms per 100×784 batch, more than the training step).
 */
function firstInvalid(data: Float32Array, unit: boolean): number {
  const n = data.length;
  if (unit) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (!(v >= 0 && v <= 1)) return i; // also catches NaN
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      if (v - v !== 0) return i; // NaN or ±Infinity
    }
  }
  return -1;
}

/** 'a', 'b' or 'c' */
export function orList(names: readonly string[]): string {
  const q = names.map((n) => `'${n}'`);
  return q.length < 2 ? q.join("") : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}
