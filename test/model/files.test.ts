// Model files read to the letter of the safetensors format: every way a file can be wrong is an
// error that starts with the loading function's name and says what is wrong and where; the
// checksum the library writes catches flipped bits in the weights; foreign files without it
// still load.
import crcReference from "crc/calculators/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SemiSupervisedVAE, VAE, decodeSafetensors, encodeSafetensors } from "../../src/index.js";
import { crc32 } from "../../src/files/crc32.js";
import { crc32Hex, MAX_HEADER_BYTES } from "../../src/files/safetensors.js";
import { joinFile, splitFile } from "../helpers/safetensors-file.js";

const small = () => VAE.create({ inputDim: 6, latentDim: 2, hidden: [4], seed: 1 });

const split = splitFile;
const join = (header: unknown, data: Uint8Array, text = JSON.stringify(header)) => joinFile(text, data);

/** The header of `bytes` changed by `edit` (the metadata's checksum stays valid: the data is unchanged). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const { header, data } = split(bytes);
  edit(header);
  return join(header, data);
}

describe("VAE.load reads safetensors to the letter of the format", async () => {
  const vae = await small();
  vae.trainStep(new Float32Array(12).fill(0.5));
  const file = vae.save();

  const cases: [string, () => Uint8Array, RegExp][] = [
    ["shorter than the length", () => file.slice(0, 5), /^VAE\.load: not a valid safetensors file: 5 bytes is shorter than the 8-byte header length/],
    ["a header length over the reference limit", () => { const b = file.slice(); new DataView(b.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES) + 1n, true); return b; },
      /^VAE\.load: .*header length 100000001 exceeds the limit of 100000000 bytes/],
    ["truncated inside the header", () => file.slice(0, 300), /^VAE\.load: .*truncated: the header says it is \d+ bytes long, the file has 292 bytes after the length/],
    ["truncated inside the data", () => file.slice(0, file.length - 10), /^VAE\.load: .*truncated: the header says the data ends at byte 360, the file has 350 bytes of data/],
    ["bytes after the last tensor", () => { const b = new Uint8Array(file.length + 4); b.set(file); return b; }, /^VAE\.load: .*4 bytes after the last tensor's data/],
    ["a header that is not UTF-8", () => { const b = file.slice(); b[20] = 0xff; return b; }, /^VAE\.load: .*the header is not UTF-8 text/],
    ["a header that does not start with '{'", () => { const { header, data } = split(file); return join(header, data, " " + JSON.stringify(header)); }, /^VAE\.load: .*must start with '\{'/],
    ["a header that is not JSON", () => { const { header, data } = split(file); return join(header, data, JSON.stringify(header).slice(0, -1) + ",}"); }, /^VAE\.load: .*the header is not JSON/],
    ["a header with no tensors", () => join({ __metadata__: { ...(split(file).header.__metadata__ as object), checksum: `crc32:${crc32Hex(new Uint8Array(0))}` } }, new Uint8Array(0)), /^VAE\.load: tensor 'encoder.hidden.0.weight' \(shape \[4, 6\]\) is missing from the file/],
    ["a null tensor entry", () => withHeader(file, (h) => { h["encoder.mu.bias"] = null; }), /^VAE\.load: .*tensor 'encoder.mu.bias' must be an object \{dtype, shape, data_offsets\}; got null/],
    ["negative data_offsets", () => withHeader(file, (h) => { h["encoder.mu.bias"].data_offsets = [-8, 0]; }), /^VAE\.load: .*tensor 'encoder.mu.bias' has data_offsets \[-8,0\]; they must be two non-negative integers/],
    ["offsets that do not match the shape", () => withHeader(file, (h) => { h["encoder.mu.bias"].data_offsets = [176, 188]; }), /^VAE\.load: .*tensor 'encoder.mu.bias' has shape \[2\] of F32 \(8 bytes\), but its data_offsets \[176, 188\] span 12 bytes/],
    ["overlapping tensors", () => withHeader(file, (h) => { h["encoder.mu.bias"].data_offsets = [172, 180]; }), /^VAE\.load: .*tensor 'encoder.mu.bias' starts at byte 172 of the data, inside the tensor before it \(which ends at 176\)/],
    ["a gap between tensors", () => withHeader(file, (h) => { h["encoder.mu.bias"].data_offsets = [180, 188]; h["encoder.logvar.bias"].data_offsets = [188, 196]; }), /^VAE\.load: .*the data has a gap: bytes 176–180 belong to no tensor/],
    ["an unknown dtype", () => withHeader(file, (h) => { h["encoder.mu.bias"].dtype = "F33"; }), /^VAE\.load: .*dtype "F33", which the format does not define/],
    ["an integer dtype", () => withHeader(file, (h) => { h["encoder.mu.bias"].dtype = "I32"; }), /^VAE\.load: .*dtype I32; only floating-point tensors/],
    ["a huge shape", () => withHeader(file, (h) => { h["encoder.mu.bias"].shape = [1e20]; }), /^VAE\.load: .*has shape \[100000000000000000000\]; a shape is a list of non-negative integers/],
    ["metadata that is not strings", () => withHeader(file, (h) => { h.__metadata__.steps = 3; }), /^VAE\.load: .*__metadata__\['steps'\] must be a string; got number/],
    ["a corrupted configuration", () => withHeader(file, (h) => { h.__metadata__.config = h.__metadata__.config.slice(0, -3); }), /^VAE\.load: metadata\.config is not JSON/],
    ["a configuration value out of range", () => withHeader(file, (h) => { h.__metadata__.config = h.__metadata__.config.replace('"latentDim":2', '"latentDim":1e20'); }),
      /^VAE\.load: metadata\.config\.latentDim must be an integer in \[1, 65536\]; got 100000000000000000000/],
    ["a configuration the tensors do not match", () => withHeader(file, (h) => { h.__metadata__.config = h.__metadata__.config.replace('"hidden":[4]', '"hidden":[5]'); }),
      /^VAE\.load: tensor 'encoder.hidden.0.weight' has shape \[4, 6\] in the file; the configuration needs \[5, 6\]/],
    ["a model too large for WebAssembly's memory", () => withHeader(file, (h) => { h.__metadata__.config = h.__metadata__.config.replace('"inputDim":6', '"inputDim":1000000').replace('"hidden":[4]', '"hidden":[1000]'); }),
      /^VAE\.load: the model has [\d,]+ parameters: .* GiB, more than WebAssembly's 4 GiB memory/],
    ["a corrupted step count", () => withHeader(file, (h) => { h.__metadata__.steps = "1x"; }), /^VAE\.load: metadata\.steps must be an integer in \[0, 4294967295\] \(the optimiser steps taken\); got "1x"/],
    ["a step count out of range", () => withHeader(file, (h) => { h.__metadata__.steps = "100000000000000000000"; }), /^VAE\.load: metadata\.steps must be an integer in \[0, 4294967295\]/],
    ["another format", () => withHeader(file, (h) => { h.__metadata__.format = "vae-wasm-m2/1"; }), /^VAE\.load: the file's format is 'vae-wasm-m2\/1', not 'vae-wasm\/1' \(an M2 model: load it with SemiSupervisedVAE\.load\)/],
    ["a malformed checksum", () => withHeader(file, (h) => { h.__metadata__.checksum = "md5:abc"; }), /^VAE\.load: .*__metadata__\['checksum'\] must be "crc32:" and 8 hex digits/],
    ["a flipped bit in the weights", () => { const b = file.slice(); b[b.length - 30] ^= 0x04; return b; },
      /^VAE\.load: the file is corrupted: its tensor data does not match its checksum \(crc32 stored [0-9a-f]{8}, computed [0-9a-f]{8}\)/],
    ["not bytes", () => "model.safetensors" as unknown as Uint8Array, /^VAE\.load: expected the bytes of a safetensors file \(a Uint8Array\); got string/],
  ];
  it.each(cases)("%s", async (_name, make, message) => {
    await expect(VAE.load(make())).rejects.toThrow(message);
  });

  it("the file it writes is valid and its checksum is the CRC-32 of the data section", async () => {
    const { header, data } = split(file);
    const meta = header.__metadata__ as Record<string, string>;
    expect(meta.checksum).toBe(`crc32:${crc32Hex(data)}`);
    expect(crc32Hex(new TextEncoder().encode("123456789"))).toBe("cbf43926"); // the CRC-32 check value
    const loaded = await VAE.load(file);
    expect(loaded.stateDict()).toEqual(vae.stateDict());
    expect(loaded.stepCount).toBe(1);
    // the header stays 8-byte aligned
    expect((file.length - data.length) % 8).toBe(0);
  });

  it("a file without a checksum (PyTorch's, or an older one) loads; its data is taken as it is", async () => {
    const { header, data } = split(file);
    delete (header.__metadata__ as Record<string, string>).checksum;
    data[data.length - 30] ^= 0x04;
    const loaded = await VAE.load(join(header, data));
    const got = loaded.stateDict(), want = vae.stateDict();
    expect(Object.keys(want).some((k) => got[k].some((v, i) => v !== want[k][i]))).toBe(true);
    // a foreign file: no metadata at all, the configuration given
    const foreign = encodeSafetensors(Object.entries(vae.stateDict()).map(([name, t]) => ({ name, shape: vae.parameterShapes[name], data: t })), {}, { checksum: false });
    expect(decodeSafetensors(foreign).metadata).toEqual({});
    const f = await VAE.load(foreign, { config: { inputDim: 6, latentDim: 2, hidden: [4] } });
    expect(f.stateDict()).toEqual(vae.stateDict());
    expect(f.stepCount).toBe(0);
    await expect(VAE.load(foreign, { config: { inputDim: 6, latentDim: 0, hidden: [4] } })).rejects.toThrow(/^VAE\.load: options\.config\.latentDim must be an integer in \[1, 65536\]; got 0/);
  });

  it("the checksum is the CRC-32 of the `crc` package on any bytes, also continued over pieces", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(3000), (bytes, cut) => {
      const want = crcReference(bytes) >>> 0; // (its second argument, when given, continues a CRC; 0 is not the empty one)
      const at = Math.min(cut, bytes.length);
      return crc32(bytes) === want && crc32(bytes.subarray(at), crc32(bytes.subarray(0, at))) === want;
    }), { seed: 18, numRuns: 300 });
  });

  it("save refuses metadata keys the library writes itself; a metadata value like the checksum placeholder stays as given", async () => {
    for (const key of ["format", "config", "steps", "checksum", "checkpoint"]) {
      expect(() => vae.save({ metadata: { [key]: "x" } })).toThrow(new RegExp(`^VAE\\.save: options\\.metadata must be keys other than format, config, steps, checksum, checkpoint .*got "?${key}`));
    }
    const tricky = vae.save({ metadata: { note: 'crc32:00000000", "checksum":"crc32:00000000' } });
    const loaded = await VAE.load(tricky);
    expect(decodeSafetensors(tricky).metadata.note).toBe('crc32:00000000", "checksum":"crc32:00000000');
    expect(loaded.stateDict()).toEqual(vae.stateDict());
  });

  it("SemiSupervisedVAE.load names itself the same way", async () => {
    const m = await SemiSupervisedVAE.create({ inputDim: 6, classes: 3, latentDim: 2, hidden: [4] });
    const f = m.save();
    const flipped = f.slice();
    flipped[flipped.length - 5] ^= 1;
    await expect(SemiSupervisedVAE.load(flipped)).rejects.toThrow(/^SemiSupervisedVAE\.load: the file is corrupted: its tensor data does not match its checksum/);
    await expect(SemiSupervisedVAE.load(f.slice(0, 100))).rejects.toThrow(/^SemiSupervisedVAE\.load: not a valid safetensors file: truncated/);
    await expect(SemiSupervisedVAE.load(withHeader(f, (h) => { h.__metadata__.config = "{\"classes\": 1}"; })))
      .rejects.toThrow(/^SemiSupervisedVAE\.load: metadata\.config\.classes must be an integer in \[2, 4096\]; got 1/);
    await expect(SemiSupervisedVAE.load(file)).rejects.toThrow(/^SemiSupervisedVAE\.load: not an M2 model file written by SemiSupervisedVAE\.save \(format 'vae-wasm\/1'\)/);
    const again = await SemiSupervisedVAE.load(f);
    expect(again.stateDict()).toEqual(m.stateDict());
  });
});
