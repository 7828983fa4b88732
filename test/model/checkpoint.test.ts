// Checkpoints: a model file that also holds Adam's moments and step and the run's position.
// VAE.load reads any model file and starts Adam afresh (the landed code kept the step count's bias
// correction with zero moments: the first update after loading a step-N model was several times
// the learning rate); VAE.resume reads the optimizer state back and continues the run; every way
// a resume can be wrong is a named error. (Resumes in a new process: test/system/resume.test.ts.)
import { describe, expect, it } from "vitest";
import { SemiSupervisedVAE, VAE } from "../../src/index.js";
import { joinFile, splitFile } from "../helpers/safetensors-file.js";
import { rng, uniform } from "../helpers/kernel-check.js";

const D = 10;
const data = Float32Array.from(uniform(40 * D, 0, 1, rng(4)));
const create = () => VAE.create({ inputDim: D, latentDim: 2, hidden: [8], seed: 2 });

/** One unit in the last place of float32 at |v|. */
const ulp32 = (v: number) => 2 ** (Math.floor(Math.log2(Math.max(Math.abs(v), 2 ** -126))) - 23);

/**
 * The largest |change| of any parameter between two state dicts, less the float32 rounding of
 * storing the new value (one ulp at its magnitude): what the update itself moved it by, at most.
 */
function largestChange(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let worst = 0;
  for (const k of Object.keys(a)) {
    for (let i = 0; i < a[k].length; i++) worst = Math.max(worst, Math.abs(a[k][i] - b[k][i]) - ulp32(Math.max(Math.abs(a[k][i]), Math.abs(b[k][i]))));
  }
  return worst;
}

/** The file with its checkpoint metadata replaced by `text`. */
function withCheckpointText(bytes: Uint8Array, text: string): Uint8Array {
  const { header, data: d } = splitFile(bytes);
  (header.__metadata__ as Record<string, string>).checkpoint = text;
  return joinFile(JSON.stringify(header), d);
}

