// Convolution kernels (assembly/conv.ts: im2col, col2im, biasActRows) on every build, composed
// with the dense GEMMs exactly as a convolution layer composes them: nn.Conv2d and
// nn.ConvTranspose2d forward against direct f64 references (NHWC images, PyTorch weight layouts),
// and dX, dW, db against central finite differences of the f64 layer; example ranges split
// anywhere give the same bits.
import { describe, expect, it } from "vitest";
import { A_PACK_ROWS, ACT } from "../../bindings/abi.js";
import { BUILDS, f32, kernelEnv, numericGrad, rng, uniform, expectClose, type KernelEnv } from "../helpers/kernel-check.js";
import { convRef, convTRef, dot, outSize, type Geometry } from "../helpers/conv-reference.js";

const GEOMETRIES: Geometry[] = [
  // the conv-mnist preset's shape (k4 s2 p1 halves the image), small
  { name: "k4 s2 p1 (the preset's)", N: 2, C: 2, H: 8, W: 8, O: 3, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1 },
  { name: "k3 s1 p1", N: 2, C: 3, H: 5, W: 5, O: 9, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1 },
  { name: "k3×2, stride 2×1, padding 1×0, 7×5 image", N: 3, C: 1, H: 7, W: 5, O: 2, KH: 3, KW: 2, SH: 2, SW: 1, PH: 1, PW: 0 },
  { name: "k1 s1 p0 (a per-pixel dense layer)", N: 1, C: 5, H: 3, W: 4, O: 4, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0 },
  // one channel in and out (the preset's first conv and last transposed conv): the SIMD builds
  // copy and add a kernel row's taps four at a time; k6 and k5 leave edges and tails to the
  // scalar loop
  { name: "one channel, k4 s2 p1", N: 2, C: 1, H: 8, W: 8, O: 1, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1 },
  { name: "one channel, k6×5 s1 p2, 6×9 image", N: 2, C: 1, H: 6, W: 9, O: 1, KH: 6, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2 },
];

/**
 * The kernels' dX, dW and db (at pointers `at`) against central finite differences of
 * L = Σ gy ⊙ layer(x, w, bias) with a tanh activation (`layer`: an f64 reference).
 */
function expectGrads(env: KernelEnv, layer: typeof convRef, g: Geometry, gy: Float64Array,
  p: { x: Float64Array; w: Float64Array; bias: Float64Array }, at: { dx: number; dw: number; db: number }): void {
  const { x, w, bias } = p;
  const L = (xv: Float64Array, wv: Float64Array, bv: Float64Array) => dot(gy, layer(g, xv, wv, bv, ACT.tanh));
  expectClose(env.read(at.dx, x.length), numericGrad((v) => L(v, w, bias), Float64Array.from(x), 1e-6), 2e-5, 2e-4, "dX");
  expectClose(env.read(at.dw, w.length), numericGrad((v) => L(x, v, bias), Float64Array.from(w), 1e-6), 2e-5, 2e-4, "dW");
  expectClose(env.read(at.db, g.O), numericGrad((v) => L(x, w, v), Float64Array.from(bias), 1e-6), 2e-5, 2e-4, "db");
}

/** A GEMM scratch for inner dimensions up to K (a B panel and A's packed rows). */
const scratchFor = (env: KernelEnv, K: number) => env.zeros((8 + A_PACK_ROWS) * K + 64);

