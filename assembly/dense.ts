// Dense layers: C[M,N] = act(A[M,K]·B[K,N] + bias[N]), or C[M,N] += A[M,K]·B[K,N].
//   A[m,k] lives at a + 4·(m·sam + k·sak) and B[k,n] at b + 4·(k·sbk + n·sbn), so the one kernel
//   serves X·Wᵀ (forward, W in PyTorch [out,in] layout), dY·W (dX) and dYᵀ·X (dW).
// Micro-kernel: 4 rows × 8 columns of C held in 8 f32x4 accumulators; A is broadcast with
//   v128.load32_splat, B is read as two f32x4 per k from a panel of 8 columns packed into
//   `scratch` (8·K floats, contiguous, zero padded past N).
// Threads split rows: [m0, m1). No allocation, no module state.
// `packed` (optional): B already packed as panels [⌈N/8⌉][K][8] (packRows below), as the forward
//   pass keeps its weights: then nothing is packed per call (the scalar build ignores it).
// `apack` (optional): room for A_PACK_ROWS·K floats; A's rows are then packed by 4, interleaved
//   by k (packA4), once per block of rows, and every panel reads them through one pointer.
import { madd, tanhVec } from "./simd";

export const ACT_IDENTITY: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_TANH: i32 = 2;

// @ts-ignore: decorator
@inline function reluIf(x: f32, act: i32): f32 {
  return act == ACT_RELU ? max(x, <f32>0) : x; // f32.max, like f32x4.max (NaN propagates)
}

// Stores the 8 columns (lo, hi) of one C row: full 8 with two v128 stores, else lane by lane.
// accumulate: C += v; otherwise C = v + bias, then max(·, 0) when relu. Only relu is fused:
// Binaryen turns an if-chain of activations into speculative code that evaluates every branch,
// so tanh here made every identity GEMM pay for 8 scalar tanh per row; tanh runs as a pass
// over the finished rows instead (gemm below).
// @ts-ignore: decorator
@inline export function storeRow(pc: usize, lo: v128, hi: v128, bl: v128, bh: v128, nb: i32, accumulate: i32, relu: bool): void {
  if (accumulate) {
    if (nb == 8) {
      v128.store(pc, f32x4.add(v128.load(pc), lo));
      v128.store(pc, f32x4.add(v128.load(pc, 16), hi), 16);
      return;
    }
  } else {
    lo = f32x4.add(lo, bl);
    hi = f32x4.add(hi, bh);
    if (relu) {
      lo = f32x4.max(lo, f32x4.splat(0));
      hi = f32x4.max(hi, f32x4.splat(0));
    }
    if (nb == 8) {
      v128.store(pc, lo);
      v128.store(pc, hi, 16);
      return;
    }
  }
  // leftovers: a panel narrower than 8 columns
  const add = accumulate != 0;
  if (nb > 0) store<f32>(pc, (add ? load<f32>(pc) : 0) + f32x4.extract_lane(lo, 0));
  if (nb > 1) store<f32>(pc + 4, (add ? load<f32>(pc + 4) : 0) + f32x4.extract_lane(lo, 1));
  if (nb > 2) store<f32>(pc + 8, (add ? load<f32>(pc + 8) : 0) + f32x4.extract_lane(lo, 2));
  if (nb > 3) store<f32>(pc + 12, (add ? load<f32>(pc + 12) : 0) + f32x4.extract_lane(lo, 3));
  if (nb > 4) store<f32>(pc + 16, (add ? load<f32>(pc + 16) : 0) + f32x4.extract_lane(hi, 0));
  if (nb > 5) store<f32>(pc + 20, (add ? load<f32>(pc + 20) : 0) + f32x4.extract_lane(hi, 1));
  if (nb > 6) store<f32>(pc + 24, (add ? load<f32>(pc + 24) : 0) + f32x4.extract_lane(hi, 2));
}

/** The four rows of a 4×8 block of C (storeRow each), rows rowC bytes apart. */
// @ts-ignore: decorator
@inline function storeRows4(pc: usize, rowC: usize, c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128,
  c30: v128, c31: v128, bl: v128, bh: v128, nb: i32, accumulate: i32, relu: bool): void {
  storeRow(pc, c00, c01, bl, bh, nb, accumulate, relu);
  storeRow(pc + rowC, c10, c11, bl, bh, nb, accumulate, relu);
  storeRow(pc + 2 * rowC, c20, c21, bl, bh, nb, accumulate, relu);
  storeRow(pc + 3 * rowC, c30, c31, bl, bh, nb, accumulate, relu);
}

