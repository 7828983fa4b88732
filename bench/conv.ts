// The convolution layers of the conv-mnist preset at batch 100 on one thread: forward, input
// gradient and weight gradient per layer, how much of each is the patch copy (im2col/col2im)
// and how much the GEMM, and the GEMM-equivalent rate (2·rows·inner·outputs FLOP per pass)
// against the SIMD ceiling measured in the same rounds (bench/index.ts section 4's probe); then
// the whole preset's training step at batch 100 against PyTorch (bench/peers/torch_vae.py, when
// installed) and tfjs-backend-wasm (bench/peers/tfjs.ts; its conv filter gradients written out,
// as wasm has no kernel for them, and checked against tfjs's own on its cpu backend), in
// alternating rounds, with the step's GEMM-equivalent rate against the ceiling of the same rounds.
// Last, a soak: 10,000 steps of the preset on 2 threads, memory along the way.
// `npm run bench:conv` (`-- --only layers`, `step` or `soak` for one part).
import v8 from "node:v8";
import { ACT } from "../bindings/abi.js";
import { Arena } from "../bindings/arena.js";
import { compileBuild, instantiate, supportedBuilds, type BuildName } from "../bindings/load.js";
import { convForward, convGeometry, convInputGrads, convWeightGrads, patchFloats, type ConvLayer } from "../src/nn/conv.js";
import { packedSize, scratchFloats } from "../src/nn/dense.js";
import { cpuName } from "./host.js";
import type { LayerSpec } from "../src/model/network.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const B = 100;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const LAYERS: { name: string; kind: "conv" | "convT"; input: [number, number, number]; out: number }[] = [
  { name: "Conv(1→32) 28×28→14×14", kind: "conv", input: [1, 28, 28], out: 32 },
  { name: "Conv(32→64) 14×14→7×7", kind: "conv", input: [32, 14, 14], out: 64 },
  { name: "ConvT(64→32) 7×7→14×14", kind: "convT", input: [64, 7, 7], out: 32 },
  { name: "ConvT(32→1) 14×14→28×28", kind: "convT", input: [32, 14, 14], out: 1 },
];

const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;
const builds = supportedBuilds().filter((b): b is BuildName => b === "simd" || b === "relaxed");
if (only === null || only === "layers") await layers();
if (only === null || only === "step") await step();
if (only === null || only === "soak") await soak();

