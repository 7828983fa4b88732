// The public API as a user meets it: shapes, determinism, save/load, abort, and clear errors
// for bad input (naming the argument, the expectation and what was received).
import { describe, expect, it } from "vitest";
import { VAE, decodeSafetensors, provideModule } from "../../src/index.js";
import { rng, uniform } from "../helpers/kernel-check.js";

const small = () => VAE.create({ inputDim: 8, latentDim: 2, hidden: [6], seed: 5 });
const data = (n: number, seed = 1) => Float32Array.from(uniform(n * 8, 0, 1, rng(seed)));

describe("VAE API", () => {
  it("encode, decode, reconstruct and sample give the documented shapes and ranges", async () => {
    const vae = await small();
    const x = data(7);
    const { mu, logvar } = vae.encode(x);
    expect(mu.length).toBe(14);
    expect(logvar.length).toBe(14);
    const rec = vae.reconstruct(x);
    expect(rec.length).toBe(56);
    expect(rec.every((p) => p > 0 && p < 1)).toBe(true);
    expect(vae.decode(mu)).toEqual(rec);
    const s1 = vae.sample(5, { seed: 9 }), s2 = vae.sample(5, { seed: 9 }), s3 = vae.sample(5, { seed: 10 });
    expect(s1).toEqual(s2);
    expect(s1).not.toEqual(s3);
    // number[][] input is accepted and equals the flat form
    const rows = Array.from({ length: 7 }, (_, i) => Array.from(x.subarray(i * 8, i * 8 + 8)));
    expect(vae.encode(rows).mu).toEqual(mu);
    // batches larger than one chunk (500 rows)
    const big = data(1234, 2);
    const e = vae.encode(big);
    expect(e.mu.subarray(2 * 1000, 2 * 1001)).toEqual(vae.encode(big.subarray(8 * 1000, 8 * 1001)).mu);
  });

  it("fit lowers the loss, is deterministic for a seed, and save/load restores the exact parameters", async () => {
    const x = data(300, 3);
    const a = await small(), b = await small();
    const ha = await a.fit(x, { epochs: 3, batchSize: 32, learningRate: 3e-3 });
    const hb = await b.fit(x, { epochs: 3, batchSize: 32, learningRate: 3e-3 });
    expect(ha.map((h) => h.loss)).toEqual(hb.map((h) => h.loss));
    expect(ha[2].loss).toBeLessThan(ha[0].loss);
    expect(a.stepCount).toBe(30);
    const bytes = a.save();
    const { metadata } = decodeSafetensors(bytes);
    expect(JSON.parse(metadata.config).latentDim).toBe(2);
    const c = await VAE.load(bytes);
    expect(c.stepCount).toBe(30);
    expect(c.stateDict()).toEqual(a.stateDict());
    expect(c.elbo(x)).toBe(a.elbo(x));
  });

  it("safetensors tensors follow nn.Linear conventions and load with an explicit config", async () => {
    const vae = await small();
    const shapes = vae.parameterShapes;
    expect(shapes["encoder.hidden.0.weight"]).toEqual([6, 8]);
    expect(shapes["encoder.mu.weight"]).toEqual([2, 6]);
    expect(shapes["encoder.logvar.bias"]).toEqual([2]);
    expect(shapes["decoder.out.weight"]).toEqual([8, 6]);
    const { tensors } = decodeSafetensors(vae.save());
    expect(tensors.get("decoder.hidden.0.weight")!.data).toEqual(vae.stateDict()["decoder.hidden.0.weight"]);
    // a foreign file without our metadata loads when the architecture is given
    const { encodeSafetensors } = await import("../../src/index.js");
    const foreign = encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), {});
    await expect(VAE.load(foreign)).rejects.toThrow(/pass options.config/);
    const loaded = await VAE.load(foreign, { config: { inputDim: 8, latentDim: 2, hidden: [6] } });
    expect(loaded.stateDict()).toEqual(vae.stateDict());
    await expect(VAE.load(foreign, { config: { inputDim: 8, latentDim: 3, hidden: [6] } })).rejects.toThrow(/encoder.hidden.0.weight|encoder.mu.weight.*shape \[2, 6\].*needs \[3, 6\]/);
  });

  it("an AbortSignal stops fit between steps and keeps the last completed step's parameters", async () => {
    const vae = await small();
    const ctrl = new AbortController();
    let steps = 0;
    const run = vae.fit(data(2000, 4), {
      epochs: 1000, batchSize: 10,
      onProgress: () => { if (++steps === 300) ctrl.abort(); },
      signal: ctrl.signal,
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(vae.stepCount).toBeGreaterThanOrEqual(300);
    expect(vae.stepCount).toBeLessThan(100_000);
    expect(Object.values(vae.stateDict()).every((t) => t.every(Number.isFinite))).toBe(true);
  });

  it("a loss that overflows stops fit with a message instead of spreading NaN", async () => {
    const vae = await VAE.create({ inputDim: 4, latentDim: 2, hidden: [3], likelihood: { type: "gaussian", variance: 1 } });
    const x = new Float32Array(40).fill(1e30);
    const before = vae.stateDict();
    await expect(vae.fit(x, { epochs: 1, batchSize: 5 })).rejects.toThrow(/loss became -?Infinity|NaN.*lower learningRate/);
    expect(vae.stateDict()).toEqual(before);
  });

  it("dispose makes every later call fail clearly", async () => {
    const vae = await small();
    vae.dispose();
    expect(() => vae.encode(data(1))).toThrow(/disposed/);
  });
});

