// The convolution layers (src/nn/conv.ts) on every build, as the engine will run them: forward,
// input gradient (through the previous layer's activation) and weight gradient from parameter
// blocks with packed panels, against the f64 references and finite differences; any split of
// the examples (forward, dX) or of the output channels (dW) gives the same bits; bad geometries
// are refused with the layer named.
import { describe, expect, it } from "vitest";
import { ACT } from "../../bindings/abi.js";
import { convForward, convGeometry, convInputGrads, convWeightGrads, patchFloats, type ConvLayer } from "../../src/nn/conv.js";
import { scratchFloats } from "../../src/nn/dense.js";
import { BUILDS, f32, kernelEnv, numericGrad, rng, uniform, expectClose, type KernelEnv } from "../helpers/kernel-check.js";
import { convRef, convTRef, dot, type Geometry } from "../helpers/conv-reference.js";

interface Case { name: string; kind: "conv" | "convT"; input: [number, number, number]; out: number; kernel: number; stride: number; padding: number; N: number }

// the conv-mnist preset's four shapes, scaled down in channels
const CASES: Case[] = [
  { name: "Conv(1→3, k4 s2 p1) on 8×8", kind: "conv", input: [1, 8, 8], out: 3, kernel: 4, stride: 2, padding: 1, N: 3 },
  { name: "Conv(3→4, k4 s2 p1) on 4×4", kind: "conv", input: [3, 4, 4], out: 4, kernel: 4, stride: 2, padding: 1, N: 3 },
  { name: "ConvT(4→3, k4 s2 p1) on 2×2", kind: "convT", input: [4, 2, 2], out: 3, kernel: 4, stride: 2, padding: 1, N: 3 },
  { name: "ConvT(3→1, k4 s2 p1) on 4×4", kind: "convT", input: [3, 4, 4], out: 1, kernel: 4, stride: 2, padding: 1, N: 3 },
  { name: "Conv(2→9, k3 s1 p1) on 5×5", kind: "conv", input: [2, 5, 5], out: 9, kernel: 3, stride: 1, padding: 1, N: 2 },
];

/** A layer's parameter blocks in a kernel environment: W and b at offsets 0 and |W|, packed panels, gradients. */
function blocks(env: KernelEnv, l: ConvLayer, w: Float64Array, bias: Float64Array) {
  const n = w.length + bias.length;
  const pParams = env.put([...w, ...bias]), pGrads = env.zeros(n), pPacked = env.zeros(Math.ceil(l.outDim / 8) * 8 * l.inDim);
  const p = { pParams, pGrads, pPacked, pMask: 0 };
  env.k.packRows(pPacked, pParams, l.outDim, l.inDim, 0, l.outDim);
  return p;
}

