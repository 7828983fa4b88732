// Your own data as a matrix of float32 rows: CSV/TSV, .npy, IDX (raw or gzip) from bytes or a
// file, and (Node) a folder of PNG images. uint8 data is scaled by 1/255; floats are taken as
// they are; every value is checked finite. Files are read in pieces (CSV and .npy), and the
// matrix is allocated once at its final size.
import { isNode } from "../../bindings/load.js";
import { parseCsv, type ByteSource } from "./csv.js";
import { imagesToMatrix, parseIdx } from "./idx.js";
import { convertNpy, parseNpyHeader } from "./npy.js";

export type DatasetFormat = "csv" | "tsv" | "npy" | "idx" | "png";

export interface LoadDatasetOptions {
  /** default: from the file's first bytes (.npy, IDX, gzip) or its name (.tsv, a folder: PNG), else CSV */
  format?: DatasetFormat;
  /** CSV/TSV: the cell delimiter (default: tab when the first line has one, else ',') */
  delimiter?: string;
  /** CSV/TSV: whether the first line is a header (default: when its first cell is not a number) */
  header?: boolean;
  /** CSV/TSV: a column (0-based index, or header name) holding integer class labels, taken out of the data */
  labelColumn?: number | string;
  /** bytes only: the file name errors give (and whose extension picks .tsv), e.g. a File's name; default 'the data' */
  name?: string;
}

export interface Dataset {
  /** rows × cols values, row-major */
  data: Float32Array;
  rows: number;
  cols: number;
  /** the shape of one row before flattening (e.g. [28, 28] or [32, 32, 3]), [cols] for tables */
  shape: number[];
  format: DatasetFormat;
  /** whether the values were uint8 scaled by 1/255 */
  scaled: boolean;
  /** the CSV header's names of the data columns, when there was a header */
  columns?: string[];
  /** with labelColumn: one integer label per row */
  labels?: Int32Array;
}

const FN = "loadDataset";
const CHUNK = 4 << 20;

/**
 * Reads a dataset from a path (Node: a file, or a folder of PNG images) or from bytes (anywhere:
 * CSV/TSV text, .npy, IDX). Errors start with `loadDataset:` and name the file, and where the
 * file has lines, the line and column.
 */
export async function loadDataset(source: string | Uint8Array, options: LoadDatasetOptions = {}): Promise<Dataset> {
  if (typeof options !== "object" || options === null) throw new Error(`${FN}: options must be an object; got ${String(options)}`);
  for (const k of Object.keys(options)) {
    if (!["format", "delimiter", "header", "labelColumn", "name"].includes(k)) throw new Error(`${FN}: unknown option '${k}' (options are format, delimiter, header, labelColumn, name)`);
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) {
    throw new Error(`${FN}: options.name must be a non-empty string (the file name errors give); got ${JSON.stringify(options.name)}`);
  }
  if (options.format !== undefined && !["csv", "tsv", "npy", "idx", "png"].includes(options.format)) {
    throw new Error(`${FN}: options.format must be csv, tsv, npy, idx or png; got ${JSON.stringify(options.format)}`);
  }
  let ds: Dataset;
  if (typeof source === "string") {
    if (!isNode) throw new Error(`${FN}: reading a path needs Node; in a browser pass the file's bytes (new Uint8Array(await file.arrayBuffer()))`);
    ds = await fromPath(source, options);
  } else if (source instanceof Uint8Array) {
    ds = await fromBytes(options.name ?? "the data", source, options);
  } else {
    throw new Error(`${FN}: source must be a path or a Uint8Array of the file's bytes; got ${Object.prototype.toString.call(source)}`);
  }
  checkFinite(ds, typeof source === "string" ? source : options.name ?? "the data");
  return ds;
}