describe("bad input gets a clear error naming the argument, the expectation and the value", () => {
  it("provideModule refuses what is not the compiled vae-wasm module", async () => {
    expect(() => provideModule(new Uint8Array(8) as unknown as WebAssembly.Module)).toThrow(/module must be a WebAssembly.Module .*received Uint8Array/);
    // a valid module that is not ours: an empty one
    const empty = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    expect(() => provideModule(empty)).toThrow(/does not export 'gemm'; pass the compiled vae-wasm\/wasm\/vae.simd.wasm/);
    expect(() => provideModule(empty, { build: "fast" as never })).toThrow(/options.build must be one of relaxed, simd, scalar, received fast/);
  });

  const cases: [string, (v: VAE) => unknown, RegExp][] = [
    ["wrong row length", (v) => v.encode([[1, 2, 3]]), /VAE\.encode: x\[0\] must be a row of 8 numbers.*got an array of length 3/],
    ["flat length not a multiple", (v) => v.encode(new Float32Array(12)), /VAE\.encode: x must be a flat array whose length is a multiple of 8.*Float32Array of length 12/],
    ["NaN in data", (v) => v.encode(Float32Array.from({ length: 8 }, (_, i) => (i === 5 ? NaN : 0))), /x must be finite numbers only; got NaN at row 0, column 5/],
    ["Infinity in data", (v) => v.elbo(Float32Array.from({ length: 16 }, (_, i) => (i === 9 ? Infinity : 0))), /x must be finite numbers only; got Infinity at row 1, column 1/],
    ["Bernoulli data above 1", (v) => v.encode(Float32Array.from({ length: 8 }, (_, i) => (i === 2 ? 255 : 0))), /values in \[0, 1\] for a Bernoulli likelihood.*got 255 at row 0, column 2/],
    ["empty data", (v) => v.encode(new Float32Array(0)), /at least 1 row/],
    // trainStep scans the copied batch in WebAssembly (16 values per vector step, then a scalar tail)
    ["trainStep: NaN in a vector group", (v) => v.trainStep(Float32Array.from({ length: 48 }, (_, i) => (i === 37 ? NaN : 0.5))), /VAE\.trainStep: x must be finite numbers only; got NaN at row 4, column 5/],
    ["trainStep: above 1 in the tail", (v) => v.trainStep(Float32Array.from({ length: 56 }, (_, i) => (i === 50 ? 1.5 : 0.5))), /VAE\.trainStep: x must be values in \[0, 1\] for a Bernoulli likelihood.*got 1\.5 at row 6, column 2/],
    ["trainStep: negative first value", (v) => v.trainStep(Float32Array.from({ length: 8 }, (_, i) => (i === 0 ? -0.25 : 0.5))), /got -0\.25 at row 0, column 0/],
    ["not an array", (v) => v.encode("pixels" as never), /x must be a Float32Array, number\[\], number\[\]\[\].*got "pixels"/],
    ["unknown estimator", (v) => v.lossAndGrads(new Float32Array(8), { estimator: "iwea" as never }), /options.estimator must be one of 'analytic', 'td', 'stl', 'iwae', 'iwae-stl', 'dreg', 'score'; got "iwea"/],
    ["eps of the wrong size", (v) => v.lossAndGrads(new Float32Array(16), { eps: new Float32Array(3) }), /options.eps must be a flat array whose length is a multiple of 2/],
    ["eps rows mismatch", (v) => v.lossAndGrads(new Float32Array(16), { eps: new Float32Array(2) }), /options.eps must be 4 values \(\[rows=2, samples=1, latentDim=2\]\)/],
    ["misspelt option", (v) => v.elbo(new Float32Array(8), { sample: 3 } as never), /options.sample must be one of the known options/],
    ["zero samples", (v) => v.elbo(new Float32Array(8), { samples: 0 }), /options.samples must be an integer in \[1, 65536\]; got 0/],
    ["sample count not an integer", (v) => v.sample(2.5), /VAE\.sample: n must be an integer ≥ 1; got 2.5/],
    ["bad state dict shape", (v) => v.loadStateDict({ "encoder.mu.bias": new Float32Array(5) }), /dict\['encoder.mu.bias'\] must be 2 values \(shape \[2\]\)/],
    ["unknown tensor", (v) => v.loadStateDict({ "fc1.weight": new Float32Array(5) }), /dict\['fc1.weight'\] must be one of the model's tensors/],
    ["NaN parameter", (v) => v.loadStateDict({ "encoder.mu.bias": new Float32Array([0, NaN]) }), /dict\['encoder.mu.bias'\]\[1\] must be a finite number; got NaN/],
  ];
  it.each(cases)("%s", async (_name, call, message) => {
    const vae = await small();
    expect(() => call(vae)).toThrow(message);
  });

  it("trainStep with a Gaussian likelihood takes any finite value and refuses ±Infinity, leaving the model as it was", async () => {
    const vae = await VAE.create({ inputDim: 8, latentDim: 2, hidden: [4], seed: 1, likelihood: { type: "gaussian", variance: 1 } });
    const before = vae.stateDict();
    const x = Float32Array.from({ length: 40 }, (_, i) => (i === 33 ? -Infinity : 3 * Math.sin(i)));
    expect(() => vae.trainStep(x)).toThrow(/VAE\.trainStep: x must be finite numbers only; got -Infinity at row 4, column 1/);
    expect(vae.stateDict()).toEqual(before);
    x[33] = 250; // finite, outside [0, 1]: fine for a Gaussian
    expect(Number.isFinite(vae.trainStep(x))).toBe(true);
    vae.dispose();
  });

  const fitCases: [string, object, RegExp][] = [
    ["negative learning rate", { learningRate: -1 }, /options.learningRate must be a finite number > 0; got -1/],
    ["batch size 0", { batchSize: 0 }, /options.batchSize must be an integer in \[1, 1048576\]; got 0/],
    ["beta out of range", { betas: [0.9, 1] }, /options.betas\[1\] must be a finite number ≥ 0 and < 1; got 1/],
    ["estimator typo", { estimator: "STL" }, /options.estimator must be one of 'analytic', 'td', 'stl', 'iwae', 'iwae-stl', 'dreg', 'score'; got "STL"/],
    ["callback not a function", { onProgress: 3 }, /options.onProgress must be a function; got 3/],
    ["learning-rate schedule returning NaN", { learningRate: () => NaN }, /options.learningRate\(0, 0\) must be a finite number > 0; got NaN/],
    ["validation data of the wrong width", { validationData: new Float32Array(7) }, /options.validationData must be a flat array whose length is a multiple of 8/],
  ];
  it.each(fitCases)("fit: %s", async (_name, opts, message) => {
    const vae = await small();
    await expect(vae.fit(new Float32Array(16).fill(0.5), opts)).rejects.toThrow(message);
  });

  it("construction options are checked", async () => {
    await expect(VAE.create({ latentDim: 0 })).rejects.toThrow(/VAE\.create: options.latentDim must be an integer in \[1, 65536\]; got 0/);
    await expect(VAE.create({ hidden: 400 as never })).rejects.toThrow(/options.hidden must be an array of layer sizes/);
    await expect(VAE.create({ activation: "gelu" as never })).rejects.toThrow(/options.activation must be one of 'relu', 'tanh', 'identity'; got "gelu"/);
    await expect(VAE.create({ likelihood: { type: "gaussian", variance: 0 } })).rejects.toThrow(/options.likelihood.variance must be a finite number > 0; got 0/);
    await expect(VAE.create({ likelihood: "poisson" as never })).rejects.toThrow(/options.likelihood must be 'bernoulli', 'gaussian'/);
    await expect(VAE.create({ build: "gpu" as never })).rejects.toThrow(/options.build must be one of 'relaxed', 'simd', 'scalar'; got "gpu"/);
    await expect(VAE.create({ latentDims: 3 } as never)).rejects.toThrow(/options.latentDims must be one of the known options/);
  });

  it("binarize with a Gaussian likelihood is refused", async () => {
    const vae = await VAE.create({ inputDim: 8, latentDim: 2, likelihood: "gaussian" });
    await expect(vae.fit(new Float32Array(16), { binarize: true })).rejects.toThrow(/options.binarize must be false for a Gaussian likelihood/);
  });
});
