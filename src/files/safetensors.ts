// safetensors: 8-byte little-endian header length N, N bytes of JSON header
//   { name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string} },
// then the raw little-endian tensor bytes. The format PyTorch users already have
// (safetensors.torch.save_file / load_file).
// see: https://github.com/huggingface/safetensors#format

export interface SafeTensor {
  dtype: "F32";
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(tensors: { name: string; shape: number[]; data: Float32Array }[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
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
  let p = 8 + hb.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) dv.setFloat32(p + 4 * i, t.data[i], true);
    p += 4 * t.data.length;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, what = "safetensors file"): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const bad = (msg: string): never => {
    throw new Error(`${what}: not a valid safetensors file: ${msg}`);
  };
  if (!(bytes instanceof Uint8Array)) bad(`expected a Uint8Array, got ${typeof bytes}`);
  if (bytes.length < 8) bad(`${bytes.length} bytes is shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) bad(`header length ${n} exceeds the file size ${bytes.length}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    return bad(`header is not JSON (${(e as Error).message})`);
  }
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const base = 8 + n;
  const tensors = new Map<string, SafeTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [b, e] = info.data_offsets ?? [];
    const size = (info.shape ?? []).reduce((a, c) => a * c, 1);
    if (info.dtype !== "F32" && info.dtype !== "F64" && info.dtype !== "F16" && info.dtype !== "BF16") {
      bad(`tensor '${name}' has dtype ${info.dtype}; only floating point tensors are supported`);
    }
    const width = info.dtype === "F64" ? 8 : info.dtype === "F32" ? 4 : 2;
    if (!(e - b === size * width && base + e <= bytes.length)) bad(`tensor '${name}' offsets [${b}, ${e}] do not match shape [${info.shape}] and dtype ${info.dtype}`);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const at = base + b + i * width;
      data[i] = info.dtype === "F32" ? dv.getFloat32(at, true)
        : info.dtype === "F64" ? dv.getFloat64(at, true)
        : info.dtype === "BF16" ? new Float32Array(new Uint32Array([dv.getUint16(at, true) << 16]).buffer)[0]
        : f16ToF32(dv.getUint16(at, true));
    }
    tensors.set(name, { dtype: "F32", shape: info.shape, data });
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
