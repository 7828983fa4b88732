// NumPy's .npy format (versions 1.0, 2.0, 3.0): a header dict with 'descr', 'fortran_order' and
// 'shape', then the array in C order. float32, float64 and uint8 (either byte order); the first
// axis is the rows, the others are flattened into each row.
// see: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

export interface NpyHeader {
  dtype: "f4" | "f8" | "u1";
  littleEndian: boolean;
  shape: number[];
  /** byte offset of the data */
  dataStart: number;
  /** bytes per element */
  itemBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The header of a .npy file from its first bytes (at least the whole header); `what` starts every error. */
export function parseNpyHeader(what: string, b: Uint8Array): NpyHeader {
  if (b.length < 10 || MAGIC.some((m, i) => b[i] !== m)) throw new Error(`${what}: not a .npy file (it does not start with \\x93NUMPY)`);
  const major = b[6];
  if (major < 1 || major > 3) throw new Error(`${what}: .npy format version ${major}.${b[7]} is not one this reader knows (1.0, 2.0, 3.0)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  const hlen = major === 1 ? dv.getUint16(8, true) : b.length >= 12 ? dv.getUint32(8, true) : Infinity;
  const start = 8 + lenBytes;
  if (start + hlen > b.length) throw new Error(`${what}: truncated: the .npy header says it is ${hlen} bytes long, the file has ${Math.max(0, b.length - start)} after it`);
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(b.subarray(start, start + hlen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${what}: the .npy header is not a dict with 'descr', 'fortran_order' and 'shape': ${text.trim().slice(0, 120)}`);
  }
  if (fortran === "True") {
    throw new Error(`${what}: the array is in Fortran (column-major) order; save it in C order (np.save(path, np.ascontiguousarray(a)))`);
  }
  const m = /^([<>|=])(f4|f8|u1)$/.exec(descr);
  if (!m) {
    throw new Error(`${what}: dtype '${descr}' is not supported; expected float32 ('<f4'), float64 ('<f8') or uint8 ('|u1') (convert with a.astype(np.float32))`);
  }
  const shape = shapeText.split(",").map((x) => x.trim()).filter((x) => x !== "").map((x) => {
    if (!/^\d+$/.test(x)) throw new Error(`${what}: the .npy shape (${shapeText}) is not a tuple of integers`);
    return Number(x);
  });
  if (shape.length === 0) throw new Error(`${what}: the array is a scalar (shape ()); expected N rows, shape (N, …)`);
  const dtype = m[2] as NpyHeader["dtype"];
  return { dtype, littleEndian: m[1] !== ">", shape, dataStart: start + hlen, itemBytes: dtype === "f8" ? 8 : dtype === "f4" ? 4 : 1 };
}

/**
 * Converts `count` elements of npy data in `b` (from byte 0) into `out` at `at` as float32
 * (uint8 scaled by 1/255).
 */
export function convertNpy(h: NpyHeader, b: Uint8Array, out: Float32Array, at: number, count: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (h.dtype === "u1") {
    for (let i = 0; i < count; i++) out[at + i] = b[i] / 255;
  } else if (h.dtype === "f4") {
    for (let i = 0; i < count; i++) out[at + i] = dv.getFloat32(4 * i, h.littleEndian);
  } else {
    for (let i = 0; i < count; i++) out[at + i] = dv.getFloat64(8 * i, h.littleEndian);
  }
}
