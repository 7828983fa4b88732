// Dense-layer kernels (assembly/dense.ts) on every build: the GEMM in all three layouts the
// model uses, with bias, activations, accumulation and ragged edges, against an f64 reference;
// the layer backward (actBackward, biasGrad, the dW and dX GEMMs) against central finite
// differences of the f64 layer.
import { describe, expect, it } from "vitest";
import { A_PACK_ROWS, ACT } from "../../bindings/abi.js";
import { BUILDS, f32, kernelEnv, numericGrad, rng, uniform, expectClose } from "../helpers/kernel-check.js";

const actF64 = (v: number, act: number) => (act === ACT.relu ? Math.max(v, 0) : act === ACT.tanh ? Math.tanh(v) : v);

/** f64 C[M,N] = act(A·B + bias) with A[m,k] = a[m·sam + k·sak], B[k,n] = b[k·sbk + n·sbn]. */
function gemmRef(a: Float64Array, sam: number, sak: number, b: Float64Array, sbk: number, sbn: number, bias: Float64Array | null,
  M: number, N: number, K: number, act: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) s += a[m * sam + k * sak] * b[k * sbk + n * sbn];
      c[m * N + n] = actF64(s, act);
    }
  }
  return c;
}

// Shapes chosen to hit every path: full 4×8 tiles, leftover rows (M % 4), narrow panels (N % 8),
// K = 1, and the model's real sizes.
const SHAPES: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [6, 12, 9], [4, 8, 16], [9, 20, 13], [17, 33, 40], [100, 40, 400], [13, 784, 20]];