/** C = act(A·B + bias) (accumulate = 0) or C += A·B (accumulate = 1), rows [m0, m1). Strides in floats. */
export function gemm(
  c: usize, ldc: i32,             // C[m,n] at c + 4·(m·ldc + n)
  a: usize, sam: i32, sak: i32,   // A[m,k]
  b: usize, sbk: i32, sbn: i32,   // B[k,n]
  bias: usize,                    // N floats, or 0 for none (ignored when accumulating)
  m0: i32, m1: i32, n: i32, k: i32,
  accumulate: i32, act: i32,
  scratch: usize,                 // 8·K floats of packing space
  packed: usize,                  // B as packed panels, or 0
  apack: usize,                   // A_PACK_ROWS·K floats to pack A's rows into (gemmSimd), or 0
): void {
  if (ASC_FEATURE_SIMD) {
    gemmSimd(c, ldc, a, sam, sak, b, sbk, sbn, bias, m0, m1, n, k, accumulate, act == ACT_RELU, scratch, packed, 0, apack);
  } else {
    gemmScalar(c, ldc, a, sam, sak, b, sbk, sbn, bias, m0, m1, n, k, accumulate, act == ACT_RELU ? ACT_RELU : ACT_IDENTITY, scratch);
  }
  if (act == ACT_TANH && !accumulate) tanhRows(c, ldc, m0, m1, n);
}

/**
 * C (= or +=) A·W for rows [m0, m1), W[O, I] given only as its forward panels (packRows: w[p][i][j]
 * = W[8p+j, i]): the input gradient dX = dY·W of a layer without reading its row-major weights.
 * Each output is the same sequence of float operations as gemm's with B = W row-major (bitwise
 * equal). On threads this matters: the rows of W are updated by the thread that owns them, and
 * a row-major W that the other thread had read for its dX made every one of those stores wait
 * for the other core's copy to be invalidated (Adam 2.5× slower than alone); now the panels,
 * which the forward pass reads anyway, are the only weights both threads read.
 */
export function gemmPackedT(
  c: usize, ldc: i32, a: usize, sam: i32, sak: i32, w: usize, I: i32, O: i32,
  m0: i32, m1: i32, accumulate: i32, scratch: usize, apack: usize,
): void {
  if (ASC_FEATURE_SIMD) {
    gemmSimd(c, ldc, a, sam, sak, 0, 0, 0, 0, m0, m1, I, O, accumulate, false, scratch, 0, w, apack);
    return;
  }
  // scalar: gemmScalar's arithmetic, W[o, i] read from its panel
  for (let m = m0; m < m1; m++) {
    const pa = a + (<usize>(m * sam) << 2);
    const pc = c + (<usize>(m * ldc) << 2);
    for (let i = 0; i < I; i++) {
      let s: f32 = 0;
      let p = pa;
      const sa = <usize>sak << 2;
      for (let o = 0; o < O; o++) {
        s += load<f32>(p) * load<f32>(w + ((<usize>(o >> 3) * <usize>I + <usize>i) << 5) + (<usize>(o & 7) << 2));
        p += sa;
      }
      const q = pc + (<usize>i << 2);
      if (accumulate) store<f32>(q, load<f32>(q) + s);
      else store<f32>(q, s + 0);
    }
  }
}

/** C[m, 0:n] = tanh(C[m, 0:n]) for rows [m0, m1). */
export function tanhRows(c: usize, ldc: i32, m0: i32, m1: i32, n: i32): void {
  for (let i = m0; i < m1; i++) {
    const pc = c + (<usize>(i * ldc) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      // four independent vectors per iteration: each tanh is a long dependent chain
      for (; j + 16 <= n; j += 16) {
        const o = pc + (<usize>j << 2);
        const y0 = tanhVec(v128.load(o));
        const y1 = tanhVec(v128.load(o, 16));
        const y2 = tanhVec(v128.load(o, 32));
        const y3 = tanhVec(v128.load(o, 48));
        v128.store(o, y0);
        v128.store(o, y1, 16);
        v128.store(o, y2, 32);
        v128.store(o, y3, 48);
      }
      for (; j + 8 <= n; j += 8) {
        const o = pc + (<usize>j << 2);
        const y0 = tanhVec(v128.load(o));
        const y1 = tanhVec(v128.load(o, 16));
        v128.store(o, y0);
        v128.store(o, y1, 16);
      }
      for (; j + 4 <= n; j += 4) {
        const o = pc + (<usize>j << 2);
        v128.store(o, tanhVec(v128.load(o)));
      }
    }
    // leftovers
    for (; j < n; j++) {
      const o = pc + (<usize>j << 2);
      store<f32>(o, Mathf.tanh(load<f32>(o)));
    }
  }
}

