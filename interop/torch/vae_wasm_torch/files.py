"""The library's files: safetensors read and written byte for byte as the library does."""
import json
import math
import os
import struct
import tempfile
import zlib

import torch


def js_json(value):
    """JSON text as JavaScript's JSON.stringify writes it (no spaces; 1 not 1.0; 1e-7 as 1e-7)."""
    if isinstance(value, dict):
        return "{" + ",".join(js_json(str(k)) + ":" + js_json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        if value == int(value) and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)  # the shortest round-trip digits, as JavaScript
        if "e" not in text:
            return text
        mantissa, exp = text.split("e")
        exp = int(exp)
        if -7 < exp < 21:  # JavaScript writes these positionally
            digits = mantissa.replace(".", "").lstrip("-")
            sign = "-" if value < 0 else ""
            point = (mantissa.lstrip("-").index(".") if "." in mantissa else len(mantissa.lstrip("-"))) + exp
            if point <= 0:
                return sign + "0." + "0" * -point + digits
            return sign + digits[:point] + "." + digits[point:] if point < len(digits) else sign + digits + "0" * (point - len(digits))
        return mantissa + "e" + ("+" if exp > 0 else "-") + str(abs(exp))
    return json.dumps(value, ensure_ascii=False)


def read_safetensors(path_or_bytes):
    """(tensors: {name: float32 tensor} in file order, metadata: {str: str}) of a safetensors file;
    the library's crc32 checksum is checked when present."""
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else open(path_or_bytes, "rb").read()
    what = "read_safetensors" + ("" if isinstance(path_or_bytes, (bytes, bytearray)) else f"({path_or_bytes!r})")
    if len(data) < 8:
        raise ValueError(f"{what}: {len(data)} bytes is shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{what}: truncated: the header says it is {n} bytes long, the file has {len(data) - 8}")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    base = 8 + n
    if "checksum" in metadata:
        stored = metadata["checksum"]
        computed = "crc32:%08x" % (zlib.crc32(data[base:]) & 0xFFFFFFFF)
        if stored != computed:
            raise ValueError(f"{what}: the file is corrupted: its tensor data does not match its checksum ({stored}, computed {computed})")
    dtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}
    tensors = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] not in dtypes:
            raise ValueError(f"{what}: tensor '{name}' has dtype {info['dtype']}; only floating-point tensors can be weights")
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]) if raw else torch.empty(0, dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).to(torch.float32)
    return tensors, metadata


def write_safetensors(path, tensors, metadata, checksum=True):
    """Writes float32 tensors (in the dict's order) and string metadata the way the library does —
    the same bytes for the same content — atomically (a temporary file renamed into place)."""
    meta = dict(metadata)
    if checksum:
        meta["checksum"] = "crc32:00000000"
    header = {"__metadata__": meta}
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = js_json(header)
    encoded = text.encode("utf-8")
    encoded += b" " * ((8 - (8 + len(encoded)) % 8) % 8)
    body = b"".join(blobs)
    if checksum:
        encoded = encoded.replace(b'"checksum":"crc32:00000000"', b'"checksum":"crc32:%08x"' % (zlib.crc32(body) & 0xFFFFFFFF), 1)
    out = struct.pack("<Q", len(encoded)) + encoded + body
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".vae-wasm-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(out)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out