describe.each(BUILDS)("convolution layers, %s build", (build) => {
  it.each(CASES)("$name: forward, dX (through tanh), dW and db; split examples and channels give the same bits", async (c) => {
    const env = await kernelEnv(build);
    const g = convGeometry("test", "layer", c.input, { out: c.out, kernel: c.kernel, stride: c.stride, padding: c.padding }, c.kind === "convT");
    const KK = g.KH * g.KW;
    const l: ConvLayer = c.kind === "conv"
      ? { kind: "conv", g, inDim: g.C * KK, outDim: g.O, act: ACT.tanh, w: 0, b: g.O * g.C * KK, pk: 0 }
      : { kind: "convT", g, inDim: g.O * KK, outDim: g.C, act: ACT.tanh, w: 0, b: g.C * g.O * KK, pk: 0 };
    const ref: Geometry = { name: c.name, N: c.N, C: g.C, H: g.H, W: g.W, O: g.O, KH: g.KH, KW: g.KW, SH: g.SH, SW: g.SW, PH: g.PH, PW: g.PW };
    const layerRef = c.kind === "conv" ? convRef : convTRef;
    const r = rng(c.input[0] * 31 + c.out * 7 + c.input[1]);
    // the input is a previous tanh layer's output u = tanh(v), so dX passes through tanh'
    const v = f32(uniform(c.N * g.H * g.W * g.C, -1.5, 1.5, r)), u = f32(v.map(Math.tanh));
    const w = f32(uniform(l.outDim * l.inDim, -0.5, 0.5, r)), bias = f32(uniform(g.O, -0.3, 0.3, r));
    const p = blocks(env, l, w, bias);
    const outN = c.N * g.Ho * g.Wo * g.O;
    const px = env.put(u), py = env.zeros(outN), col = env.zeros(patchFloats(l, c.N));
    const colT = env.zeros(c.kind === "convT" ? c.N * g.H * g.W * l.inDim : 1);
    const maxK = Math.max(l.inDim, l.outDim, g.O, c.N * Math.max(g.H * g.W, g.Ho * g.Wo));
    const scratch = env.zeros(scratchFloats(maxK));
    // forward: conv's col holds its patches; convT's col holds X·W (colT) before col2im
    const fwdCol = c.kind === "conv" ? col : colT;
    convForward(env.k, p, l, py, px, fwdCol, 0, c.N, scratch);
    const y = env.read(py, outN);
    expectClose(y, layerRef(ref, u, w, bias, ACT.tanh), 1e-6, 1e-5, "forward");
    // any split of the examples: the same bits
    const py2 = env.zeros(outN);
    for (let b = 0; b < c.N; b++) convForward(env.k, p, l, py2, px, fwdCol, b, b + 1, scratch);
    expect(env.read(py2, outN)).toEqual(y);
    if (c.kind === "conv") convForward(env.k, p, l, py, px, col, 0, c.N, scratch); // (col: the patches again)

    // backward of L = Σ gy ⊙ tanh(layer(tanh(v))) with respect to v, W and b
    const gy = f32(uniform(outN, -1, 1, r));
    const pdy = env.put(gy);
    env.k.actBackward(pdy, py, 0, outN, ACT.tanh);
    const pdx = env.zeros(u.length), dcol = env.zeros(patchFloats(l, c.N));
    convInputGrads(env.k, p, l, pdy, px, pdx, dcol, ACT.tanh, 0, c.N, scratch);
    const dx = env.read(pdx, u.length);
    const L = (vv: Float64Array, wv: Float64Array, bv: Float64Array) => dot(gy, layerRef(ref, vv.map(Math.tanh), wv, bv, ACT.tanh));
    expectClose(dx, numericGrad((q) => L(q, w, bias), Float64Array.from(v), 1e-6), 2e-5, 2e-4, "dX");
    const pdx2 = env.put(uniform(u.length, 3, 4, r));
    for (let b = c.N - 1; b >= 0; b--) convInputGrads(env.k, p, l, pdy, px, pdx2, dcol, ACT.tanh, b, b + 1, scratch);
    expect(env.read(pdx2, u.length)).toEqual(dx);
    // dW, db: conv reads its input's patches (col), convT dy's patches (left in dcol by the dX pass)
    const wcol = c.kind === "conv" ? col : dcol;
    convWeightGrads(env.k, p, l, pdy, px, wcol, c.N, 0, l.outDim, scratch);
    const grads = env.read(p.pGrads, w.length + bias.length);
    expectClose(grads.subarray(0, w.length), numericGrad((q) => L(v, q, bias), Float64Array.from(w), 1e-6), 2e-5, 2e-4, "dW");
    expectClose(grads.subarray(w.length), numericGrad((q) => L(v, w, q), Float64Array.from(bias), 1e-6), 2e-5, 2e-4, "db");
    // the output channels split between two "threads" (conv: one channel, then the rest)
    env.write(p.pGrads, new Float64Array(grads.length).fill(7));
    convWeightGrads(env.k, p, l, pdy, px, wcol, c.N, 1, l.outDim, scratch);
    convWeightGrads(env.k, p, l, pdy, px, wcol, c.N, 0, 1, scratch);
    expect(env.read(p.pGrads, grads.length)).toEqual(grads);
  });

  it("bad geometries are refused, naming the layer, what was expected and what was found", () => {
    const spec = (o: object) => ({ out: 4, kernel: 4, stride: 2, padding: 1, ...o });
    expect(() => convGeometry("VAE.create", "encoder[1]", [1, 28, 28], spec({ stride: 3 }), false))
      .toThrow(/^VAE\.create: encoder\[1\]: stride 3 does not tile the input height: \(28 \+ 2·1 − 4\) = 26 is not a multiple of 3/);
    expect(() => convGeometry("VAE.create", "encoder[0]", [1, 3, 3], spec({ kernel: 7 }), false))
      .toThrow(/^VAE\.create: encoder\[0\]: kernel 7 is larger than the padded input height 5 \(3 \+ 2·1\)/);
    expect(() => convGeometry("VAE.create", "encoder[0]", [1, 8, 8], spec({ out: 0 }), false)).toThrow(/^VAE\.create: encoder\[0\]\.out must be an integer ≥ 1 \(or a pair of them\); got 0/);
    expect(() => convGeometry("VAE.create", "decoder[2]", [2, 1, 1], spec({ kernel: 2, padding: 3 }), true)).toThrow(/^VAE\.create: decoder\[2\] makes a -4×-4 output from a 1×1 input/);
    expect(convGeometry("VAE.create", "encoder[0]", [1, 28, 28], spec({ out: 32 }), false)).toMatchObject({ Ho: 14, Wo: 14, O: 32 });
    expect(convGeometry("VAE.create", "decoder[3]", [64, 7, 7], spec({ out: 32 }), true)).toMatchObject({ Ho: 14, Wo: 14, O: 32 });
  });
});