// Transposes the 4×4 block whose rows are at src + k·ss (k = 0..3) into rows at dst + k·ds: row k
// of the result holds lane k of the four source rows. Byte strides.
// @ts-ignore: decorator
@inline function transpose4(dst: usize, ds: usize, src: usize, ss: usize): void {
  const a = v128.load(src), b = v128.load(src + ss), c = v128.load(src + 2 * ss), d = v128.load(src + 3 * ss);
  const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
  const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
  const t2 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5)); // a0 b0 c0 d0
  v128.store(dst + ds, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * ds, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * ds, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

// Packs columns j0:j0+nb of W[K, N] into scratch as [K][8] (zero padded past nb), W given as its
// forward panels (w[p][n][q] = W[8p+q, n], N floats of 8 per panel): each 8×8 block is a
// transpose of 64 contiguous floats.
// @ts-ignore: decorator
@inline function packPanelT(scratch: usize, w: usize, N: i32, j0: i32, nb: i32, k: i32): void {
  for (let k0 = 0; k0 < k; k0 += 8) {
    const src = w + ((<usize>(k0 >> 3) * <usize>N + <usize>j0) << 5);
    const dst = scratch + (<usize>k0 << 5);
    const rows = min(8, k - k0);
    if (ASC_FEATURE_SIMD && nb == 8 && rows == 8) {
      transpose4(dst, 32, src, 32);             // rows k0..k0+3, columns 0..3
      transpose4(dst + 16, 32, src + 128, 32);  // rows k0..k0+3, columns 4..7
      transpose4(dst + 128, 32, src + 16, 32);  // rows k0+4..k0+7, columns 0..3
      transpose4(dst + 144, 32, src + 144, 32); // rows k0+4..k0+7, columns 4..7
    } else {
      // an edge block: rows past K are not written, columns past nb are zero (reading them
      // would run into the next panel)
      for (let q = 0; q < rows; q++) {
        for (let r = 0; r < 8; r++) {
          store<f32>(dst + (<usize>q << 5) + (<usize>r << 2), r < nb ? load<f32>(src + (<usize>r << 5) + (<usize>q << 2)) : 0);
        }
      }
    }
  }
}

// Packs B[0:K, j0:j0+nb] into scratch as [K][8] (zero padded past nb).
// @ts-ignore: decorator
@inline function packPanel(scratch: usize, b: usize, sbk: i32, sbn: i32, j0: i32, nb: i32, k: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (sbn == 1 && nb == 8) {
      // row-major B: two vector copies per k
      let src = b + (<usize>j0 << 2);
      let dst = scratch;
      const step = <usize>sbk << 2;
      for (let kk = 0; kk < k; kk++) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
        src += step;
      }
      return;
    }
  }
  for (let jj = 0; jj < 8; jj++) {
    let dst = scratch + (<usize>jj << 2);
    if (jj < nb) {
      let src = b + (<usize>((j0 + jj) * sbn) << 2);
      const step = <usize>sbk << 2;
      for (let kk = 0; kk < k; kk++) {
        store<f32>(dst, load<f32>(src));
        dst += 32;
        src += step;
      }
    } else {
      for (let kk = 0; kk < k; kk++) {
        store<f32>(dst, 0);
        dst += 32;
      }
    }
  }
}

/**
 * Lanes 4·half … 4·half + 3 of the nb ≤ 8 floats at pb (a panel's bias, or a sparse input's
 * row), zeros past nb; never reads past them.
 */
