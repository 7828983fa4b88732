// A sparse first layer: when at most half of a batch's inputs are nonzero (binarized or grey
// MNIST digits: ~19 %), the forward walks each row's nonzero list and dW skips, per panel of 8
// inputs, the examples that are all zero there. Skipped terms are exact zeros, so every result
// is bitwise the dense GEMM's (dense.ts). SIMD builds only; the engine runs the dense path on
// the scalar build. No allocation, no module state.
import { ACT_RELU, ACT_TANH, halfLanes, storeRow, tanhRows } from "./dense";
import { madd } from "./simd";

/**
 * The nonzero entries of rows [m0, m1) of X[M, K] (row stride K): row m's list starts at
 * lists + 8·m·(K + 1) bytes: its count n (i32, in 8 bytes), then n ≤ K pairs (byte offset 32·k of column k inside a
 * forward panel, as i32; the value, as f32), for gemmSparseA. Returns the total count.
 */
export function sparseRows(lists: usize, x: usize, K: i32, m0: i32, m1: i32): i32 {
  let total = 0;
  for (let m = m0; m < m1; m++) {
    const px = x + (<usize>(m * K) << 2);
    const list = lists + (<usize>m * <usize>(K + 1) << 3);
    let q = list + 8; // after the count (8 bytes keep the pairs aligned)
    let k = 0;
    if (ASC_FEATURE_SIMD) {
      // four values at a time, skipping the all-zero fours (digits' zeros come in runs)
      const zero = f32x4.splat(0);
      for (; k + 4 <= K; k += 4) {
        const v = v128.load(px + (<usize>k << 2));
        if (!v128.any_true(f32x4.ne(v, zero))) continue;
        for (let j = 0; j < 4; j++) {
          const e = load<f32>(px + (<usize>(k + j) << 2));
          if (e != 0) {
            store<i32>(q, (k + j) << 5);
            store<f32>(q, e, 4);
            q += 8;
          }
        }
      }
    }
    for (; k < K; k++) {
      const v = load<f32>(px + (<usize>k << 2));
      if (v != 0) {
        store<i32>(q, k << 5);
        store<f32>(q, v, 4);
        q += 8;
      }
    }
    const n = <i32>((q - list - 8) >> 3);
    store<i32>(list, n);
    total += n;
  }
  return total;
}

/**
 * C = act(X·Wᵀ + bias) for rows [m0, m1) with X[M, K] given by its nonzero lists (sparseRows)
 * and W by its forward panels (packRows) over kp ≥ K inputs, of which X meets the first K (a
 * layer whose input is [x, y] multiplies x alone this way: M2's encoder). Skipping a zero term
 * changes no sum: the accumulators start at +0, a product 0·w is ±0 for finite w, and adding ±0
 * to a sum that is not -0 leaves it as it is, so C is bitwise gemm's (same per-element order of
 * the nonzero terms). Per panel, every row's list: the panel (8·kp floats) stays in cache while
 * all rows use it.
 */
export function gemmSparseA(
  c: usize, ldc: i32, lists: usize, K: i32, packed: usize, kp: i32, bias: usize, m0: i32, m1: i32, n: i32, act: i32,
): void {
  if (!ASC_FEATURE_SIMD) return; // the engine uses gemm on builds without SIMD
  const relu = act == ACT_RELU;
  const rowC = <usize>ldc << 2;
  const panelBytes = <usize>kp << 5;
  let j0 = 0;
  // two panels per pass: each nonzero's index and value are loaded once for 16 outputs
  for (; j0 + 16 <= n; j0 += 16) {
    const panel = packed + (<usize>j0 * <usize>kp << 2);
    let bl0 = f32x4.splat(0), bh0 = f32x4.splat(0), bl1 = f32x4.splat(0), bh1 = f32x4.splat(0);
    if (bias != 0) {
      const pb = bias + (<usize>j0 << 2);
      bl0 = v128.load(pb); bh0 = v128.load(pb, 16); bl1 = v128.load(pb, 32); bh1 = v128.load(pb, 48);
    }
    for (let m = m0; m < m1; m++) {
      const list = lists + (<usize>m * <usize>(K + 1) << 3);
      const end = list + 8 + (<usize>load<i32>(list) << 3);
      let lo0 = f32x4.splat(0), hi0 = f32x4.splat(0), lo1 = f32x4.splat(0), hi1 = f32x4.splat(0);
      for (let q = list + 8; q < end; q += 8) {
        const pb = panel + <usize>load<i32>(q);
        const a = v128.load32_splat(q, 4);
        lo0 = madd(a, v128.load(pb), lo0);
        hi0 = madd(a, v128.load(pb, 16), hi0);
        lo1 = madd(a, v128.load(pb + panelBytes), lo1);
        hi1 = madd(a, v128.load(pb + panelBytes, 16), hi1);
      }
      const pc = c + <usize>m * rowC + (<usize>j0 << 2);
      storeRow(pc, lo0, hi0, bl0, bh0, 8, 0, relu);
      storeRow(pc + 32, lo1, hi1, bl1, bh1, 8, 0, relu);
    }
  }
  for (; j0 < n; j0 += 8) {
    const nb = min(8, n - j0);
    const panel = packed + (<usize>j0 * <usize>kp << 2);
    let bl = f32x4.splat(0), bh = f32x4.splat(0);
    if (bias != 0) {
      bl = halfLanes(bias + (<usize>j0 << 2), nb, 0);
      bh = halfLanes(bias + (<usize>j0 << 2), nb, 1);
    }
    for (let m = m0; m < m1; m++) {
      const list = lists + (<usize>m * <usize>(K + 1) << 3);
      const cnt = load<i32>(list);
      let q = list + 8;
      let lo = f32x4.splat(0), hi = f32x4.splat(0);
      for (let t = 0; t < cnt; t++) {
        const pb = panel + <usize>load<i32>(q);
        const a = v128.load32_splat(q, 4);
        lo = madd(a, v128.load(pb), lo);
        hi = madd(a, v128.load(pb, 16), hi);
        q += 8;
      }
      storeRow(c + <usize>m * rowC + (<usize>j0 << 2), lo, hi, bl, bh, nb, 0, relu);
    }
  }
  if (act == ACT_TANH) tanhRows(c, ldc, m0, m1, n);
}