/** Each layer's passes, one thread, on each SIMD build. */
async function layers(): Promise<void> {
  console.log(`vae-wasm convolution layers — Node ${process.version} on ${cpuName()}, one thread, batch ${B}, k4 s2 p1, NHWC, im2col + the dense GEMM`);
  const rounds = 15;
  for (const build of builds) {
    const rt = instantiate(await compileBuild(build), build, 512 << 20);
    const k = rt.k;
    const probe = builds.includes("relaxed") ? instantiate(await compileBuild("relaxed"), "relaxed", 1 << 20).k : k;
    const perRound = builds.includes("relaxed") ? 96 : 48;
    console.log(`\n${build} build`);
    console.log("   " + "layer".padEnd(26) + "pass".padEnd(10) + "ms".padStart(8) + "patch copy".padStart(12) + "GFLOP/s".padStart(10) + "of ceiling".padStart(12));
    for (const spec of LAYERS) {
      const g = convGeometry("bench", spec.name, spec.input, { out: spec.out, kernel: 4, stride: 2, padding: 1 }, spec.kind === "convT");
      const KK = 16;
      const l: ConvLayer = spec.kind === "conv"
        ? { kind: "conv", g, inDim: g.C * KK, outDim: g.O, act: ACT.relu, w: 0, b: g.O * g.C * KK, pk: 0 }
        : { kind: "convT", g, inDim: g.O * KK, outDim: g.C, act: ACT.relu, w: 0, b: g.C * g.O * KK, pk: 0 };
      const a = new Arena(k.heapBase());
      const nW = l.outDim * l.inDim + g.O;
      const pParams = a.floats(nW), pGrads = a.floats(nW), pPacked = a.floats(packedSize(l));
      const inN = B * g.H * g.W * g.C, outN = B * g.Ho * g.Wo * g.O;
      const x = a.floats(inN), dx = a.floats(inN), y = a.floats(outN), dy = a.floats(outN);
      const col = a.floats(patchFloats(l, B)), dcol = a.floats(patchFloats(l, B));
      const rowsMax = B * Math.max(g.H * g.W, g.Ho * g.Wo);
      const scratch = a.floats(scratchFloats(Math.max(l.inDim, l.outDim, rowsMax)));
      const mem = new Float32Array(rt.memory.buffer);
      for (let i = pParams / 4; i < a.end / 4; i++) mem[i] = (((i * 2246822519) >>> 0) / 4294967296 - 0.5) * 0.1;
      const p = { pParams, pGrads, pPacked, pMask: 0 };
      k.packRows(pPacked, pParams, l.outDim, l.inDim, 0, l.outDim);
      const gemmRows = spec.kind === "conv" ? B * g.Ho * g.Wo : B * g.H * g.W;
      const flop = 2 * gemmRows * l.inDim * l.outDim;
      const geo = spec.kind === "conv"
        ? [g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.Ho, g.Wo] as const
        : [g.O, g.Ho, g.Wo, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.H, g.W] as const;
      const passes: [string, () => void, () => void][] = [
        ["forward", () => convForward(k, p, l, y, x, spec.kind === "conv" ? col : dcol, 0, B, scratch),
          () => (spec.kind === "conv" ? k.im2col(col, x, ...geo, 0, B) : k.col2im(y, dcol, ...geo, 0, B))],
        ["dX", () => convInputGrads(k, p, l, dy, x, dx, spec.kind === "conv" ? dcol : col, ACT.relu, 0, B, scratch),
          () => (spec.kind === "conv" ? k.col2im(dx, dcol, ...geo, 0, B) : k.im2col(col, dy, ...geo, 0, B))],
        ["dW", () => convWeightGrads(k, p, l, dy, x, col, B, 0, l.outDim, scratch), () => {}],
      ];
      for (const [pass, run, copy] of passes) {
        const t: number[] = [], tc: number[] = [], frac: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const t0 = performance.now();
          probe.peakMadd(200_000, 1, 1e-30);
          const ceil = (perRound * 200_000) / (performance.now() - t0) / 1e6;
          run();
          const t1 = performance.now();
          for (let i = 0; i < 3; i++) run();
          const ms = (performance.now() - t1) / 3;
          const t2 = performance.now();
          for (let i = 0; i < 3; i++) copy();
          const cms = (performance.now() - t2) / 3;
          t.push(ms);
          tc.push(cms);
          frac.push(flop / ((ms - cms) * 1e6) / ceil);
        }
        const ms = median(t), cms = median(tc);
        console.log("   " + spec.name.padEnd(26) + pass.padEnd(10) + ms.toFixed(2).padStart(8) + (pass === "dW" ? "–" : `${((100 * cms) / ms).toFixed(0)} %`).padStart(12) +
          (flop / ((ms - cms) * 1e6)).toFixed(1).padStart(10) + `${(100 * median(frac)).toFixed(0)} %`.padStart(12));
      }
    }
  }
  console.log("\n   (GFLOP/s: the GEMM's share, the pass's time less its patch copy; the ceiling as in `npm run bench -- --only 4`; median of 15 rounds)");
}