// @ts-ignore: decorator
@inline export function halfLanes(pb: usize, nb: i32, half: i32): v128 {
  const first = half << 2;
  if (nb >= first + 4) return v128.load(pb + (<usize>first << 2));
  let v = f32x4.splat(0);
  const p = pb + (<usize>first << 2);
  if (nb > first) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (nb > first + 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (nb > first + 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Rows of A packed per block by gemmSimd (its `apack` area holds A_PACK_ROWS·K floats). */
export const A_PACK_ROWS: i32 = 256;

/**
 * Packs rows [m0, m1) of A (m1 - m0 a multiple of 4) as blocks of 4 rows interleaved by k:
 * dst[(i - m0)/4][kk][r] = A[i + r, kk]. The micro-kernel then reads one pointer with fixed
 * offsets instead of four row pointers that V8 advances with an integer op each per k, which
 * on a 6-wide core (Zen 3) bounded the loop: GEMMs 9–14 % faster (plain build) and 15–20 %
 * (relaxed: 92–96 % of the FMA ceiling), the training steps 8–11 % faster, bitwise the same.
 * (Also storing A pre-broadcast, 4 lanes per value, to drop the broadcasts: no faster.)
 */
// @ts-ignore: decorator
@inline function packA4(dst: usize, a: usize, sam: i32, sak: i32, m0: i32, m1: i32, k: i32): void {
  const rowA = <usize>sam << 2, stepA = <usize>sak << 2;
  for (let i = m0; i < m1; i += 4) {
    const src = a + <usize>i * rowA;
    let kk = 0;
    if (sak == 1) {
      // rows contiguous in k (X·Wᵀ, dY·W): 4×4 transposes
      for (; kk + 4 <= k; kk += 4) transpose4(dst + (<usize>kk << 4), 16, src + (<usize>kk << 2), rowA);
    } else if (sam == 1) {
      // the four rows adjacent (dYᵀ·X): one vector per k
      for (; kk < k; kk++) v128.store(dst + (<usize>kk << 4), v128.load(src + <usize>kk * stepA));
    }
    for (; kk < k; kk++) {
      const p = src + <usize>kk * stepA, q = dst + (<usize>kk << 4);
      store<f32>(q, load<f32>(p));
      store<f32>(q, load<f32>(p + rowA), 4);
      store<f32>(q, load<f32>(p + 2 * rowA), 8);
      store<f32>(q, load<f32>(p + 3 * rowA), 12);
    }
    dst += <usize>k << 4;
  }
}

function gemmSimd(
  c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, sbk: i32, sbn: i32, bias: usize,
  m0: i32, m1: i32, n: i32, k: i32, accumulate: i32, relu: bool, scratch: usize, packed: usize, packedT: usize,
  apack: usize,
): void {
  if (apack == 0) {
    gemmRows(c, ldc, a, sam, sak, b, sbk, sbn, bias, m0, m1, n, k, accumulate, relu, scratch, packed, packedT, 0);
    return;
  }
  // blocks of A_PACK_ROWS rows, each packed once and read by every panel of B; each output is
  // the same k-ordered sum either way (bitwise equal)
  for (let r0 = m0; r0 < m1; r0 += A_PACK_ROWS) {
    const r1 = min(m1, r0 + A_PACK_ROWS);
    packA4(apack, a, sam, sak, r0, r0 + ((r1 - r0) & ~3), k);
    gemmRows(c, ldc, a, sam, sak, b, sbk, sbn, bias, r0, r1, n, k, accumulate, relu, scratch, packed, packedT, apack);
  }
}

/**
 * The micro-kernel over rows [m0, m1) and every panel of 8 columns: 4-row blocks (from A's packed
 * rows when apack != 0: rows m0… in packA4's layout), then a pair of rows, then one.
 */
function gemmRows(
  c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, sbk: i32, sbn: i32, bias: usize,
  m0: i32, m1: i32, n: i32, k: i32, accumulate: i32, relu: bool, scratch: usize, packed: usize, packedT: usize,
  apack: usize,
): void {
  const stepA = <usize>sak << 2;
  const rowA = <usize>sam << 2;
  const rowC = <usize>ldc << 2;
  for (let j0 = 0; j0 < n; j0 += 8) {
    const nb = min(8, n - j0);
    // Always pack: reading 8 columns straight from a wide row-major B touches one page per k
    // (a 784-float row stride ran at 18 GFLOP/s against 45 packed: TLB misses), and the
    // packed panel is reused by every 4-row block of A.
    let panel = scratch;
    if (packed != 0) panel = packed + (<usize>j0 * <usize>k << 2);
    else if (packedT != 0) packPanelT(scratch, packedT, n, j0, nb, k);
    else packPanel(scratch, b, sbk, sbn, j0, nb, k);
    const stepB: usize = 32;
    let bl = f32x4.splat(0);
    let bh = f32x4.splat(0);
    if (bias != 0 && !accumulate) {
      bl = halfLanes(bias + (<usize>j0 << 2), nb, 0);
      bh = halfLanes(bias + (<usize>j0 << 2), nb, 1);
    }
    let i = m0;
    if (apack != 0) {
      // A's rows packed by packA4: one pointer, the four rows at fixed offsets
      let pa = apack;
      for (; i + 4 <= m1; i += 4) {
        let pb = panel;
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        const end = pa + (<usize>k << 4);
        while (pa < end) {
          const b0 = v128.load(pb);
          const b1 = v128.load(pb, 16);
          const a0 = v128.load32_splat(pa);
          const a1 = v128.load32_splat(pa, 4);
          const a2 = v128.load32_splat(pa, 8);
          const a3 = v128.load32_splat(pa, 12);
          c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
          c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
          c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
          c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
          pa += 16;
          pb += stepB;
        }
        storeRows4(c + <usize>i * rowC + (<usize>j0 << 2), rowC, c00, c01, c10, c11, c20, c21, c30, c31, bl, bh, nb, accumulate, relu);
      }
    }
    for (; i + 4 <= m1; i += 4) {
      let pa0 = a + <usize>i * rowA;
      let pa1 = pa0 + rowA;
      let pa2 = pa1 + rowA;
      let pa3 = pa2 + rowA;
      let pb = panel;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      for (let kk = 0; kk < k; kk++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        const a0 = v128.load32_splat(pa0);
        const a1 = v128.load32_splat(pa1);
        const a2 = v128.load32_splat(pa2);
        const a3 = v128.load32_splat(pa3);
        c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
        c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
        c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
        c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
        pa0 += stepA; pa1 += stepA; pa2 += stepA; pa3 += stepA;
        pb += stepB;
      }
      storeRows4(c + <usize>i * rowC + (<usize>j0 << 2), rowC, c00, c01, c10, c11, c20, c21, c30, c31, bl, bh, nb, accumulate, relu);
    }
    // leftovers: a pair of rows at a time (a thread's share often ends in 2 rows: 10 examples
    // each for a batch of 20 on 2 threads), then a single row; same per-element arithmetic
    if (i + 2 <= m1) {
      let pa0 = a + <usize>i * rowA;
      let pa1 = pa0 + rowA;
      let pb = panel;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      for (let kk = 0; kk < k; kk++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        const a0 = v128.load32_splat(pa0);
        const a1 = v128.load32_splat(pa1);
        c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
        c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
        pa0 += stepA; pa1 += stepA;
        pb += stepB;
      }
      const pc = c + <usize>i * rowC + (<usize>j0 << 2);
      storeRow(pc, c00, c01, bl, bh, nb, accumulate, relu);
      storeRow(pc + rowC, c10, c11, bl, bh, nb, accumulate, relu);
      i += 2;
    }
    for (; i < m1; i++) {
      let pa0 = a + <usize>i * rowA;
      let pb = panel;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      for (let kk = 0; kk < k; kk++) {
        const a0 = v128.load32_splat(pa0);
        c00 = madd(a0, v128.load(pb), c00);
        c01 = madd(a0, v128.load(pb, 16), c01);
        pa0 += stepA;
        pb += stepB;
      }
      storeRow(c + <usize>i * rowC + (<usize>j0 << 2), c00, c01, bl, bh, nb, accumulate, relu);
    }
  }
}

// Scalar fallback (runtimes without SIMD): the same contract, one output at a time, f32 sums in k order.
function gemmScalar(
  c: usize, ldc: i32, a: usize, sam: i32, sak: i32, b: usize, sbk: i32, sbn: i32, bias: usize,
  m0: i32, m1: i32, n: i32, k: i32, accumulate: i32, act: i32, scratch: usize,
): void {
  for (let i = m0; i < m1; i++) {
    const pa = a + (<usize>(i * sam) << 2);
    const pc = c + (<usize>(i * ldc) << 2);
    for (let j = 0; j < n; j++) {
      let s: f32 = 0;
      let p = pa;
      let q = b + (<usize>(j * sbn) << 2);
      const sa = <usize>sak << 2;
      const sb = <usize>sbk << 2;
      for (let kk = 0; kk < k; kk++) {
        s += load<f32>(p) * load<f32>(q);
        p += sa;
        q += sb;
      }
      const o = pc + (<usize>j << 2);
      if (accumulate) {
        store<f32>(o, load<f32>(o) + s);
      } else {
        store<f32>(o, reluIf(s + (bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0), act));
      }
    }
  }
}

/** db[n] (=, or += when accumulate) Σ_{m in [m0,m1)} dy[m, n]: the bias gradient. */
export function biasGrad(db: usize, dy: usize, ldy: i32, m0: i32, m1: i32, n: i32, accumulate: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) {
      let s = accumulate ? v128.load(db + (<usize>j << 2)) : f32x4.splat(0);
      let p = dy + (<usize>(m0 * ldy + j) << 2);
      for (let i = m0; i < m1; i++) {
        s = f32x4.add(s, v128.load(p));
        p += <usize>ldy << 2;
      }
      v128.store(db + (<usize>j << 2), s);
    }
  }
  // leftovers (all of it in the scalar build)
  for (; j < n; j++) {
    let s: f32 = accumulate ? load<f32>(db + (<usize>j << 2)) : 0;
    for (let i = m0; i < m1; i++) s += load<f32>(dy + (<usize>(i * ldy + j) << 2));
    store<f32>(db + (<usize>j << 2), s);
  }
}

/** dy[i] *= act'(pre-activation) for i in [i0, i1), written in terms of the output y = act(pre). */
//   relu: y > 0 ? 1 : 0;  tanh: 1 - y²;  identity: 1 (no-op).
export function actBackward(dy: usize, y: usize, i0: i32, i1: i32, act: i32): void {
  if (act == ACT_IDENTITY) return;
  let i = i0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    const one = f32x4.splat(1);
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const yv = v128.load(y + o);
      const dv = v128.load(dy + o);
      if (act == ACT_RELU) {
        v128.store(dy + o, v128.and(dv, f32x4.gt(yv, zero)));
      } else {
        v128.store(dy + o, f32x4.mul(dv, f32x4.sub(one, f32x4.mul(yv, yv))));
      }
    }
  }
  // leftovers
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    const yv = load<f32>(y + o);
    const dv = load<f32>(dy + o);
    store<f32>(dy + o, act == ACT_RELU ? (yv > 0 ? dv : 0) : dv * (1 - yv * yv));
  }
}