/**
 * dW[o, d] = Σ_b A[b, o]·X[b, d] for rows o in [m0, m1) and every column d < D (C's row stride
 * ldc ≥ D: a layer's weight whose first D inputs are X):
 * the weight gradient of a layer whose input X[rows, D] is sparse, A = dY[rows, O]. Per panel of
 * 8 columns, only the examples with a nonzero among them are summed (in example order; the
 * others add exact zeros, see gemmSparseA), so C is bitwise gemm's dYᵀ·X. Those examples' 8
 * values are first gathered into a contiguous panel (zero past D) beside the byte offsets of
 * their dY rows, so the 4×8 inner loop reads one index and streams the panel, with no row
 * arithmetic or edge test (per kept term, 1.6–2× the rate of reading X in place).
 * scratch: 9·rows + 8 floats.
 */
export function gemmSparseB(c: usize, ldc: i32, a: usize, O: i32, x: usize, D: i32, rows: i32, m0: i32, m1: i32, scratch: usize): void {
  if (!ASC_FEATURE_SIMD) return; // the engine runs dW dense without SIMD
  const rowX = <usize>D << 2, rowA = <usize>O << 2, rowC = <usize>ldc << 2;
  const zero = f32x4.splat(0);
  const offs = scratch;                                          // rows i32: byte offsets of the kept dY rows
  const xg = (scratch + (<usize>rows << 2) + 31) & ~<usize>31;   // rows × 8 floats: their values in the panel
  for (let j0 = 0; j0 < D; j0 += 8) {
    const nb = min(8, D - j0);
    // gather the examples with a nonzero in columns j0 … j0 + nb - 1
    let cnt = 0;
    for (let b = 0; b < rows; b++) {
      const px = x + <usize>b * rowX + (<usize>j0 << 2);
      let lo = zero, hi = zero;
      if (nb == 8) {
        lo = v128.load(px);
        hi = v128.load(px, 16);
      } else {
        lo = halfLanes(px, nb, 0);
        hi = halfLanes(px, nb, 1);
      }
      if (v128.any_true(v128.or(f32x4.ne(lo, zero), f32x4.ne(hi, zero)))) {
        const q = xg + (<usize>cnt << 5);
        v128.store(q, lo);
        v128.store(q, hi, 16);
        store<i32>(offs + (<usize>cnt << 2), <i32>(<usize>b * rowA));
        cnt++;
      }
    }
    const offEnd = offs + (<usize>cnt << 2);
    let o = m0;
    for (; o + 4 <= m1; o += 4) {
      let c00 = zero, c01 = zero, c10 = zero, c11 = zero;
      let c20 = zero, c21 = zero, c30 = zero, c31 = zero;
      const pa0 = a + (<usize>o << 2);
      let q = xg;
      for (let po = offs; po < offEnd; po += 4) {
        const pa = pa0 + <usize>load<i32>(po);
        const b0 = v128.load(q), b1 = v128.load(q, 16);
        const a0 = v128.load32_splat(pa), a1 = v128.load32_splat(pa, 4);
        const a2 = v128.load32_splat(pa, 8), a3 = v128.load32_splat(pa, 12);
        c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
        c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
        c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
        c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        q += 32;
      }
      const pc = c + <usize>o * rowC + (<usize>j0 << 2);
      storeRow(pc, c00, c01, zero, zero, nb, 0, false);
      storeRow(pc + rowC, c10, c11, zero, zero, nb, 0, false);
      storeRow(pc + 2 * rowC, c20, c21, zero, zero, nb, 0, false);
      storeRow(pc + 3 * rowC, c30, c31, zero, zero, nb, 0, false);
    }
    // leftover rows of dW one at a time (the same per-element sums)
    for (; o < m1; o++) {
      let c00 = zero, c01 = zero;
      const pa0 = a + (<usize>o << 2);
      let q = xg;
      for (let po = offs; po < offEnd; po += 4) {
        const a0 = v128.load32_splat(pa0 + <usize>load<i32>(po));
        c00 = madd(a0, v128.load(q), c00);
        c01 = madd(a0, v128.load(q, 16), c01);
        q += 32;
      }
      storeRow(c + <usize>o * rowC + (<usize>j0 << 2), c00, c01, zero, zero, nb, 0, false);
    }
  }
}

/** Number of nonzero values in p[0:n) (NaN counts as nonzero). */
export function countNonzero(p: usize, n: i32): i32 {
  let cnt = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    let acc = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) acc = i32x4.sub(acc, f32x4.ne(v128.load(p + (<usize>i << 2)), zero)); // true lanes are -1
    cnt = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  }
  for (; i < n; i++) if (load<f32>(p + (<usize>i << 2)) != 0) cnt++;
  return cnt;
}
