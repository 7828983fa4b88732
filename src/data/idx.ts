// IDX files, the format MNIST ships in (raw or gzip).
// see: http://yann.lecun.com/exdb/mnist/ (file format section)
import type { Matrix } from "../util/validate.js";
import { isNode } from "../../bindings/load.js";

/** Throws unless running in Node (the file readers). */
export function needsNode(fn: string): void {
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