/**
 * Packs rows [o0, o1) of a row-major W[O, I] (o0 a multiple of 8) as the B panels of X·Wᵀ:
 * dst[p][i][j] = W[8p + j, i], zero past row O. A thread that owns rows of W packs them.
 */
export function packRows(dst: usize, w: usize, O: i32, I: i32, o0: i32, o1: i32): void {
  for (let p = o0 >> 3; (p << 3) < o1; p++) {
    const panel = dst + (<usize>p * <usize>I << 5);
    if (ASC_FEATURE_SIMD && (p << 3) + 8 <= O) {
      // a full panel, 4 inputs at a time: two 4×4 transposes write 4 whole rows of 8
      const row = <usize>I << 2;
      const src = w + (<usize>(p << 3) * row);
      let i = 0;
      for (; i + 4 <= I; i += 4) {
        const s = src + (<usize>i << 2), d = panel + (<usize>i << 5);
        transpose4(d, 32, s, row);
        transpose4(d + 16, 32, s + 4 * row, row);
      }
      for (; i < I; i++) {
        for (let j = 0; j < 8; j++) store<f32>(panel + (<usize>i << 5) + (<usize>j << 2), load<f32>(src + <usize>j * row + (<usize>i << 2)));
      }
      continue;
    }
    for (let j = 0; j < 8; j++) {
      const row = (p << 3) + j;
      let q = panel + (<usize>j << 2);
      if (row < O) {
        let src = w + (<usize>row * <usize>I << 2);
        for (let i = 0; i < I; i++) {
          store<f32>(q, load<f32>(src));
          q += 32;
          src += 4;
        }
      } else {
        for (let i = 0; i < I; i++) {
          store<f32>(q, 0);
          q += 32;
        }
      }
    }
  }
}