/** The conv-mnist training step, batch 100, grey levels: vae-wasm (1 and 2 threads, each SIMD build), tfjs-backend-wasm, PyTorch. */
async function step(): Promise<void> {
  const { VAE, PRESETS } = await import("../src/index.js");
  const { tfjsReady, tfjsConvStep, tfjsConvCheck } = await import("./peers/tfjs.js");
  const { torchPython, torchTiming, TORCH_ONE, TORCH_TWO } = await import("./peers/torch.js");
  const B = 100, D = 784;
  // the grey levels torch_vae.py uses
  const x = Float32Array.from({ length: B * D }, (_, i) => Number((BigInt(i) * 2654435761n) % 4294967296n) / 4294967296);
  // the tfjs model's written-out filter gradients (no Conv2DBackpropFilter on wasm) against tf.conv2d's own, on tfjs's cpu backend
  const tfjsCheck = await tfjsConvCheck(x.subarray(0, 16 * D), 16);
  const tfjsName = await tfjsReady();
  const py = torchPython();
  console.log(`\nconv-mnist training step, batch ${B} (grey levels, analytic KL, Adam) — ${cpuName()}; ${tfjsName}`);
  const model = PRESETS["conv-mnist"]().model;
  const flopPerStep = B * stepFlopPerExample(model.inputShape as [number, number, number], model.encoder as never, model.decoder as never, model.latentDim as number);
  const probe = builds.includes("relaxed") ? instantiate(await compileBuild("relaxed"), "relaxed", 1 << 20).k : null;
  const ceilings: number[] = [];
  const timeSteps = (f: () => void, n: number) => {
    for (let i = 0; i < 3; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return (performance.now() - t0) / n;
  };
  const systems: { name: string; run: () => number }[] = [];
  for (const build of builds) {
    for (const threads of [1, 2]) {
      const vae = await VAE.create({ ...model, seed: 1, build, threads });
      systems.push({ name: `vae-wasm ${build} ${threads}T`, run: () => timeSteps(() => vae.trainStep(x, { learningRate: 1e-3 }), 10) });
    }
  }
  const tf = tfjsConvStep(x, B);
  let tfjsMissing = "";
  try {
    tf.step();
    systems.push({ name: "tfjs-backend-wasm", run: () => timeSteps(tf.step, 3) });
  } catch (e) {
    tfjsMissing = (e as Error).message;
  }
  if (py) {
    // (glibc keeping freed memory: PyTorch's faster setting where page faults are dear, peers/torch.ts)
    systems.push({ name: "PyTorch 1 thread", run: () => torchTiming(py, TORCH_ONE.threads, TORCH_ONE.env, true).conv });
    systems.push({ name: "PyTorch 2 threads", run: () => torchTiming(py, TORCH_TWO.threads, TORCH_TWO.env, true).conv });
  }
  const rounds = 3;
  const ms: number[][] = systems.map(() => []);
  for (let r = 0; r < rounds; r++) {
    if (probe) {
      const t0 = performance.now();
      probe.peakMadd(400_000, 1, 1e-30);
      ceilings.push((96 * 400_000) / (performance.now() - t0) / 1e6);
    }
    systems.forEach((s, i) => ms[i].push(s.run()));
  }
  console.log("   " + "system".padEnd(24) + "ms/step".padStart(10) + "  (median of " + rounds + " alternating rounds; per round: " + systems.map((s) => s.name).join(", ") + ")");
  systems.forEach((s, i) => {
    // the GEMM-equivalent rate: the step's multiply-adds (forward, dX, dW) as 2 FLOP each, against
    // the one-core SIMD ceiling (× threads) measured at the start of the same round
    const threads = /(\d)T$/.exec(s.name)?.[1];
    const rate = threads ? ` ${(flopPerStep / (median(ms[i]) * 1e6)).toFixed(1).padStart(7)} GFLOP/s` +
      (ceilings.length ? `, ${(100 * median(ms[i].map((v, r) => flopPerStep / (v * 1e6) / (Number(threads) * ceilings[r])))).toFixed(0)} % of ${threads === "1" ? "the" : threads + "×"} ceiling` : "") : "";
    console.log("   " + s.name.padEnd(24) + median(ms[i]).toFixed(2).padStart(10) + rate);
  });
  if (ceilings.length) console.log(`   (GEMM-equivalent: ${(flopPerStep / 1e9).toFixed(2)} GFLOP per step = 2 × the multiply-adds of forward, dX and dW of every layer; ceiling ${median(ceilings).toFixed(1)} GFLOP/s per core, measured each round as in \`npm run bench -- --only 4\`)`);
  const ratio = (a: number, b: number) => median(ms[a].map((v, r) => v / ms[b][r]));
  const idx = (name: string) => systems.findIndex((s) => s.name === name);
  const best1 = builds.map((b) => idx(`vae-wasm ${b} 1T`)), best2 = builds.map((b) => idx(`vae-wasm ${b} 2T`));
  const pick = (list: number[]) => list.reduce((a, b) => (median(ms[b]) < median(ms[a]) ? b : a));
  const one = pick(best1), two = pick(best2), tfi = idx("tfjs-backend-wasm");
  console.log(`   ${systems[two].name} vs ${systems[one].name}: ${ratio(one, two).toFixed(2)}×; ` +
    (tfi >= 0 ? `vs tfjs-backend-wasm: ${ratio(tfi, two).toFixed(1)}× (target ≥ 15)` : `tfjs-backend-wasm cannot train this model: ${tfjsMissing}`));
  console.log(`   (tfjs: wasm has no Conv2DBackpropFilter kernel, so its conv layers' filter gradients are written out as patches·dY; ` +
    `checked against tf.conv2d's own gradients on tfjs's cpu backend: within ${tfjsCheck.toExponential(1)} of each filter's largest)`);
  if (py) {
    const t1 = idx("PyTorch 1 thread"), t2 = idx("PyTorch 2 threads");
    console.log(`   one thread: ${ratio(t1, one).toFixed(2)}× PyTorch's one thread (target ≥ 0.8); two threads: ${ratio(t2, two).toFixed(2)}× PyTorch's 2 threads (target ≥ 1.3)`);
  } else {
    console.log("   PyTorch: skipped (no python3 with torch; Debian: apt-get install python3-torch libopenblas0-pthread)");
  }
}
/** A layer-list VAE's training-step FLOP per example: 2 × multiply-adds of forward, dX (not the first layer's) and dW, heads included. */
function stepFlopPerExample(input: [number, number, number], encoder: LayerSpec[], decoder: LayerSpec[], latentDim: number): number {
  const walk = (shape: number[], specs: LayerSpec[]) => {
    const macs: number[] = [];
    for (const s of specs) {
      if (s.type === "dense") {
        macs.push(shape.reduce((a, b) => a * b, 1) * s.units);
        shape = [s.units];
      } else if (s.type === "flatten") {
        shape = [shape.reduce((a, b) => a * b, 1)];
      } else if (s.type === "unflatten") {
        shape = s.shape;
      } else {
        const g = convGeometry("bench", s.type, shape as [number, number, number], s, s.type === "convT");
        // per output pixel C·KH·KW·O (conv); per input pixel O·KH·KW·C (convT)
        macs.push((s.type === "conv" ? g.Ho * g.Wo : g.H * g.W) * g.C * g.KH * g.KW * g.O);
        shape = [g.O, g.Ho, g.Wo];
      }
    }
    return { macs, shape };
  };
  const enc = walk(input, encoder);
  const heads = enc.shape[0] * 2 * latentDim;
  const dec = walk([latentDim], decoder);
  const all = [...enc.macs, heads, ...dec.macs];
  return 2 * (3 * all.reduce((a, b) => a + b, 0) - enc.macs[0]);
}

/** 10,000 conv-mnist steps (batch 100, 2 threads; analytic and td with K = 2 alternating): wasm memory and process RSS along the way. */
async function soak(): Promise<void> {
  const { VAE, PRESETS, loadMnist } = await import("../src/index.js");
  const { modelOf } = await import("../src/model/internals.js");
  const steps = process.argv.includes("--steps") ? Number(process.argv[process.argv.indexOf("--steps") + 1]) : 10_000, B = 100;
  const { train } = await loadMnist();
  const vae = await VAE.create({ ...PRESETS["conv-mnist"]().model, seed: 1, threads: 2 });
  const rssMB = () => process.memoryUsage().rss / 2 ** 20;
  const wasmMB = () => modelOf(vae).runner.rt.memory.buffer.byteLength / 2 ** 20;
  const marks: string[] = [];
  const t0 = performance.now();
  let rssAtWarm = 0, wasmAtWarm = 0, rssMax = 0, loss = 0;
  for (let s = 1; s <= steps; s++) {
    const b = (s * B) % (train.rows - B);
    loss = vae.trainStep(train.data.subarray(b * 784, (b + B) * 784), s % 2 ? { learningRate: 1e-3 } : { learningRate: 1e-3, estimator: "td", samples: 2 });
    if (s % 500 === 0) rssMax = Math.max(rssMax, rssMB());
    if (s === steps / 10) {
      rssAtWarm = rssMB();
      wasmAtWarm = wasmMB();
    }
    if (s % (steps / 5) === 0) marks.push(`${s / 1000}k: rss ${rssMB().toFixed(0)} MB, wasm ${wasmMB().toFixed(1)} MB, loss ${loss.toFixed(1)}`);
  }
  console.log(`\nsoak: ${steps} conv-mnist training steps (batch ${B}, 2 threads, analytic and td K=2 alternating, MNIST batches) in ${((performance.now() - t0) / 1000).toFixed(0)} s — ${cpuName()}`);
  console.log("   " + marks.join("; "));
  console.log(`   after warm-up (step ${steps / 10}) → end: wasm memory ${wasmAtWarm.toFixed(1)} → ${wasmMB().toFixed(1)} MB, ` +
    `process RSS ${rssAtWarm.toFixed(0)} → ${rssMB().toFixed(0)} MB (max ${rssMax.toFixed(0)} MB)`);
  await vae.dispose();
}