describe.each(BUILDS)("dense kernels, %s build", (build) => {
  it.each(SHAPES)("gemm M=%i N=%i K=%i: X·Wᵀ + b (packed), dY·W, dYᵀ·X, accumulate, every activation", async (M, N, K) => {
    const env = await kernelEnv(build);
    const r = rng(M * 1000 + N * 10 + K);
    const scratch = env.zeros(8 * Math.max(K, M, N) + 64);
    for (const act of [ACT.identity, ACT.relu, ACT.tanh]) {
      // forward: C[M,N] = act(X[M,K]·W[N,K]ᵀ + b)
      const x = f32(uniform(M * K, -1, 1, r)), w = f32(uniform(N * K, -1, 1, r)), bias = f32(uniform(N, -1, 1, r));
      const pc = env.zeros(M * N);
      env.k.gemm(pc, N, env.put(x), K, 1, env.put(w), 1, K, env.put(bias), 0, M, N, K, 0, act, scratch);
      const want = gemmRef(x, K, 1, w, 1, K, bias, M, N, K, act);
      expectClose(env.read(pc, M * N), want, 1e-5 * Math.sqrt(K), 1e-5);
      // the same with W pre-packed by packRows (as the model keeps its weights), packed in two
      // row ranges as two threads would: bit for bit the per-call packing
      const pw = env.put(w);
      const packed = env.zeros(Math.ceil(N / 8) * 8 * K);
      const cut = Math.min(N, 8 * Math.floor(N / 16));
      env.k.packRows(packed, pw, N, K, 0, cut);
      env.k.packRows(packed, pw, N, K, cut, N);
      const pc3 = env.zeros(M * N);
      env.k.gemm(pc3, N, env.put(x), K, 1, pw, 1, K, env.put(bias), 0, M, N, K, 0, act, scratch, packed);
      expect(env.read(pc3, M * N)).toEqual(env.read(pc, M * N));
    }
    // dX form: C[M,N] = A[M,K]·B[K,N], B row-major (unpacked fast path when N % 8 == 0)
    const a = f32(uniform(M * K, -1, 1, r)), b = f32(uniform(K * N, -1, 1, r));
    const pc = env.zeros(M * N);
    env.k.gemm(pc, N, env.put(a), K, 1, env.put(b), N, 1, 0, 0, M, N, K, 0, ACT.identity, scratch);
    expectClose(env.read(pc, M * N), gemmRef(a, K, 1, b, N, 1, null, M, N, K, ACT.identity), 1e-5 * Math.sqrt(K), 1e-5);
    // the same from W's forward panels (gemmPackedT, as the model computes dX: B = W[K, N] packed
    // by packRows), bit for bit; then += over a row range, other rows untouched
    const pbw = env.put(b);
    const panels = env.zeros(Math.ceil(K / 8) * 8 * N);
    env.k.packRows(panels, pbw, K, N, 0, K);
    const pa = env.put(a);
    const pt = env.zeros(M * N);
    env.k.gemmPackedT(pt, N, pa, K, 1, panels, N, K, 0, M, 0, scratch);
    const dense = env.read(pc, M * N);
    const viaPanels = env.read(pt, M * N);
    for (let i = 0; i < M * N; i++) expect(Object.is(viaPanels[i], dense[i]), `element ${i}: ${viaPanels[i]} vs ${dense[i]}`).toBe(true);
    const m0 = Math.min(1, M - 1), m1 = Math.max(m0 + 1, M - 1);
    const base = f32(uniform(M * N, -1, 1, r));
    const pacc = env.put(base), pacc2 = env.put(base);
    env.k.gemm(pacc, N, pa, K, 1, pbw, N, 1, 0, m0, m1, N, K, 1, ACT.identity, scratch);
    env.k.gemmPackedT(pacc2, N, pa, K, 1, panels, N, K, m0, m1, 1, scratch);
    expect(env.read(pacc2, M * N)).toEqual(env.read(pacc, M * N));
    expect(Array.from(env.read(pacc2, M * N).slice(0, m0 * N))).toEqual(Array.from(base.slice(0, m0 * N)));
    // dW form with accumulation: C[M,N] += A·B with A = Yᵀ (A[m,k] = y[k·M + m])
    const y = f32(uniform(K * M, -1, 1, r)), c0 = f32(uniform(M * N, -1, 1, r));
    const pc2 = env.put(c0);
    env.k.gemm(pc2, N, env.put(y), 1, M, env.put(b), N, 1, 0, 0, M, N, K, 1, ACT.identity, scratch);
    const prod = gemmRef(y, 1, M, b, N, 1, null, M, N, K, ACT.identity);
    expectClose(env.read(pc2, M * N), prod.map((v, i) => v + c0[i]), 1e-5 * Math.sqrt(K), 1e-5);
  });

  it.each([[517, 20, 13, 0, 517], [517, 20, 13, 3, 515], [6, 12, 9, 0, 6], [258, 8, 4, 1, 258], [2, 9, 3, 0, 2], [5, 16, 1, 0, 5]])(
    "A packed by rows (apack) gives the bits of the plain kernel: M=%i N=%i K=%i, rows [%i, %i), every layout", async (M, N, K, m0, m1) => {
      // blocks of A_PACK_ROWS rows (517 = 2·256 + 5), leftovers of 2 and 1 rows, K not a
      // multiple of 4 (the transposes' remainder), row ranges as threads take them
      const env = await kernelEnv(build);
      const r = rng(M + 7 * N + 31 * K + m0);
      const scratch = env.zeros(8 * Math.max(K, N) + 64);
      const canary = 1234.5;
      const apack = env.zeros(A_PACK_ROWS * K + 16);
      env.write(apack + 4 * A_PACK_ROWS * K, new Array(16).fill(canary));
      const bias = env.put(f32(uniform(N, -1, 1, r)));
      const base = f32(uniform(M * N, -1, 1, r));
      const same = (name: string, run: (c: number, ap: number) => void) => {
        const p1 = env.put(base), p2 = env.put(base);
        run(p1, 0);
        run(p2, apack);
        const a = env.read(p1, M * N), b = env.read(p2, M * N);
        for (let i = 0; i < M * N; i++) expect(Object.is(a[i], b[i]), `${name}, element ${i}: ${b[i]} vs ${a[i]}`).toBe(true);
        expect(Array.from(env.read(apack + 4 * A_PACK_ROWS * K, 16)), `${name}: past the apack area`).toEqual(new Array(16).fill(canary));
      };
      // forward X·Wᵀ + b, W per call and pre-packed, every activation; and accumulate
      const x = env.put(f32(uniform(M * K, -1, 1, r))), w = env.put(f32(uniform(N * K, -1, 1, r)));
      const packed = env.zeros(Math.ceil(N / 8) * 8 * K);
      env.k.packRows(packed, w, N, K, 0, N);
      for (const act of [ACT.identity, ACT.relu, ACT.tanh]) {
        same(`forward, act ${act}`, (c, ap) => env.k.gemm(c, N, x, K, 1, w, 1, K, bias, m0, m1, N, K, 0, act, scratch, 0, ap));
        same(`forward packed, act ${act}`, (c, ap) => env.k.gemm(c, N, x, K, 1, w, 1, K, bias, m0, m1, N, K, 0, act, scratch, packed, ap));
      }
      same("forward, accumulate", (c, ap) => env.k.gemm(c, N, x, K, 1, w, 1, K, 0, m0, m1, N, K, 1, ACT.identity, scratch, packed, ap));
      // dX = dY·W from W's forward panels (W[K, N] here), = and +=
      const dy = env.put(f32(uniform(M * K, -1, 1, r))), wt = env.put(f32(uniform(K * N, -1, 1, r)));
      const panels = env.zeros(Math.ceil(K / 8) * 8 * N);
      env.k.packRows(panels, wt, K, N, 0, K);
      for (const acc of [0, 1]) same(`dX, accumulate ${acc}`, (c, ap) => env.k.gemmPackedT(c, N, dy, K, 1, panels, N, K, m0, m1, acc, scratch, ap));
      // dW = Yᵀ·B: A's four rows adjacent (A[m, k] = y[k·M + m])
      const y = env.put(f32(uniform(K * M, -1, 1, r))), b = env.put(f32(uniform(K * N, -1, 1, r)));
      for (const acc of [0, 1]) same(`dW, accumulate ${acc}`, (c, ap) => env.k.gemm(c, N, y, 1, M, b, N, 1, 0, m0, m1, N, K, acc, ACT.identity, scratch, 0, ap));
      // neither stride 1: A[m, k] = g[2m + (2M + 1)k]
      const g = env.put(f32(uniform((2 * M + 1) * K + 2 * M, -1, 1, r)));
      same("strided A", (c, ap) => env.k.gemm(c, N, g, 2, 2 * M + 1, b, N, 1, bias, m0, m1, N, K, 0, ACT.relu, scratch, 0, ap));
    });

  it("the tanh epilogue is accurate to a few ulp over [-20, 20], including tiny and huge inputs", async () => {
    const env = await kernelEnv(build);
    // C = tanh(A·I): A holds the test values, B the identity, so C[m, n] = tanh(A[m, n])
    const n = 28, M = 1001; // 28 columns: the four-, two- and one-vector loops
    const a = new Float64Array(M * n);
    for (let i = 0; i < a.length; i++) a[i] = Math.fround(-20 + (40 * i) / (a.length - 1));
    a.set([0, 1e-30, -1e-20, 1e-7, -3e-4, 0.6249, 0.6251, 1e30, -1e30, 0.625, -0.625, 3e-38], 0);
    const eye = new Float64Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    const pc = env.zeros(M * n);
    env.k.gemm(pc, n, env.put(a), n, 1, env.put(eye), n, 1, 0, 0, M, n, n, 0, ACT.tanh, env.zeros(8 * n));
    const got = env.read(pc, M * n);
    let worstUlp = 0;
    for (let i = 0; i < a.length; i++) {
      const want = Math.tanh(a[i]);
      worstUlp = Math.max(worstUlp, Math.abs(got[i] - want) / (Math.abs(want) * 2 ** -23 + 2 ** -149));
    }
    expect(worstUlp, "tanh error in f32 ulps").toBeLessThan(4);
  });

  it("gemm honours the row range [m0, m1) and leaves other rows alone", async () => {
    const env = await kernelEnv(build);
    const r = rng(7);
    const M = 11, N = 12, K = 9;
    const a = f32(uniform(M * K, -1, 1, r)), b = f32(uniform(K * N, -1, 1, r));
    const pc = env.put(new Float64Array(M * N).fill(42));
    env.k.gemm(pc, N, env.put(a), K, 1, env.put(b), N, 1, 0, 3, 9, N, K, 0, ACT.identity, env.zeros(8 * K));
    const got = env.read(pc, M * N);
    const want = gemmRef(a, K, 1, b, N, 1, null, M, N, K, ACT.identity);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        if (m >= 3 && m < 9) expect(Math.abs(got[m * N + n] - want[m * N + n])).toBeLessThan(1e-5);
        else expect(got[m * N + n]).toBe(42);
      }
    }
  });

  it.each([["relu", ACT.relu], ["tanh", ACT.tanh], ["identity", ACT.identity]] as const)(
    "layer backward (%s): dW, db, dX against finite differences of the f64 layer", async (_name, act) => {
      const env = await kernelEnv(build);
      const r = rng(11 + act);
      const R = 7, I = 10, O = 9;
      // inputs away from relu's kink so central differences are valid
      const x = f32(uniform(R * I, -1, 1, r));
      const w = f32(uniform(O * I, -0.5, 0.5, r)), bias = f32(uniform(O, -0.5, 0.5, r));
      const gOut = f32(uniform(R * O, -1, 1, r)); // loss = Σ gOut ⊙ act(X·Wᵀ + b)
      const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) => {
        const y = gemmRef(xx, I, 1, ww, 1, I, bb, R, O, I, act);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += gOut[i] * y[i];
        return s;
      };
      const pre = gemmRef(x, I, 1, w, 1, I, bias, R, O, I, ACT.identity);
      if (act === ACT.relu) expect(Math.min(...pre.map(Math.abs))).toBeGreaterThan(1e-3);
      const scratch = env.zeros(8 * 64);
      const px = env.put(x), pw = env.put(w), py = env.zeros(R * O);
      env.k.gemm(py, O, px, I, 1, pw, 1, I, env.put(bias), 0, R, O, I, 0, act, scratch);
      const pdy = env.put(gOut);
      env.k.actBackward(pdy, py, 0, R * O, act);
      const pdw = env.zeros(O * I), pdb = env.zeros(O), pdx = env.zeros(R * I);
      env.k.gemm(pdw, I, pdy, 1, O, px, I, 1, 0, 0, O, I, R, 0, ACT.identity, scratch);
      env.k.biasGrad(pdb, pdy, O, 0, R, O, 0);
      env.k.gemm(pdx, I, pdy, O, 1, pw, I, 1, 0, 0, R, I, O, 0, ACT.identity, scratch);
      const checks: [string, Float32Array, Float64Array][] = [
        ["dW", env.read(pdw, O * I), numericGrad((v) => loss(x, v, bias), Float64Array.from(w))],
        ["db", env.read(pdb, O), numericGrad((v) => loss(x, w, v), Float64Array.from(bias))],
        ["dX", env.read(pdx, R * I), numericGrad((v) => loss(v, w, bias), Float64Array.from(x))],
      ];
      for (const [name, got, want] of checks) {
        expectClose(got, want, 1e-5, 1e-4, name);
      }
    });

  it("biasGrad accumulates when asked and sums only rows [m0, m1)", async () => {
    const env = await kernelEnv(build);
    const r = rng(5);
    const M = 9, N = 11;
    const dy = f32(uniform(M * N, -1, 1, r)), db0 = f32(uniform(N, -1, 1, r));
    const pdb = env.put(db0);
    env.k.biasGrad(pdb, env.put(dy), N, 2, 7, N, 1);
    const want = Array.from(db0, (v, n) => v + [2, 3, 4, 5, 6].reduce((s, m) => s + dy[m * N + n], 0));
    expectClose(env.read(pdb, N), want, 1e-6, 1e-6);
  });

  it.each([["relu", ACT.relu], ["tanh", ACT.tanh], ["identity", ACT.identity]] as const)(
    "the sparse first layer (%s) is gemm's result bit for bit, for any density, on SIMD builds", async (_name, act) => {
      const env = await kernelEnv(build);
      if (env.k.simdLevel() === 0) return; // the engine runs the first layer dense without SIMD (gemmSparseA is not used there)
      const r = rng(40 + act);
      // 13 rows (4-row blocks and leftovers in gemm), 21 inputs, 19 outputs (a panel of 3)
      const M = 13, I = 21, O = 19;
      const x = new Float64Array(M * I);
      for (let m = 0; m < M; m++) {
        const density = m === 0 ? 0 : m === 1 ? 1 : m / M; // an all-zero row, a dense row, the rest in between
        for (let i = 0; i < I; i++) x[m * I + i] = r() < density ? (r() < 0.5 ? -0 : 0) + Math.fround(r() * 2 - 1) : r() < 0.3 ? -0 : 0;
      }
      const w = f32(uniform(O * I, -1, 1, r)), bias = f32(uniform(O, -0.5, 0.5, r));
      const px = env.put(x), pw = env.put(w), pb = env.put(bias);
      const packed = env.zeros(Math.ceil(O / 8) * 8 * I);
      env.k.packRows(packed, pw, O, I, 0, O);
      const dense = env.zeros(M * O), sparse = env.zeros(M * O), lists = env.zeros(2 * M * (I + 1));
      env.k.gemm(dense, O, px, I, 1, pw, 1, I, pb, 0, M, O, I, 0, act, env.zeros(8 * I), packed);
      const nnz = env.k.sparseRows(lists, px, I, 0, M);
      expect(nnz).toBe(Array.from(x).filter((v) => v !== 0).length);
      env.k.gemmSparseA(sparse, O, lists, I, packed, I, pb, 0, M, O, act);
      const a = env.read(dense, M * O), b = env.read(sparse, M * O);
      for (let i = 0; i < a.length; i++) expect(Object.is(a[i], b[i]), `element ${i}: ${a[i]} vs ${b[i]}`).toBe(true);
      // a row range leaves the other rows alone
      const part = env.put(new Float64Array(M * O).fill(7));
      env.k.sparseRows(lists, px, I, 3, 9);
      env.k.gemmSparseA(part, O, lists, I, packed, I, pb, 3, 9, O, act);
      const pr = env.read(part, M * O);
      for (let m = 0; m < M; m++) {
        for (let o = 0; o < O; o++) expect(pr[m * O + o]).toBe(m >= 3 && m < 9 ? a[m * O + o] : 7);
      }
    });

  it("the sparse weight gradient dYᵀ·X is gemm's bit for bit; countNonzero counts what it skips", async () => {
    const env = await kernelEnv(build);
    const r = rng(77);
    // 11 examples, 29 inputs (3 full panels and one of 5), 14 outputs (4-row blocks and leftovers)
    const R = 11, I = 29, O = 14;
    const x = new Float64Array(R * I);
    for (let b = 0; b < R; b++) {
      for (let i = 0; i < I; i++) {
        const panelZero = (b + (i >> 3)) % 3 === 0; // whole panels of zeros for some examples
        x[b * I + i] = b === 4 ? Math.fround(r() - 0.5) : panelZero || r() < 0.6 ? (r() < 0.5 ? -0 : 0) : Math.fround(r() * 2 - 1);
      }
    }
    const dy = f32(uniform(R * O, -1, 1, r));
    const px = env.put(x), pdy = env.put(dy);
    expect(env.k.countNonzero(px, R * I)).toBe(Array.from(x).filter((v) => v !== 0).length);
    if (env.k.simdLevel() === 0) return; // without SIMD the engine computes dW dense (gemmSparseB is not used there)
    const dense = env.zeros(O * I), sparse = env.put(new Float64Array(O * I).fill(5));
    env.k.gemm(dense, I, pdy, 1, O, px, I, 1, 0, 0, O, I, R, 0, ACT.identity, env.zeros(8 * Math.max(I, R)));
    env.k.gemmSparseB(sparse, I, pdy, O, px, I, R, 2, 13, env.zeros(9 * R + 8)); // (its scratch: 9·rows + 8 floats)
    const a = env.read(dense, O * I), b = env.read(sparse, O * I);
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        const k = o * I + i;
        if (o >= 2 && o < 13) expect(Object.is(a[k], b[k]), `dW[${o}, ${i}]: ${a[k]} vs ${b[k]}`).toBe(true);
        else expect(b[k]).toBe(5); // rows outside [2, 13) untouched
      }
    }
  });

  it("the sparse kernels on the first columns of a wider layer ([x, y] inputs, M2's encoder) are gemm's on W[:, 0:K] bit for bit", async () => {
    const env = await kernelEnv(build);
    if (env.k.simdLevel() === 0) return; // the sparse kernels exist on SIMD builds only (the engine runs these dense without SIMD)
    const r = rng(91);
    // 9 examples of 27 inputs (~70 % zeros) beside 5 more inputs; 37 outputs (two-panel passes, a panel, a panel of 5)
    const M = 9, K = 27, E = 5, O = 37, W = K + E;
    const x = new Float64Array(M * K).map(() => (r() < 0.7 ? 0 : Math.fround(r() * 2 - 1)));
    const w = f32(uniform(O * W, -1, 1, r)), bias = f32(uniform(O, -0.5, 0.5, r)), dy = f32(uniform(M * O, -1, 1, r));
    const px = env.put(x), pw = env.put(w), pb = env.put(bias), pdy = env.put(dy);
    const packed = env.zeros(Math.ceil(O / 8) * 8 * W);
    env.k.packRows(packed, pw, O, W, 0, O);
    // forward: x·W[:, 0:K]ᵀ + b (nn/dense.ts partForward) against the lists on panels of W inputs
    const dense = env.zeros(M * O), sparse = env.zeros(M * O), lists = env.zeros(2 * M * (K + 1));
    env.k.gemm(dense, O, px, K, 1, pw, 1, W, pb, 0, M, O, K, 0, ACT.identity, env.zeros(8 * W));
    env.k.sparseRows(lists, px, K, 0, M);
    env.k.gemmSparseA(sparse, O, lists, K, packed, W, pb, 0, M, O, ACT.identity);
    const a = env.read(dense, M * O), b = env.read(sparse, M * O);
    for (let i = 0; i < a.length; i++) expect(Object.is(a[i], b[i]), `element ${i}: ${a[i]} vs ${b[i]}`).toBe(true);
    // dW[:, 0:K] = dYᵀ·X (nn/dense.ts partWeightGrads), rows [3, 30); the y columns and other rows stay
    const dW = env.put(new Float64Array(O * W).fill(5)), sW = env.put(new Float64Array(O * W).fill(5));
    env.k.gemm(dW, W, pdy, 1, O, px, K, 1, 0, 3, 30, K, M, 0, ACT.identity, env.zeros(8 * Math.max(K, M)));
    env.k.gemmSparseB(sW, W, pdy, O, px, K, M, 3, 30, env.zeros(9 * M + 8));
    const da = env.read(dW, O * W), db = env.read(sW, O * W);
    for (let i = 0; i < da.length; i++) {
      expect(Object.is(da[i], db[i]), `dW[${Math.floor(i / W)}, ${i % W}]: ${da[i]} vs ${db[i]}`).toBe(true);
      if (i % W >= K || Math.floor(i / W) < 3 || Math.floor(i / W) >= 30) expect(db[i]).toBe(5);
    }
  });
});