describe.each(BUILDS)("convolution kernels, %s build", (build) => {
  it("transposeRows: each example's [H·W, C] to PyTorch's flatten order [C, H·W] and back, over any example range", async () => {
    const env = await kernelEnv(build);
    const N = 3, R = 6, C = 5;
    const x = f32(uniform(N * R * C, -1, 1, rng(11)));
    const px = env.put(x), pt = env.zeros(x.length), pb = env.zeros(x.length);
    env.k.transposeRows(pt, px, R, C, 0, 1);
    env.k.transposeRows(pt, px, R, C, 1, N);
    const t = env.read(pt, x.length);
    for (let b = 0; b < N; b++) for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) expect(t[b * R * C + c * R + r]).toBe(Math.fround(x[b * R * C + r * C + c]));
    env.k.transposeRows(pb, pt, C, R, 0, N);
    expect(Array.from(env.read(pb, x.length))).toEqual(Array.from(x));
  });

  describe.each(GEOMETRIES)("$name", (g) => {
    const { Ho, Wo } = outSize(g);
    const Q = g.C * g.KH * g.KW, P = g.N * Ho * Wo;

    it("Conv2d: forward (every activation) against the f64 reference; dX, dW, db against finite differences", async () => {
      const env = await kernelEnv(build);
      const r = rng(g.H * 100 + g.C * 10 + g.O);
      const x = f32(uniform(g.N * g.H * g.W * g.C, -1, 1, r)), w = f32(uniform(g.O * Q, -0.5, 0.5, r)), bias = f32(uniform(g.O, -0.3, 0.3, r));
      const px = env.put(x), pw = env.put(w), pb = env.put(bias), pcol = env.zeros(P * Q), py = env.zeros(P * g.O);
      const packed = env.zeros(Math.ceil(g.O / 8) * 8 * Q), scratch = scratchFor(env, Math.max(Q, g.O, P));
      const apack = scratch + 32 * Math.max(Q, g.O, P);
      env.k.packRows(packed, pw, g.O, Q, 0, g.O);
      env.k.im2col(pcol, px, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, Ho, Wo, 0, g.N);
      for (const act of [ACT.identity, ACT.relu, ACT.tanh]) {
        env.k.gemm(py, g.O, pcol, Q, 1, pw, 1, Q, pb, 0, P, g.O, Q, 0, act, scratch, packed, apack);
        expectClose(env.read(py, P * g.O), convRef(g, x, w, bias, act), 1e-6, 1e-5, `act ${act}`);
      }
      // the backward of L = Σ gy ⊙ tanh(conv(x))
      const gy = f32(uniform(P * g.O, -1, 1, r));
      env.k.gemm(py, g.O, pcol, Q, 1, pw, 1, Q, pb, 0, P, g.O, Q, 0, ACT.tanh, scratch, packed, apack);
      const pdy = env.put(gy);
      env.k.actBackward(pdy, py, 0, P * g.O, ACT.tanh);
      const pdcol = env.zeros(P * Q), pdx = env.zeros(x.length), pdw = env.zeros(w.length), pdb = env.zeros(g.O);
      env.k.gemmPackedT(pdcol, Q, pdy, g.O, 1, packed, Q, g.O, 0, P, 0, scratch, apack);
      env.k.col2im(pdx, pdcol, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, Ho, Wo, 0, g.N);
      env.k.gemm(pdw, Q, pdy, 1, g.O, pcol, Q, 1, 0, 0, g.O, Q, P, 0, ACT.identity, scratch, 0, apack);
      env.k.biasGrad(pdb, pdy, g.O, 0, P, g.O, 0);
      expectGrads(env, convRef, g, gy, { x, w, bias }, { dx: pdx, dw: pdw, db: pdb });
    });

    it("ConvTranspose2d (C → O channels): forward against the f64 reference; dX, dW, db against finite differences", async () => {
      const env = await kernelEnv(build);
      const r = rng(g.W * 100 + g.O * 10 + g.C);
      const Hout = (g.H - 1) * g.SH - 2 * g.PH + g.KH, Wout = (g.W - 1) * g.SW - 2 * g.PW + g.KW;
      // the transposed layer's dense view: W[Cin, Cout·KH·KW], rows of x = input pixels, col = Cout·KH·KW per pixel
      const QT = g.O * g.KH * g.KW, R = g.N * g.H * g.W, Rout = g.N * Hout * Wout;
      const x = f32(uniform(R * g.C, -1, 1, r)), w = f32(uniform(g.C * QT, -0.5, 0.5, r)), bias = f32(uniform(g.O, -0.3, 0.3, r));
      const px = env.put(x), pw = env.put(w), pb = env.put(bias), pcol = env.zeros(R * QT), py = env.zeros(Rout * g.O);
      const packed = env.zeros(Math.ceil(g.C / 8) * 8 * QT), scratch = scratchFor(env, Math.max(QT, g.C, R));
      const apack = scratch + 32 * Math.max(QT, g.C, R);
      env.k.packRows(packed, pw, g.C, QT, 0, g.C);
      const forward = (act: number) => {
        env.k.gemmPackedT(pcol, QT, px, g.C, 1, packed, QT, g.C, 0, R, 0, scratch, apack);
        // (the output image is the "image" and the input pixels the patch grid of the adjoint conv)
        env.k.col2im(py, pcol, g.O, Hout, Wout, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.H, g.W, 0, g.N);
        env.k.biasActRows(py, pb, g.O, 0, Rout, act);
      };
      for (const act of [ACT.identity, ACT.relu, ACT.tanh]) {
        forward(act);
        expectClose(env.read(py, Rout * g.O), convTRef(g, x, w, bias, act), 1e-6, 1e-5, `act ${act}`);
      }
      const gy = f32(uniform(Rout * g.O, -1, 1, r));
      forward(ACT.tanh);
      const pdy = env.put(gy);
      env.k.actBackward(pdy, py, 0, Rout * g.O, ACT.tanh);
      const pdcol = env.zeros(R * QT), pdx = env.zeros(x.length), pdw = env.zeros(w.length), pdb = env.zeros(g.O);
      env.k.im2col(pdcol, pdy, g.O, Hout, Wout, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.H, g.W, 0, g.N);
      env.k.gemm(pdx, g.C, pdcol, QT, 1, pw, 1, QT, 0, 0, R, g.C, QT, 0, ACT.identity, scratch, packed, apack);
      env.k.gemm(pdw, QT, px, 1, g.C, pdcol, QT, 1, 0, 0, g.C, QT, R, 0, ACT.identity, scratch, 0, apack);
      env.k.biasGrad(pdb, pdy, g.O, 0, Rout, g.O, 0);
      expectGrads(env, convTRef, g, gy, { x, w, bias }, { dx: pdx, dw: pdw, db: pdb });
    });

    it("im2col and col2im over example ranges split anywhere give the bits of one call", async () => {
      const env = await kernelEnv(build);
      const r = rng(7);
      const x = f32(uniform(g.N * g.H * g.W * g.C, -1, 1, r)), dcol = f32(uniform(P * Q, -1, 1, r));
      const px = env.put(x), pd = env.put(dcol);
      const whole = env.zeros(P * Q), parts = env.zeros(P * Q), imWhole = env.zeros(x.length), imParts = env.put(uniform(x.length, 5, 6, r));
      const geo = [g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, Ho, Wo] as const;
      env.k.im2col(whole, px, g.C, g.H, g.W, ...geo, 0, g.N);
      env.k.col2im(imWhole, pd, g.C, g.H, g.W, ...geo, 0, g.N);
      for (let b = 0; b < g.N; b++) {
        env.k.im2col(parts, px, g.C, g.H, g.W, ...geo, b, b + 1);
        env.k.col2im(imParts, pd, g.C, g.H, g.W, ...geo, b, b + 1); // (writes: the 5…6 garbage is gone)
      }
      expect(env.read(parts, P * Q)).toEqual(env.read(whole, P * Q));
      expect(env.read(imParts, x.length)).toEqual(env.read(imWhole, x.length));
    });
  });
});