/** The format of bytes from their magic numbers, else from the name. */
function sniff(name: string, head: Uint8Array, options: LoadDatasetOptions): DatasetFormat {
  if (options.format) return options.format;
  if (head[0] === 0x93 && head[1] === 0x4e) return "npy";
  if (head[0] === 0 && head[1] === 0 && head.length >= 4 && [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e].includes(head[2])) return "idx";
  if (head[0] === 0x1f && head[1] === 0x8b) return "idx"; // (gzip: as MNIST's IDX files ship)
  if (head[0] === 0x89 && head[1] === 0x50) {
    throw new Error(`${FN}: ${name} is a single PNG image; pass the folder that holds the images (all the same size), one image per row`);
  }
  return /\.tsv$/i.test(name) ? "tsv" : "csv";
}

async function fromBytes(name: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset> {
  const format = sniff(name, bytes.subarray(0, 8), options);
  if (format === "png") throw new Error(`${FN}: PNG images are read from a folder path (Node); ${name} is bytes`);
  if (format === "npy") {
    const h = parseNpyHeader(`${FN}: ${name}`, bytes);
    const { rows, cols, shape } = npyShape(name, h.shape);
    checkLength(name, bytes.length - h.dataStart, rows * cols * h.itemBytes);
    const data = new Float32Array(rows * cols);
    convertNpy(h, bytes.subarray(h.dataStart), data, 0, rows * cols);
    return { data, rows, cols, shape, format, scaled: h.dtype === "u1" };
  }
  if (format === "idx") return idx(name, bytes);
  return csv(name, { name, read: (chunk) => { for (let i = 0; i < bytes.length; i += CHUNK) chunk(bytes.subarray(i, i + CHUNK)); } }, format, options);
}

async function fromPath(path: string, options: LoadDatasetOptions): Promise<Dataset> {
  const fs = await import("node:fs");
  let st;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw new Error(`${FN}: cannot read '${path}': ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or folder" : (e as Error).message}`);
  }
  if (st.isDirectory()) {
    if (options.format !== undefined && options.format !== "png") throw new Error(`${FN}: '${path}' is a folder; options.format '${options.format}' is a file format`);
    // a specifier bundlers do not follow: the PNG-folder reader needs pngjs and through it Node's
    // stream and zlib, which a browser bundle must not pull in (esbuild, webpack: "could not
    // resolve 'stream'")
    const pngFolder = "./png-folder.js";
    const { readPngFolder } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ pngFolder)) as typeof import("./png-folder.js");
    return readPngFolder(FN, path);
  }
  if (st.size === 0) throw new Error(`${FN}: ${path} is empty (no rows)`);
  const fd = fs.openSync(path, "r");
  try {
    const head = new Uint8Array(Math.min(st.size, 1 << 16));
    fs.readSync(fd, head, 0, head.length, 0);
    const format = sniff(path, head, options);
    if (format === "png") throw new Error(`${FN}: options.format 'png' reads a folder of images; '${path}' is a file`);
    const pieces = (from: number, chunk: (b: Uint8Array) => void) => {
      const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, st.size - from)));
      for (let pos = from; pos < st.size;) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, st.size - pos), pos);
        if (n <= 0) break;
        chunk(buf.subarray(0, n));
        pos += n;
      }
    };
    if (format === "idx") return idx(path, fs.readFileSync(path));
    if (format === "npy") {
      const h = parseNpyHeader(`${FN}: ${path}`, head);
      const { rows, cols, shape } = npyShape(path, h.shape);
      checkLength(path, st.size - h.dataStart, rows * cols * h.itemBytes);
      const data = new Float32Array(rows * cols);
      let at = 0, carry = new Uint8Array(0);
      pieces(h.dataStart, (b) => {
        // whole elements of this piece (and the bytes of one carried over from the last)
        const bytes = carry.length ? concat(carry, b) : b;
        const count = Math.min(Math.floor(bytes.length / h.itemBytes), data.length - at);
        convertNpy(h, bytes, data, at, count);
        at += count;
        carry = bytes.slice(count * h.itemBytes);
      });
      return { data, rows, cols, shape, format, scaled: h.dtype === "u1" };
    }
    return csv(path, { name: path, read: (chunk) => pieces(0, chunk) }, format, options);
  } finally {
    fs.closeSync(fd);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function npyShape(name: string, shape: number[]): { rows: number; cols: number; shape: number[] } {
  const rows = shape[0];
  const rest = shape.length > 1 ? shape.slice(1) : [1];
  const cols = rest.reduce((a, b) => a * b, 1);
  if (rows === 0 || cols === 0) throw new Error(`${FN}: ${name} holds no data (shape (${shape.join(", ")}))`);
  return { rows, cols, shape: rest };
}

function checkLength(name: string, have: number, need: number): void {
  if (have < need) throw new Error(`${FN}: ${name} is truncated: its header's shape needs ${need} bytes of data, the file has ${have}`);
  if (have > need) throw new Error(`${FN}: ${name} has ${have - need} bytes after the array its header describes (not a .npy file as np.save writes it)`);
}

async function idx(name: string, raw: Uint8Array): Promise<Dataset> {
  let bytes = raw;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    if (!isNode) throw new Error(`${FN}: ${name} is gzip-compressed; decompress it first (DecompressionStream('gzip'))`);
    const { gunzipSync } = await import("node:zlib");
    bytes = gunzipSync(raw);
  }
  const a = parseIdx(bytes, `${FN}: ${name}`);
  const m = imagesToMatrix(a.shape.length === 1 ? { ...a, shape: [a.shape[0], 1] } : a, `${FN}: ${name}`);
  return { ...m, shape: a.shape.length > 1 ? a.shape.slice(1) : [1], format: "idx", scaled: a.type === 0x08 };
}

