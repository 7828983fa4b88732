// Your own data: CSV/TSV, .npy, IDX and folders of PNG images read into float32 rows, checked
// against the values that were written (property tests over random matrices and every way of
// writing them) and every bad file named with its line and column.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import pngjs from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "vae-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const enc = (s: string) => new TextEncoder().encode(s);

const matrix = fc.integer({ min: 1, max: 12 }).chain((cols) => fc.record({
  cols: fc.constant(cols),
  values: fc.array(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 15 }),
}));

/** A .npy file as np.save writes it (version 1.0, header padded to 64 bytes). */
function npy(descr: string, shape: number[], body: Uint8Array, fortran = false): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  while ((10 + h.length + 1) % 64) h += " ";
  h += "\n";
  const out = new Uint8Array(10 + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(enc(h), 10);
  out.set(body, 10 + h.length);
  return out;
}

describe("loadDataset reads the values that were written", () => {
  it("CSV/TSV of any float32 values, written any way (plain, exponent, quoted; comma or tab; header; CRLF; blank lines)", async () => {
    await fc.assert(fc.asyncProperty(matrix, fc.record({
      tab: fc.boolean(), header: fc.boolean(), crlf: fc.boolean(), trailing: fc.boolean(), style: fc.constantFrom("string", "exp", "quoted", "precise"),
    }), async ({ cols, values }, o) => {
      const cell = (v: number) => o.style === "exp" ? v.toExponential() : o.style === "quoted" ? `"${v}"` : o.style === "precise" ? v.toPrecision(17) : String(v);
      const d = o.tab ? "\t" : ",", nl = o.crlf ? "\r\n" : "\n";
      const lines = values.map((r) => r.map(cell).join(d));
      if (o.header) lines.unshift(Array.from({ length: cols }, (_, j) => `x${j}`).join(d));
      const text = lines.join(nl) + (o.trailing ? nl + nl : "");
      const ds = await loadDataset(enc(text));
      expect([ds.rows, ds.cols, ds.format, ds.scaled]).toEqual([values.length, cols, "csv", false]);
      expect(Array.from(ds.data)).toEqual(values.flat().map((v) => Math.fround(Number(cell(v).replace(/"/g, "")))).map((v) => (Object.is(v, -0) ? -0 : v)));
      if (o.header) expect(ds.columns).toEqual(Array.from({ length: cols }, (_, j) => `x${j}`));
    }), { numRuns: 300 });
  });

  it("a file read in pieces (cells split across the 4 MiB reads) gives the values of the same bytes in memory", async () => {
    const row = Array.from({ length: 97 }, (_, j) => ((j * 7919) % 1000) / 997).map((v) => v.toFixed(6)).join(",");
    const text = Array.from({ length: 7000 }, () => row).join("\n");
    const file = join(dir, "big.csv");
    writeFileSync(file, text);
    const [a, b] = [await loadDataset(file), await loadDataset(enc(text))];
    expect(a.rows).toBe(7000);
    // (compared as bytes: a deep equality of 679,000 elements takes seconds)
    expect(Buffer.compare(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer))).toBe(0);
    expect(a.data[96]).toBe(Math.fround(Number(row.split(",")[96])));
  });

  it(".npy float32, float64, uint8 (either byte order), any shape N×…: rows flattened in C order, uint8 scaled by 1/255", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom("<f4", ">f4", "<f8", ">f8", "|u1"), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1e6 }),
      async (descr, shape, seed) => {
        const n = shape.reduce((a, b) => a * b, 1), size = descr.endsWith("8") ? 8 : descr.endsWith("4") ? 4 : 1;
        const body = new Uint8Array(n * size), dv = new DataView(body.buffer), want: number[] = [];
        for (let i = 0; i < n; i++) {
          const v = ((seed + i * 2654435761) % 1000) / 7 - 50;
          if (size === 1) { body[i] = (seed + i) % 256; want.push(Math.fround(body[i] / 255)); }
          else if (size === 4) { dv.setFloat32(4 * i, v, descr[0] === "<"); want.push(Math.fround(v)); }
          else { dv.setFloat64(8 * i, v, descr[0] === "<"); want.push(Math.fround(v)); }
        }
        const ds = await loadDataset(npy(descr, shape, body));
        expect([ds.rows, ds.cols, ds.shape, ds.scaled]).toEqual([shape[0], n / shape[0], shape.length > 1 ? shape.slice(1) : [1], size === 1]);
        expect(Array.from(ds.data)).toEqual(want);
        const file = join(dir, `a${seed}.npy`);
        writeFileSync(file, npy(descr, shape, body));
        expect((await loadDataset(file)).data).toEqual(ds.data);
      }), { numRuns: 150 });
  });

  it("IDX as MNIST ships it, and a folder of PNG images (grey or RGB, H×W×C)", async () => {
    const idx = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, ...Array.from({ length: 12 }, (_, i) => i * 20)]);
    const ds = await loadDataset(idx);
    expect([ds.rows, ds.cols, ds.shape, ds.format, ds.scaled]).toEqual([2, 6, [2, 3], "idx", true]);
    expect(ds.data[7]).toBe(Math.fround(140 / 255));
    for (const rgb of [false, true]) {
      const folder = join(dir, rgb ? "rgb" : "grey");
      mkdirSync(folder);
      for (const k of [10, 2]) {
        const png = new pngjs.PNG({ width: 3, height: 2 });
        for (let p = 0; p < 6; p++) png.data.set([k + p, rgb ? 100 + p : k + p, rgb ? 200 + p : k + p, 255], 4 * p);
        writeFileSync(join(folder, `img${k}.png`), pngjs.PNG.sync.write(png, { colorType: rgb ? 2 : 0 }));
      }
      const f = await loadDataset(folder);
      expect([f.rows, f.cols, f.shape, f.format]).toEqual([2, rgb ? 18 : 6, rgb ? [2, 3, 3] : [2, 3], "png"]);
      // natural order: img2 before img10; pixel 1's channels together
      expect(Array.from(f.data.subarray(rgb ? 3 : 1, rgb ? 6 : 2))).toEqual((rgb ? [3, 101, 201] : [3]).map((v) => Math.fround(v / 255)));
    }
    const mixed = join(dir, "mixed");
    mkdirSync(mixed);
    writeFileSync(join(mixed, "a.png"), pngjs.PNG.sync.write(new pngjs.PNG({ width: 3, height: 2 })));
    writeFileSync(join(mixed, "b.png"), pngjs.PNG.sync.write(new pngjs.PNG({ width: 2, height: 2 })));
    await expect(loadDataset(mixed)).rejects.toThrow(/^loadDataset: .*b\.png is 2×2; a\.png \(the first image\) is 3×2\. All images must be the same size/);
  });

  it("blank lines before the header or the first row are skipped", async () => {
    const ds = await loadDataset(enc("\n  \r\n\nx,y\n1,2\n\n3,4\n"));
    expect([ds.rows, ds.cols, Array.from(ds.data), ds.columns]).toEqual([2, 2, [1, 2, 3, 4], ["x", "y"]]);
    await expect(loadDataset(enc("\n \n"))).rejects.toThrow(/^loadDataset: the data is empty \(no rows\)/);
  });

  it("bytes with a name: errors name the file, and .tsv picks the tab delimiter", async () => {
    await expect(loadDataset(enc("1,2\n3,x\n"), { name: "my.csv" })).rejects.toThrow(/^loadDataset: my\.csv line 2, column 2/);
    const ds = await loadDataset(enc("1\t2\n3\t4\n"), { name: "t.tsv" });
    expect([ds.rows, ds.cols, ds.format]).toEqual([2, 2, "tsv"]);
    await expect(loadDataset(enc("1\n"), { name: "" })).rejects.toThrow(/^loadDataset: options\.name must be a non-empty string/);
  });

  it("a label column comes out of the data as integers", async () => {
    const ds = await loadDataset(enc("label,a,b\n3,0.5,0.25\n1,1,0\n"), { labelColumn: "label" });
    expect([ds.cols, Array.from(ds.labels!), Array.from(ds.data), ds.columns]).toEqual([2, [3, 1], [0.5, 0.25, 1, 0], ["a", "b"]]);
    await expect(loadDataset(enc("label,a\n0.5,1\n"), { labelColumn: 0 })).rejects.toThrow(/^loadDataset: the data row 1, column 1 \(the labels\): expected an integer class label ≥ 0, found 0\.5/);
  });
});

