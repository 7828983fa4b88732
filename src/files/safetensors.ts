// safetensors, read to the letter of the format: an 8-byte little-endian header length N, N
// bytes of UTF-8 JSON starting with '{' (space-padded at the end)
//   { name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string} },
// then the tensors' little-endian bytes, which the offsets (relative to the data's start) must
// cover exactly: no gap, no overlap, nothing after. The format PyTorch users already have
// (safetensors.torch.save_file / load_file).
// see: https://github.com/huggingface/safetensors#format
//
// Files this library writes carry `checksum: "crc32:<8 hex digits>"` in their metadata: the CRC-32
// of the data section (every tensor's bytes), checked on read, so a flipped bit in the weights is
// reported instead of loaded. Files without it (written by PyTorch, or older) still load.
import { crc32 } from "./crc32.js";

/** The largest header the reference implementation reads (safetensors' MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafeTensor {
  dtype: "F32";
  shape: number[];
  data: Float32Array;
}

/** Bytes per element of every dtype the format defines; only the floating-point ones are read as weights. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8,
};
const FLOAT_DTYPES = new Set(["F64", "F32", "F16", "BF16"]);

const CHECKSUM_PLACEHOLDER = "crc32:00000000";
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The CRC-32 of bytes, as 8 lowercase hex digits. */
export function crc32Hex(bytes: Uint8Array): string {
  return crc32(bytes).toString(16).padStart(8, "0");
}

/**
 * A safetensors file of float32 tensors with string metadata. `checksum` (default true) adds the
 * CRC-32 of the data section to the metadata as `checksum`.
 */
