// IDX parsing (raw and gzip, every element type's byte order), MNIST loading, and the PNG grid
// writer checked by decoding the file it wrote.
import { gzipSync } from "node:zlib";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { imagesToMatrix, parseIdx, readIdxFile } from "../../src/data/idx.js";
import { loadMnist } from "../../src/data/mnist.js";
import { decodePng, gridPng, pairsGrid } from "../../src/pictures/image.js";

function idx(type: number, shape: number[], values: number[], width: number, put: (dv: DataView, at: number, v: number) => void): Uint8Array {
  const head = 4 + 4 * shape.length;
  const out = new Uint8Array(head + values.length * width);
  const dv = new DataView(out.buffer);
  out[2] = type;
  out[3] = shape.length;
  shape.forEach((s, i) => dv.setUint32(4 + 4 * i, s, false));
  values.forEach((v, i) => put(dv, head + i * width, v));
  return out;
}

describe("IDX files", () => {
  it("parses u8 images and big-endian i16/i32/f32/f64 arrays", () => {
    const u8 = parseIdx(idx(0x08, [2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255], 1, (dv, at, v) => dv.setUint8(at, v)));
    expect(u8.shape).toEqual([2, 2, 3]);
    expect(Array.from(u8.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    const m = imagesToMatrix(u8);
    expect(m.rows).toBe(2);
    expect(m.cols).toBe(6);
    expect(m.data[11]).toBe(1);
    expect(m.data[1]).toBeCloseTo(1 / 255, 7);
    expect(Array.from(parseIdx(idx(0x0b, [3], [-2, 300, 7], 2, (dv, at, v) => dv.setInt16(at, v, false))).data)).toEqual([-2, 300, 7]);
    expect(Array.from(parseIdx(idx(0x0c, [2], [-70000, 5], 4, (dv, at, v) => dv.setInt32(at, v, false))).data)).toEqual([-70000, 5]);
    expect(Array.from(parseIdx(idx(0x0d, [2], [1.5, -0.25], 4, (dv, at, v) => dv.setFloat32(at, v, false))).data)).toEqual([1.5, -0.25]);
    expect(Array.from(parseIdx(idx(0x0e, [1], [Math.PI], 8, (dv, at, v) => dv.setFloat64(at, v, false))).data)).toEqual([Math.PI]);
  });

  it("reads gzip files as well as raw ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "idx-"));
    const bytes = idx(0x08, [1, 2, 2], [9, 8, 7, 6], 1, (dv, at, v) => dv.setUint8(at, v));
    writeFileSync(join(dir, "a.idx"), bytes);
    writeFileSync(join(dir, "a.idx.gz"), gzipSync(bytes));
    expect(Array.from((await readIdxFile(join(dir, "a.idx.gz"))).data)).toEqual([9, 8, 7, 6]);
    expect(Array.from((await readIdxFile(join(dir, "a.idx"))).data)).toEqual([9, 8, 7, 6]);
  });

  it("rejects files that are not IDX or are truncated, saying which", () => {
    expect(() => parseIdx(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), "x.png")).toThrow(/x\.png: not an IDX file.*0x89 0x50 0x4e 0x47/);
    const full = idx(0x08, [10, 28, 28], [], 1, () => {});
    expect(() => parseIdx(full, "short")).toThrow(/short: truncated: shape \[10,28,28\] of u8 needs 7856 bytes, the file has 16/);
    expect(() => parseIdx(new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 1]), "odd")).toThrow(/unknown IDX element type 0x42/);
  });

  it("loads the real MNIST: 60,000 + 10,000 images of 784 grey levels in [0, 1] with labels 0..9", async () => {
    const ds = await loadMnist();
    expect([ds.train.rows, ds.train.cols, ds.test.rows, ds.test.cols]).toEqual([60000, 784, 10000, 784]);
    expect(ds.trainLabels.length).toBe(60000);
    expect(ds.testLabels.length).toBe(10000);
    expect(Math.max(...ds.testLabels)).toBe(9);
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of ds.train.data) { min = Math.min(min, v); max = Math.max(max, v); sum += v; }
    expect([min, max]).toEqual([0, 1]);
    // the mean MNIST grey level is 0.1307 (the constant torchvision's normalisation uses)
    expect(Math.abs(sum / ds.train.data.length - 0.1307)).toBeLessThan(5e-4);
    expect(Array.from(ds.testLabels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });
});

describe("PNG grids", () => {
  it("writes tiles whose decoded pixels equal the input grey levels, with gaps in the background grey", () => {
    const w = 3, h = 2, n = 5;
    const imgs = Float32Array.from({ length: n * w * h }, (_, i) => (i % 7) / 6);
    const bytes = gridPng(imgs, n, { width: w, height: h, columns: 3, gap: 1, scale: 2, background: 0.5 });
    const { width, height, rgba } = decodePng(bytes);
    expect(width).toBe((3 * (w + 1) + 1) * 2);
    expect(height).toBe((2 * (h + 1) + 1) * 2);
    const px = (x: number, y: number) => rgba[(y * width + x) * 4];
    for (let t = 0; t < n; t++) {
      const ox = (1 + (t % 3) * (w + 1)) * 2, oy = (1 + Math.floor(t / 3) * (h + 1)) * 2;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const want = Math.round(255 * imgs[t * w * h + y * w + x]);
          for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) expect(px(ox + 2 * x + dx, oy + 2 * y + dy)).toBe(want);
        }
      }
    }
    expect(px(0, 0)).toBe(128); // gap
    expect(px(width - 1, height - 1)).toBe(128); // the empty sixth tile stays background
    expect(rgba[3]).toBe(255);
  });

  it("pairsGrid puts every input directly above its reconstruction", () => {
    const dim = 2, n = 3, cols = 2;
    const inputs = Float32Array.from([1, 1, 2, 2, 3, 3]), recon = Float32Array.from([-1, -1, -2, -2, -3, -3]);
    const g = pairsGrid(inputs, recon, n, cols, dim);
    // rows of 2 tiles: [1, 2], [-1, -2], [3, _], [-3, _]
    expect(Array.from(g)).toEqual([1, 1, 2, 2, -1, -1, -2, -2, 3, 3, 0, 0, -3, -3, 0, 0]);
  });
});