describe("loading a model starts Adam afresh; a checkpoint carries its state", () => {
  it("after VAE.load of a step-300 model the first update is at most the learning rate, as a fresh Adam's (landed: ~1.35×)", async () => {
    const vae = await create();
    for (let s = 0; s < 300; s++) vae.trainStep(data.subarray((s % 4) * 10 * D, ((s % 4) * 10 + 10) * D));
    const loaded = await VAE.load(vae.save());
    expect(loaded.stepCount).toBe(300); // (the count is kept: it keys the noise)
    const before = loaded.stateDict();
    const lr = 1e-3;
    loaded.trainStep(data.subarray(0, 10 * D), { learningRate: lr });
    const change = largestChange(before, loaded.stateDict());
    // a fresh Adam's first step moves each weight by lr·g/(|g| + ε): at most lr, close to it where |g| ≫ ε
    expect(change).toBeLessThanOrEqual(lr);
    expect(change).toBeGreaterThan(0.9 * lr);
    // the same model resumed from a checkpoint keeps its moments: the step is the one it would have taken
    const resumed = await VAE.resume(vae.checkpoint());
    const cont = await VAE.resume(vae.checkpoint());
    vae.trainStep(data.subarray(0, 10 * D), { learningRate: lr });
    resumed.trainStep(data.subarray(0, 10 * D), { learningRate: lr });
    expect(resumed.stateDict()).toEqual(vae.stateDict());
    expect(largestChange(cont.stateDict(), resumed.stateDict())).toBeLessThan(0.9 * lr);
    for (const m of [vae, loaded, resumed, cont]) m.dispose();
  });

  it("SemiSupervisedVAE.load starts Adam afresh too; resume keeps it", async () => {
    const m = await SemiSupervisedVAE.create({ inputDim: D, classes: 2, latentDim: 2, hidden: [6], seed: 1 });
    const labelled = { x: data.subarray(0, 6 * D), labels: [0, 1, 0, 1, 0, 1] };
    await m.fit(labelled, data, { epochs: 20, batchSize: 10, labelledBatchSize: 6 });
    const loaded = await SemiSupervisedVAE.load(m.checkpoint());
    const resumed = await SemiSupervisedVAE.resume(m.checkpoint());
    expect(loaded.stepCount).toBe(80);
    expect(resumed.stepCount).toBe(80);
    const before = loaded.stateDict();
    // (one more epoch of 4 steps; resumed: the run had ended, so it goes on from its end with epochs: 21)
    await loaded.fit(labelled, data.subarray(0, 10 * D), { epochs: 1, batchSize: 10, labelledBatchSize: 6, learningRate: 1e-3 });
    expect(largestChange(before, loaded.stateDict())).toBeLessThanOrEqual(1e-3);
    await expect(SemiSupervisedVAE.resume(m.save())).rejects.toThrow(/^SemiSupervisedVAE\.resume: the file holds no optimizer state .*SemiSupervisedVAE\.load/);
    for (const x of [m, loaded, resumed]) x.dispose();
  });

  it("a checkpoint is a model file: VAE.load reads it (same weights), and a plain save() is not a checkpoint", async () => {
    const vae = await create();
    await vae.fit(data, { epochs: 2, batchSize: 8 });
    const ck = vae.checkpoint();
    const loaded = await VAE.load(ck);
    expect(loaded.stateDict()).toEqual(vae.stateDict());
    expect(ck.length).toBeGreaterThan(2.9 * vae.save().length); // (values, m and v)
    await expect(VAE.resume(vae.save())).rejects.toThrow(/^VAE\.resume: the file holds no optimizer state \(it was written by save\(\), not checkpoint\(\)\); load it with VAE\.load/);
    expect(() => vae.save({ metadata: { checkpoint: "x" } })).toThrow(/^VAE\.save: options\.metadata must be keys other than .*checkpoint/);
    loaded.dispose();
    vae.dispose();
  });

  it("fit after resume: the run's options by default; other data, another batch size or a missing schedule are refused by name", async () => {
    const vae = await create();
    const ac = new AbortController();
    let ck: Uint8Array | null = null;
    await vae.fit(data, {
      epochs: 3, batchSize: 8, learningRate: (e) => 1e-3 / (1 + e), signal: ac.signal,
      onProgress: (p) => { if (p.epoch === 2 && p.step === 1) { ck = vae.checkpoint(); ac.abort(); } },
    }).catch((e) => expect(e.name).toBe("AbortError"));
    const r = await VAE.resume(ck!);
    await expect(r.fit(data)).rejects.toThrow(/^VAE\.fit: the checkpoint's run used a schedule \(a function\) for options\.learningRate, which a file cannot hold: pass options\.learningRate again/);
    await expect(r.fit(data, { learningRate: 1e-3, batchSize: 16 })).rejects.toThrow(/^VAE\.fit: options\.batchSize must be 8, as in the checkpoint's run/);
    const other = data.slice();
    other[5] += 0.25;
    await expect(r.fit(other, { learningRate: 1e-3 })).rejects.toThrow(/^VAE\.fit: the checkpoint's run trained on 40 rows × 10 values \(CRC-32 [0-9a-f]{8}\); data is 40 rows × 10 values \(CRC-32 [0-9a-f]{8}\)\. Resume with the same data/);
    await expect(r.fit(data.subarray(0, 20 * D), { learningRate: 1e-3 })).rejects.toThrow(/data is 20 rows × 10 values\. Resume/);
    // an explicit learning rate is allowed: the rest of the run (epochs 2 and 3) trains
    const history = await r.fit(data, { learningRate: 1e-3 });
    expect(history.map((h) => h.epoch)).toEqual([2, 3]);
    expect(r.stepCount).toBe(15);
    // the run is consumed: the next fit is a new run of its own options
    expect((await r.fit(data, { epochs: 1, batchSize: 40 })).length).toBe(1);
    vae.dispose();
    r.dispose();
  });

  it("a damaged checkpoint state is a named error, field by field", async () => {
    const vae = await create();
    await vae.fit(data, { epochs: 1, batchSize: 8 });
    const ck = vae.checkpoint();
    const state = JSON.parse(splitFile(ck).header.__metadata__ ? (splitFile(ck).header.__metadata__ as Record<string, string>).checkpoint : "");
    const cases: [unknown, RegExp][] = [
      ["{", /^VAE\.resume: metadata\.checkpoint is not JSON/],
      [[], /^VAE\.resume: metadata\.checkpoint must be an object/],
      [{ ...state, adamSteps: -1 }, /^VAE\.resume: metadata\.checkpoint\.adamSteps must be an integer/],
      [{ ...state, run: { ...state.run, position: { ...state.run.position, epoch: 1.5 } } }, /^VAE\.resume: metadata\.checkpoint\.run\.position\.epoch must be an integer/],
      [{ ...state, run: { ...state.run, position: { ...state.run.position, lossSum: "x" } } }, /^VAE\.resume: metadata\.checkpoint\.run\.position\.lossSum must be a finite number/],
      [{ ...state, run: { ...state.run, dataCrc: "xyz" } }, /^VAE\.resume: metadata\.checkpoint\.run\.dataCrc must be 8 hex digits/],
      [{ ...state, run: { ...state.run, options: { epochs: null } } }, /^VAE\.resume: metadata\.checkpoint\.run\.options\.epochs must be a finite number, a boolean/],
      [{ adamSteps: 3 }, /^VAE\.resume: metadata\.checkpoint must be an object with adamSteps, run \(missing 'run'\)/],
    ];
    for (const [v, re] of cases) {
      const bytes = withCheckpointText(ck, typeof v === "string" ? v : JSON.stringify(v));
      await expect(VAE.resume(bytes)).rejects.toThrow(re);
      // VAE.load ignores the optimizer state
      (await VAE.load(bytes)).dispose();
    }
    vae.dispose();
  });

  it.each(["analytic", "stl"] as const)("β and KL warm-up (%s): each step's loss is the β-weighted one at that step's β", async (estimator) => {
    const vae = await create();
    const x = data.subarray(0, 10 * D);
    for (let s = 0; s < 6; s++) {
      const beta = 3 * Math.min(1, (s + 1) / 4);
      const want = vae.lossAndGrads(x, { estimator, beta, step: vae.stepCount }).loss;
      expect(vae.trainStep(x, { estimator, beta: 3, klWarmup: 4 })).toBeCloseTo(want, 4);
    }
    vae.dispose();
  });

  it("a KL weight or floor where it has no meaning is refused, saying why", async () => {
    const vae = await create();
    const x = data.subarray(0, 10 * D);
    expect(() => vae.trainStep(x, { estimator: "iwae", klWarmup: 10 })).toThrow(/^VAE\.trainStep: options\.klWarmup must be left out with estimator 'iwae': a KL weight or floor needs an objective with a KL term \('analytic', 'td' or 'stl'\); an importance-weighted bound/);
    expect(() => vae.trainStep(x, { estimator: "dreg", samples: 2, freeBits: 0.5 })).toThrow(/^VAE\.trainStep: options\.freeBits must be left out with estimator 'dreg'/);
    expect(() => vae.trainStep(x, { estimator: "score", samples: 2, beta: 2 })).toThrow(/^VAE\.trainStep: options\.beta must be left out with estimator 'score'/);
    expect(() => vae.trainStep(x, { beta: -1 })).toThrow(/^VAE\.trainStep: options\.beta must be a finite number ≥ 0; got -1/);
    vae.dispose();
    const flow = await VAE.create({ inputDim: D, latentDim: 3, hidden: [8], flow: { type: "planar", length: 2 }, seed: 1 });
    expect(() => flow.trainStep(x, { estimator: "td", beta: 2 })).toThrow(/^VAE\.trainStep: options\.beta must be left out for Gaussian with a planar flow with estimator 'td': β, KL warm-up and free bits need a plain Gaussian latent/);
    flow.dispose();
    const cat = await VAE.create({ inputDim: D, latentDim: 6, hidden: [8], latent: { type: "categorical", variables: 2, categories: 3 }, seed: 1 });
    expect(() => cat.trainStep(x, { freeBits: 0.1 })).toThrow(/^VAE\.trainStep: options\.freeBits must be left out for categorical \(Gumbel-softmax\): free bits floor each dimension of a Gaussian latent's KL/);
    cat.trainStep(x, { beta: 2 }); // (a categorical latent's closed-form KL takes a weight)
    cat.dispose();
  });

  it("early stopping: after `patience` epochs without a lower validation loss fit stops and the best epoch's parameters are back", async () => {
    const vae = await VAE.create({ inputDim: D, latentDim: 4, hidden: [64], seed: 3 });
    const train = data.subarray(0, 8 * D), val = data.subarray(8 * D);
    const history = await vae.fit(train, { epochs: 300, batchSize: 8, learningRate: 1e-2, validationData: val, patience: 3 });
    const losses = history.map((h) => h.validationLoss!);
    const bestAt = losses.indexOf(Math.min(...losses));
    expect(history.length).toBeLessThan(300); // (8 rows and a 64-unit layer overfit: it did stop)
    expect(history.length).toBe(bestAt + 1 + 3);
    expect(-vae.elbo(val)).toBe(losses[bestAt]);
    await expect(vae.fit(train, { patience: 2 })).rejects.toThrow(/^VAE\.fit: options\.patience must be given with options\.validationData/);
    vae.dispose();
  });
});