export function encodeSafetensors(tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>,
  opts: { checksum?: boolean } = {}): Uint8Array {
  const checksum = opts.checksum ?? true;
  const header: Record<string, unknown> = { __metadata__: checksum ? { ...metadata, checksum: CHECKSUM_PLACEHOLDER } : metadata };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data starts 8-byte aligned (allowed by the spec)
  const pad = (8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8;
  json += " ".repeat(pad);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  const base = 8 + hb.length;
  let p = base;
  for (const t of tensors) {
    // (the data starts 8-byte aligned, so a little-endian host copies the floats as they are)
    if (LITTLE_ENDIAN) new Float32Array(out.buffer, p, t.data.length).set(t.data);
    else for (let i = 0; i < t.data.length; i++) dv.setFloat32(p + 4 * i, t.data[i], true);
    p += 4 * t.data.length;
  }
  if (checksum) {
    // the placeholder has the checksum's length, so the header keeps its size; the key-value pair
    // with unescaped quotes occurs once (quotes inside a metadata string are escaped)
    const at = json.indexOf(`"checksum":"${CHECKSUM_PLACEHOLDER}"`) + '"checksum":"'.length;
    out.set(new TextEncoder().encode(`crc32:${crc32Hex(out.subarray(base))}`), 8 + new TextEncoder().encode(json.slice(0, at)).length);
  }
  return out;
}

/**
 * The tensors (as float32) and metadata of a safetensors file, checked against the format: every
 * failure is an Error whose message starts with `what` and says what is wrong and where.
 */
export function decodeSafetensors(bytes: Uint8Array, what = "safetensors file"): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const bad = (msg: string): never => {
    throw new Error(`${what}: not a valid safetensors file: ${msg}`);
  };
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(`${what}: expected the bytes of a safetensors file (a Uint8Array); got ${bytes === null ? "null" : typeof bytes}`);
  }
  if (bytes.length < 8) bad(`${bytes.length} bytes is shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) bad(`the header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (8 + n > bytes.length) bad(`truncated: the header says it is ${n} bytes long, the file has ${bytes.length - 8} bytes after the length`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return bad("the header is not UTF-8 text");
  }
  if (!text.startsWith("{")) bad(`the header must start with '{'; it starts with ${JSON.stringify(text.slice(0, 10))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return bad(`the header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) bad("the header is not a JSON object");
  const entries = header as Record<string, unknown>;

  // metadata: string → string
  const metadata: Record<string, string> = {};
  const meta = entries.__metadata__;
  if (meta !== undefined) {
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) bad("__metadata__ must be an object of strings");
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
      if (typeof v !== "string") bad(`__metadata__['${k}'] must be a string; got ${v === null ? "null" : typeof v}`);
      metadata[k] = v as string;
    }
  }

  // tensor entries: dtype, shape, offsets consistent with each other
  const dataLength = bytes.length - 8 - n;
  const infos: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(entries)) {
    if (name === "__metadata__") continue;
    const where = `tensor '${name}'`;
    if (typeof info !== "object" || info === null || Array.isArray(info)) bad(`${where} must be an object {dtype, shape, data_offsets}; got ${info === null ? "null" : typeof info}`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) bad(`${where} has dtype ${JSON.stringify(dtype)}, which the format does not define`);
    if (!FLOAT_DTYPES.has(dtype as string)) bad(`${where} has dtype ${dtype}; only floating-point tensors (F32, F64, F16, BF16) can be weights`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`${where} has shape ${JSON.stringify(shape)}; a shape is a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      bad(`${where} has data_offsets ${JSON.stringify(offsets)}; they must be two non-negative integers [begin, end], begin ≤ end`);
    }
    const [begin, end] = offsets as number[];
    let size = 1;
    for (const d of shape as number[]) size *= d;
    const width = DTYPE_BYTES[dtype as string];
    if (!Number.isSafeInteger(size * width) || size * width !== end - begin) {
      bad(`${where} has shape [${shape}] of ${dtype} (${size * width} bytes), but its data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
    }
    infos.push({ name, dtype: dtype as string, shape: shape as number[], begin, end });
  }
  // the offsets tile the data section exactly, in order
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of infos) {
    if (t.begin !== at) {
      bad(t.begin < at ? `tensor '${t.name}' starts at byte ${t.begin} of the data, inside the tensor before it (which ends at ${at})`
        : `the data has a gap: bytes ${at}–${t.begin} belong to no tensor (before tensor '${t.name}')`);
    }
    at = t.end;
  }
  if (at > dataLength) bad(`truncated: the header says the data ends at byte ${at}, the file has ${dataLength} bytes of data`);
  if (at < dataLength) bad(`the file has ${dataLength - at} bytes after the last tensor's data (which ends at byte ${at} of ${dataLength})`);

  const base = 8 + n;
  if (metadata.checksum !== undefined) {
    const m = /^crc32:([0-9a-f]{8})$/.exec(metadata.checksum);
    if (!m) bad(`__metadata__['checksum'] must be "crc32:" and 8 hex digits; got ${JSON.stringify(metadata.checksum.slice(0, 40))}`);
    const computed = crc32Hex(bytes.subarray(base));
    if (computed !== m![1]) {
      throw new Error(`${what}: the file is corrupted: its tensor data does not match its checksum (crc32 stored ${m![1]}, computed ${computed})`);
    }
  }
  const tensors = new Map<string, SafeTensor>();
  for (const t of infos) {
    const count = (t.end - t.begin) / DTYPE_BYTES[t.dtype];
    const data = new Float32Array(count);
    const p = base + t.begin;
    switch (t.dtype) {
      case "F32":
        // (the data need not be 4-byte aligned in the file: copied as bytes)
        if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(p, p + 4 * count));
        else for (let i = 0; i < count; i++) data[i] = dv.getFloat32(p + 4 * i, true);
        break;
      case "F64": for (let i = 0; i < count; i++) data[i] = dv.getFloat64(p + 8 * i, true); break;
      case "BF16": {
        const u = new Uint32Array(1), f = new Float32Array(u.buffer);
        for (let i = 0; i < count; i++) {
          u[0] = dv.getUint16(p + 2 * i, true) << 16;
          data[i] = f[0];
        }
        break;
      }
      default: for (let i = 0; i < count; i++) data[i] = f16ToF32(dv.getUint16(p + 2 * i, true));
    }
    tensors.set(t.name, { dtype: "F32", shape: t.shape, data });
  }
  return { tensors, metadata };
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
