// Property-based tests (fast-check, fixed seeds) of every input shape the API accepts: a flat
// Float32Array, Float64Array or number[], rows as number[][], and {data, rows, cols}. The same
// matrix in any shape gives the same result; a malformed one is refused with an error naming
// the function, the argument and what was wrong; a bad value is reported at its row and column.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VAE, VAEArgumentError } from "../../src/index.js";

const D = 5;
const vaeP = VAE.create({ inputDim: D, latentDim: 2, hidden: [3], seed: 1 });
const RUNS = { numRuns: 150, seed: 20261204 };

/** rows × D values in [0, 1] (float32-representable), at least one row */
const matrix = fc.integer({ min: 1, max: 7 }).chain((rows) =>
  fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: rows * D, maxLength: rows * D }).map((v) => ({ rows, v })));

describe("input shapes", () => {
  it("every shape of the same matrix encodes to the same numbers", async () => {
    const vae = await vaeP;
    fc.assert(fc.property(matrix, ({ rows, v }) => {
      const f32 = Float32Array.from(v);
      const want = vae.encode(f32).mu;
      const shapes = [
        Float64Array.from(f32), Array.from(f32),
        Array.from({ length: rows }, (_, r) => Array.from(f32.subarray(r * D, (r + 1) * D))),
        { data: f32, rows, cols: D },
      ];
      for (const s of shapes) expect(vae.encode(s as never).mu).toEqual(want);
    }), RUNS);
  });

  it("{data, rows, cols} must describe its data exactly: integers ≥ 1, rows × cols = data.length", async () => {
    const vae = await vaeP;
    const bad = fc.record({
      rows: fc.oneof(fc.integer({ min: -3, max: 12 }), fc.double({ noNaN: false }), fc.constant(undefined)),
      cols: fc.oneof(fc.constant(D), fc.integer({ min: -2, max: 9 }), fc.double()),
      length: fc.integer({ min: 0, max: 40 }),
    }).filter(({ rows, cols, length }) => !(Number.isInteger(rows) && (rows as number) >= 1 && cols === D && (rows as number) * D === length));
    fc.assert(fc.property(bad, ({ rows, cols, length }) => {
      const x = { data: new Float32Array(length).fill(0.5), rows, cols };
      let err: unknown;
      try {
        vae.encode(x as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VAEArgumentError);
      expect((err as Error).message).toMatch(/^VAE\.encode: x(\.rows|\.cols|\.data)? must be /);
    }), RUNS);
    expect(() => vae.encode({ data: Float64Array.from([0, 0, 0, 0, 0]), rows: 1, cols: D } as never)).toThrow(/x\.data must be a Float32Array/);
    expect(() => vae.encode({ data: new Float32Array(40), rows: 3, cols: D })).toThrow(/VAE\.encode: x must be rows × cols = 3 × 5 = 15 values in data; got a Float32Array of length 40/);
  });

  it("a non-finite or (Bernoulli) out-of-range value is reported at its row and column, in every shape", async () => {
    const vae = await vaeP;
    const badValue = fc.oneof(fc.constant(NaN), fc.constant(Infinity), fc.constant(-Infinity), fc.double({ min: 1.0001, max: 1e6 }), fc.double({ min: -1e6, max: -1e-3 }));
    fc.assert(fc.property(matrix, fc.nat(), badValue, fc.integer({ min: 0, max: 3 }), ({ rows, v }, at, value, shape) => {
      const i = at % (rows * D);
      const f = Float32Array.from(v);
      f[i] = value;
      const x = [f, Float64Array.from(f), Array.from({ length: rows }, (_, r) => Array.from(f.subarray(r * D, (r + 1) * D))), { data: f, rows, cols: D }][shape];
      const where = `at row ${Math.floor(i / D)}, column ${i % D}`;
      expect(() => vae.encode(x as never)).toThrow(Number.isFinite(value) ? new RegExp(`values in \\[0, 1\\].*${where}`) : new RegExp(`finite numbers only; got .*${where}`));
    }), RUNS);
  });

  it("flat arrays whose length is not a multiple of the input size, and ragged rows, are refused", async () => {
    const vae = await vaeP;
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }).filter((n) => n % D !== 0), (n) => {
      expect(() => vae.encode(new Float32Array(n))).toThrow(new RegExp(`whose length is a multiple of ${D}.*length ${n}`));
    }), RUNS);
    fc.assert(fc.property(fc.integer({ min: 0, max: 12 }).filter((n) => n !== D), fc.integer({ min: 0, max: 3 }), (len, row) => {
      const rows = Array.from({ length: 4 }, (_, r) => new Array(r === row ? len : D).fill(0.5));
      expect(() => vae.encode(rows)).toThrow(new RegExp(`x\\[${row}\\] must be a row of ${D} numbers`));
    }), RUNS);
  });
});
