// The page's own-data preparation (web/src/prepare.ts): how a loaded dataset is split, which
// decoder it gets, how its rows are drawn, and how dropped PNG images become rows — checked here
// in Node; the browser test (web.test.ts) drops real files on the page.
import { describe, expect, it } from "vitest";
import { formatOf, imageShape, imagesToRows, prepare, unstandardise } from "../../web/src/prepare.js";

describe("the page's own data", () => {
  it("image shapes: [h, w], [h, w, c], a square row; else profiles", () => {
    expect(imageShape([28, 28], 784)).toEqual({ h: 28, w: 28, c: 1 });
    expect(imageShape([12, 10, 3], 360)).toEqual({ h: 12, w: 10, c: 3 });
    expect(imageShape([64], 64)).toEqual({ h: 8, w: 8, c: 1 });
    expect(imageShape([10], 10)).toBeNull(); // (not square)
    expect(imageShape([9], 9)).toBeNull(); // (too small to be a picture)
    expect(imageShape([4, 5, 2], 40)).toBeNull();
  });

  it("data in [0, 1] gets the Bernoulli decoder and is used as given; the last tenth is held out", () => {
    const data = Float32Array.from({ length: 200 * 3 }, (_, i) => (i % 7) / 7);
    const p = prepare({ data, rows: 200, cols: 3, shape: [3] }, "a.csv");
    expect([p.likelihood, p.trainRows, p.testRows, p.mean, p.image]).toEqual(["bernoulli", 180, 20, null, null]);
    expect(p.train).toEqual(data.subarray(0, 540));
    expect(p.test).toEqual(data.subarray(540));
    expect(p.note).toBe("a.csv: 200 rows × 3 values, values in [0, 1]: Bernoulli decoder; 20 held-out rows shown");
  });

  it("other data is standardised with the training rows' statistics (a constant column keeps sd 1) and drawn back on its own scale", () => {
    const rows = 50, cols = 4;
    const data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) data[r * cols + j] = j === 3 ? 7 : 100 * j + r;
    const p = prepare({ data, rows, cols, shape: [cols] }, "b.csv");
    expect(p.likelihood).toBe("gaussian");
    expect([p.trainRows, p.testRows]).toEqual([45, 5]);
    for (let j = 0; j < 3; j++) {
      let s = 0, s2 = 0;
      for (let r = 0; r < 45; r++) { s += p.train[r * cols + j]; s2 += p.train[r * cols + j] ** 2; }
      expect(Math.abs(s / 45)).toBeLessThan(1e-5);
      expect(Math.abs(s2 / 45 - 1)).toBeLessThan(1e-5);
    }
    expect(p.sd![3]).toBe(1);
    const back = unstandardise(Float32Array.from(p.test), p);
    for (let i = 0; i < back.length; i++) expect(back[i]).toBeCloseTo(data[45 * cols + i], 3);
    expect(p.note).toMatch(/^b\.csv: 50 rows × 4 values, values in \[0, 249\]: standardised per column, Gaussian decoder with learned variance; 5 held-out rows shown$/);
    expect(() => prepare({ data: new Float32Array(10), rows: 10, cols: 1, shape: [1] }, "tiny.csv")).toThrow(/^tiny\.csv has 10 rows; the page needs at least 20/);
  });

  it("PNG images become rows in the library's order: grey when every pixel is, else RGB (pixel by pixel); all one size", () => {
    const rgba = (w: number, h: number, f: (p: number) => [number, number, number]) => {
      const a = new Uint8ClampedArray(4 * w * h);
      for (let p = 0; p < w * h; p++) { a.set(f(p), 4 * p); a[4 * p + 3] = 255; }
      return a;
    };
    const grey = imagesToRows([
      { name: "a.png", width: 2, height: 3, rgba: rgba(2, 3, (p) => [p * 40, p * 40, p * 40]) },
      { name: "b.png", width: 2, height: 3, rgba: rgba(2, 3, () => [255, 255, 255]) },
    ]);
    expect([grey.rows, grey.cols, grey.shape]).toEqual([2, 6, [3, 2]]);
    expect(Array.from(grey.data.subarray(0, 6), (v) => Math.round(v * 255))).toEqual([0, 40, 80, 120, 160, 200]);
    const rgb = imagesToRows([
      { name: "a.png", width: 2, height: 1, rgba: rgba(2, 1, (p) => [10 + p, 20 + p, 30 + p]) },
      { name: "b.png", width: 2, height: 1, rgba: rgba(2, 1, () => [5, 5, 5]) },
    ]);
    expect([rgb.cols, rgb.shape]).toEqual([6, [1, 2, 3]]);
    expect(Array.from(rgb.data, (v) => Math.round(v * 255))).toEqual([10, 20, 30, 11, 21, 31, 5, 5, 5, 5, 5, 5]);
    expect(() => imagesToRows([
      { name: "a.png", width: 2, height: 1, rgba: new Uint8ClampedArray(8) },
      { name: "b.png", width: 1, height: 2, rgba: new Uint8ClampedArray(8) },
    ])).toThrow(/^b\.png is 1×2; a\.png \(the first image\) is 2×1\. All images must be the same size\./);
  });

  it("file names pick CSV or TSV; other formats are recognised by their bytes", () => {
    expect([formatOf("x.tsv"), formatOf("x.CSV"), formatOf("x.txt"), formatOf("x.npy"), formatOf("train-images-idx3-ubyte")]).toEqual(["tsv", "csv", "csv", undefined, undefined]);
  });
});