describe("loadDataset names what is wrong, and where", () => {
  const bad: [string, string | Uint8Array, RegExp][] = [
    ["a ragged row", "1,2,3\n4,5,6\n7,8\n", /^loadDataset: the data line 3: expected 3 cells \(as in the first row\), found 2 \(a ragged row\)/],
    ["a long row", "1,2\n3,4,5\n", /^loadDataset: the data line 2, column 3: expected 2 cells \(as in the first row\), found a row of more than 2 cells/],
    ["a word", "1,2\n3,abc\n", /^loadDataset: the data line 2, column 2: expected a number, found 'abc'/],
    ["NaN", "x,y\n1,2\nNaN,4\n", /^loadDataset: the data line 3, column 1: expected a finite number \(NaN and infinities are not data\), found 'NaN'/],
    ["Infinity", "1,-Infinity\n", /line 1, column 2: expected a finite number .*found '-Infinity'/],
    ["too large for float32", "1,1e39\n", /line 1, column 2: expected a number within float32's range/],
    ["an empty cell", "1,,3\n", /line 1, column 2: expected a number, found an empty cell/],
    ["an empty file", "", /^loadDataset: the data is empty \(no rows\)/],
    ["only a header", "a,b\n", /^loadDataset: the data has no data rows \(only a header line\)/],
    ["a Fortran-order .npy", npy("<f4", [2, 2], new Uint8Array(16), true), /^loadDataset: the data: the array is in Fortran \(column-major\) order; save it in C order/],
    ["an int32 .npy", npy("<i4", [2, 2], new Uint8Array(16)), /^loadDataset: the data: dtype '<i4' is not supported; expected float32 \('<f4'\), float64 \('<f8'\) or uint8/],
    ["a truncated .npy", npy("<f4", [2, 2], new Uint8Array(12)), /^loadDataset: the data is truncated: its header's shape needs 16 bytes of data, the file has 12/],
    ["a NaN in a .npy", npy("<f4", [1, 2], new Uint8Array(new Float32Array([1, NaN]).buffer)), /^loadDataset: the data row 1, column 2: expected a finite number, found NaN/],
  ];
  for (const [what, bytes, re] of bad) {
    it(what, async () => {
      await expect(loadDataset(typeof bytes === "string" ? enc(bytes) : bytes)).rejects.toThrow(re);
    });
  }

  it("files are named by their path; a missing file and a single PNG are explained", async () => {
    const file = join(dir, "bad.csv");
    writeFileSync(file, "0.1,0.2\n0.3,x\n");
    await expect(loadDataset(file)).rejects.toThrow(new RegExp(`^loadDataset: ${file.replace(/[.]/g, "\\.")} line 2, column 2: expected a number, found 'x'`));
    await expect(loadDataset(join(dir, "nope.csv"))).rejects.toThrow(/^loadDataset: cannot read '.*nope\.csv': no such file or folder/);
    const png = join(dir, "one.png");
    writeFileSync(png, pngjs.PNG.sync.write(new pngjs.PNG({ width: 1, height: 1 })));
    await expect(loadDataset(png)).rejects.toThrow(/is a single PNG image; pass the folder/);
  });
});
