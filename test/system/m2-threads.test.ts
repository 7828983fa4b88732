// M2 (src/m2.ts) on the worker pool: training is bitwise identical for 1, 2 and 3 threads, with
// y enumerated and with the Gumbel-softmax relaxation, Bernoulli and Gaussian decoders, whatever the split between the threads;
// a worker terminated mid-fit rejects the fit with an error naming it, the parameters are those
// of the last finished step, and the next fit starts a new pool and goes on. (The built package in
// dist/: the workers run dist/src/engine/worker.js.)
import { describe, expect, it } from "vitest";
import { SemiSupervisedVAE, WorkerLostError } from "../../dist/src/index.js";
import { CMD } from "../../dist/src/engine/ctrl.js";
import { rng, uniform } from "../helpers/kernel-check.js";

// big enough that the step's commands go to the workers (not kept on the calling thread as small work)
const D = 196, C = 10;
const xl = Float32Array.from(uniform(40 * D, 0, 1, rng(31)));
const yl = Array.from({ length: 40 }, (_, i) => i % C);
const xu = Float32Array.from(uniform(120 * D, 0, 1, rng(32)));
const unlabelled = { data: xu, rows: 120, cols: D };
// grey levels with 75 % zeros (as MNIST digits): the classifier's first layer and the encoder's x part read nonzero lists
const sparse = (x: Float32Array) => x.map((v, i) => (((i * 2654435761) >>> 0) % 4 === 0 ? v : 0));

type Case = { name: string; options: object; fit: object; sparse?: boolean };
const CASES: Case[] = [
  { name: "y enumerated, two hidden layers, binarized", options: { hidden: [64, 32], latentDim: 8 }, fit: { epochs: 2, batchSize: 40, labelledBatchSize: 20, binarize: true } },
  { name: "Gaussian decoder with a learned variance", options: { hidden: [80], latentDim: 6, likelihood: { type: "gaussian", learnVariance: true } }, fit: { epochs: 2, batchSize: 40, labelledBatchSize: 20 } },
  { name: "sparse grey inputs (the sparse first layers), two hidden layers", options: { hidden: [64, 32], latentDim: 8 }, fit: { epochs: 2, batchSize: 40, labelledBatchSize: 20 }, sparse: true },
  { name: "Gumbel-softmax y, tanh", options: { hidden: [96], latentDim: 6, activation: "tanh" }, fit: { epochs: 3, batchSize: 60, labelledBatchSize: 10, gumbelSoftmax: { temperature: 0.6 }, labelledWeight: 1 } },
];

const create = (threads: number, options: object) => SemiSupervisedVAE.create({ inputDim: D, classes: C, seed: 5, threads, ...options });
const stripSeconds = (h: { seconds: number }[]) => h.map((r) => ({ ...r, seconds: 0 }));

describe("M2 on threads", () => {
  it.each(CASES)("$name: history and parameters are bitwise identical on 1, 2 and 3 threads", async ({ options, fit, sparse: sp }) => {
    const runs: { history: object[]; params: Record<string, Float32Array> }[] = [];
    const x = sp ? sparse(xl) : xl, u = sp ? { ...unlabelled, data: sparse(xu) } : unlabelled;
    for (const threads of [1, 2, 3]) {
      const m = await create(threads, options);
      expect(m.threads).toBe(threads);
      const history = stripSeconds(await m.fit({ x, labels: yl }, u, { ...fit, validation: { x, labels: yl } }));
      if (threads > 1) expect(m.pool!.runs).toBeGreaterThanOrEqual(3 * 2 * 2); // forward, backward, weights of every step
      runs.push({ history, params: m.stateDict() });
      m.dispose();
    }
    expect(runs[0].history.every((r) => Number.isFinite((r as { loss: number }).loss))).toBe(true);
    for (const r of runs.slice(1)) {
      expect(r.history).toEqual(runs[0].history);
      for (const [name, t] of Object.entries(runs[0].params)) expect(r.params[name], name).toEqual(t);
    }
  });

  it("any split between the threads (forced uneven cuts) gives the same bits", async () => {
    const ref = await create(1, CASES[0].options);
    await ref.fit({ x: xl, labels: yl }, unlabelled, CASES[0].fit);
    const m = await create(2, CASES[0].options);
    // thread 0 takes 13 % of the rows (all labelled, some unlabelled) and 71 % of every layer's outputs
    m.pool!.cutsOverride = (cmd) => (cmd === CMD.m2Weights ? [0, 0.71, 1] : [0, 0.13, 1]);
    await m.fit({ x: xl, labels: yl }, unlabelled, CASES[0].fit);
    expect(m.stateDict()).toEqual(ref.stateDict());
    m.dispose();
    ref.dispose();
  });

  it("a worker terminated mid-fit: fit rejects naming it, the parameters are the last finished step's, the next fit goes on", async () => {
    const { options, fit } = CASES[0];
    const m = await create(2, options);
    const snapshots: { step: number; params: Record<string, Float32Array> }[] = [];
    const run = m.fit({ x: xl, labels: yl }, unlabelled, {
      ...fit, epochs: 200, onProgress: () => {
        snapshots.push({ step: m.stepCount, params: m.stateDict() });
        if (snapshots.length === 3) m.pool!.kill(1, { atNextCommand: true });
      },
    });
    const error = await run.then(() => null, (e) => e);
    expect(error).toBeInstanceOf(WorkerLostError);
    expect(error.message).toMatch(/^SemiSupervisedVAE\.fit: worker 1 \(of 1\) was terminated during a (forward|backward|weight-update) \(M2\) command\. The model is intact/);
    const last = snapshots[snapshots.length - 1];
    expect(m.stepCount).toBe(last.step);
    expect(m.stateDict()).toEqual(last.params);
    expect(m.runningThreads).toBe(1);
    // the next fit starts a new pool
    await m.fit({ x: xl, labels: yl }, unlabelled, { ...fit, epochs: 1 });
    expect(m.runningThreads).toBe(2);
    expect(m.pool!.runs).toBeGreaterThan(0);
    m.dispose();
  });

  it("threads are validated by name", async () => {
    await expect(SemiSupervisedVAE.create({ inputDim: D, threads: 0 })).rejects.toThrow(/SemiSupervisedVAE.create: options.threads must be an integer in \[1, 256\]; got 0/);
    await expect(SemiSupervisedVAE.create({ inputDim: D, threads: "all" as unknown as number })).rejects.toThrow(/options.threads/);
  });
});
