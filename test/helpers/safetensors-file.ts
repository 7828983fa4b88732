// A safetensors file taken apart and put together again by hand (tests of the loaders): the
// header as text or as an object, and the data bytes, with nothing checked or recomputed.

/** The header's length field. */
export function headerLength(b: Uint8Array): number {
  return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
}

/** The file as (header object, data bytes). */
export function splitFile(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = headerLength(bytes);
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.slice(8 + n) };
}

/** A file from header text (as given: no padding, no checksum recomputed) and data bytes, the length field matching. */
export function joinFile(text: string, data: Uint8Array): Uint8Array {
  const hb = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return out;
}