function csv(name: string, src: ByteSource, format: DatasetFormat, options: LoadDatasetOptions): Dataset {
  const t = parseCsv(FN, src, { delimiter: options.delimiter ?? (format === "tsv" ? "\t" : undefined), header: options.header });
  let { data, cols } = t;
  let columns = t.header ?? undefined;
  let labels: Int32Array | undefined;
  if (options.labelColumn !== undefined) {
    const lc = options.labelColumn;
    const j = typeof lc === "number" ? lc : t.header ? t.header.indexOf(lc) : -1;
    if (!Number.isInteger(j) || j < 0 || j >= cols) {
      throw new Error(`${FN}: options.labelColumn must be a column of ${name} (0…${cols - 1}${t.header ? ` or one of ${t.header.slice(0, 8).join(", ")}${t.header.length > 8 ? ", …" : ""}` : ""}); got ${JSON.stringify(lc)}`);
    }
    if (cols < 2) throw new Error(`${FN}: ${name} has one column: with it as labels no data would be left`);
    labels = new Int32Array(t.rows);
    const out = new Float32Array(t.rows * (cols - 1));
    for (let r = 0; r < t.rows; r++) {
      const v = data[r * cols + j];
      if (!Number.isInteger(v) || v < 0) {
        throw new Error(`${FN}: ${name} row ${r + 1}, column ${j + 1} (the labels): expected an integer class label ≥ 0, found ${v}`);
      }
      labels[r] = v;
      out.set(data.subarray(r * cols, r * cols + j), r * (cols - 1));
      out.set(data.subarray(r * cols + j + 1, (r + 1) * cols), r * (cols - 1) + j);
    }
    data = out;
    cols--;
    columns = columns?.filter((_, i) => i !== j);
  }
  return { data, rows: t.rows, cols, shape: [cols], format: format === "tsv" ? "tsv" : "csv", scaled: false, ...(columns ? { columns } : {}), ...(labels ? { labels } : {}) };
}

/** Refuses NaN and infinities (a float32 .npy or IDX may hold them), naming the first one's row and column. */
function checkFinite(ds: Dataset, name: string): void {
  const d = ds.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new Error(`${FN}: ${name} row ${Math.floor(i / ds.cols) + 1}, column ${(i % ds.cols) + 1}: expected a finite number, found ${d[i]}`);
    }
  }
}
