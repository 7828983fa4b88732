// Row helpers on data matrices.
import type { Matrix } from "../util/validate.js";
import { SeededRandom } from "../util/random.js";

/** The first n rows of a matrix (a view, no copy). */
export function takeRows(m: Matrix, n: number): Matrix {
  return sliceRows(m, 0, n);
}

/** Rows from..from+n−1 of a matrix (a view, no copy); n defaults to the rest. */
export function sliceRows(m: Matrix, from: number, n = m.rows - from): Matrix {
  const start = Math.min(from, m.rows), rows = Math.min(n, m.rows - start);
  return { data: m.data.subarray(start * m.cols, (start + rows) * m.cols), rows, cols: m.cols };
}

/**
 * One fixed stochastic binarization of grey levels: x ~ Bernoulli(p) per pixel, from a seeded
 * generator (the same seed gives the same binary test set, for comparable evaluations).
 */
export function binarize(m: Matrix, seed: number): Matrix {
  const rng = new SeededRandom(seed, 7);
  const data = new Float32Array(m.rows * m.cols);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < m.data[i] ? 1 : 0;
  return { data, rows: m.rows, cols: m.cols };
}
