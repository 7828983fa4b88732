// Multithreaded training on workers over one shared memory (the built package in dist/: workers
// run dist/src/engine/worker.js; `npm test` builds first). Results must be bitwise identical for
// any thread count, every estimator and every latent kind; worker failures must surface as
// errors, never hangs.
import { describe, expect, it } from "vitest";
import { VAE, IWAE, TotalDerivative, ESTIMATOR_NAMES, type VAEOptions } from "../../dist/src/index.js";
import { modelOf, poolRuns, setCuts } from "../../dist/src/model/internals.js";
import { CTRL, ctrlViews } from "../../dist/src/engine/ctrl.js";
import { injectWorkerFault, useFaultyWorkers } from "../helpers/faults.mjs";
import { rng, uniform } from "../helpers/kernel-check.js";

// big enough (≈0.3 MFLOP a row) that passes are not kept on the calling thread as "small work"
const D = 200, B = 24;
const data = Float32Array.from(uniform(240 * D, 0, 1, rng(77)));
const small = (threads: number, extra: object = {}) =>
  VAE.create({ inputDim: D, latentDim: 5, hidden: [256], activation: "tanh", seed: 9, threads, ...extra });

describe("threads", () => {
  it.each(ESTIMATOR_NAMES)("%s: losses and parameters after 200 steps are bitwise identical for 1, 2, 3 and 4 threads", async (estimator) => {
    const runs: { losses: number[]; params: Record<string, Float32Array> }[] = [];
    for (const threads of [1, 2, 3, 4]) {
      const vae = await small(threads);
      expect(vae.threads).toBe(threads);
      const losses: number[] = [];
      for (let s = 0; s < 200; s++) {
        const start = (s * B) % (240 - B);
        losses.push(vae.trainStep(data.subarray(start * D, (start + B) * D), { estimator, samples: 3, binarize: true, learningRate: 3e-3 }));
      }
      runs.push({ losses, params: vae.stateDict() });
      if (threads > 1) expect(poolRuns(vae)).toBeGreaterThanOrEqual(2 * 200); // forward (+ backward rows when fused), weights + Adam
      vae.dispose();
    }
    expect(runs[0].losses.every(Number.isFinite)).toBe(true);
    for (const r of runs.slice(1)) {
      expect(r.losses).toEqual(runs[0].losses);
      for (const [name, t] of Object.entries(runs[0].params)) expect(r.params[name], name).toEqual(t);
    }
  });

  it("fit, elbo and logLikelihood give the same numbers on 1 and 2 threads (and per-call threads)", async () => {
    const one = await small(1), two = await small(2);
    const h1 = await one.fit(data, { epochs: 2, batchSize: 32, estimator: "iwae", samples: 4 });
    const h2 = await two.fit(data, { epochs: 2, batchSize: 32, estimator: "iwae", samples: 4 });
    expect(h2.map((h) => h.loss)).toEqual(h1.map((h) => h.loss));
    expect(poolRuns(two)).toBeGreaterThan(0);
    expect(two.elbo(data)).toBe(one.elbo(data));
    expect(two.logLikelihood(data, { samples: 300 }).perExample).toEqual(one.logLikelihood(data, { samples: 300 }).perExample);
    expect(two.logLikelihood(data, { samples: 300, threads: 1 }).perExample).toEqual(one.logLikelihood(data, { samples: 300 }).perExample);
    expect(() => two.elbo(data, { threads: 3 })).toThrow(/options.threads must be an integer in \[1, 2\]; got 3/);
    one.dispose();
    two.dispose();
  });

  it("a late wake-up of the workers runs no command twice (results stay those of 1 thread)", async () => {
    // The coordinator bumps the generation, then notifies. When it is preempted in between, a
    // polling worker runs the command, sleeps again, and only then receives that notify: a stray
    // wake-up with nothing new to do. Here such wake-ups are sent to idle workers directly.
    const three = await small(3), one = await small(1);
    const step = (v: VAE, s: number) => v.trainStep(data.subarray(s * B * D, (s + 1) * B * D), { estimator: "iwae", samples: 2 });
    for (let s = 0; s < 4; s++) expect(step(three, s)).toBe(step(one, s));
    const before = three.stateDict();
    const sleep = () => new Promise((resolve) => setTimeout(resolve, 20)); // (long after the workers' 0.2 ms poll)
    for (let n = 0; n < 3; n++) {
      await sleep();
      Atomics.notify(modelOf(three).runner.ints, CTRL.gen);
    }
    await sleep();
    expect(three.stateDict()).toEqual(before);
    for (let s = 4; s < 8; s++) expect(step(three, s)).toBe(step(one, s));
    expect(three.stateDict()).toEqual(one.stateDict());
    three.dispose();
    one.dispose();
  });

  it("a worker that throws rejects the call with its message; the pool keeps working", async () => {
    const vae = await small(2);
    await useFaultyWorkers(vae);
    expect(() => injectWorkerFault(vae, "throw")).toThrow(/injected fault in worker 1/);
    expect(Number.isFinite(vae.trainStep(data.subarray(0, B * D)))).toBe(true);
    vae.dispose();
  });

  it("callbacks that use the model with other batch sizes (re-laying the workspace) leave threaded training unchanged", async () => {
    const a = await small(1), b = await small(2);
    await a.fit(data, { epochs: 2, batchSize: 10, estimator: "iwae", samples: 2 });
    await b.fit(data, {
      epochs: 2, batchSize: 10, estimator: "iwae", samples: 2,
      onProgress: (p) => {
        if (p.step % 3 === 0) {
          b.gradientStats(data.subarray(0, 50 * D), { estimators: ["td"], draws: 2, samples: 7 }); // re-lays the workspace
          b.encode(data);
        }
      },
    });
    expect(b.stateDict()).toEqual(a.stateDict());
    a.dispose();
    b.dispose();
  });

  it("dispose ends the supervisor and every worker (no worker answers a command afterwards)", async () => {
    const vae = await small(3);
    const r = modelOf(vae).runner;
    const pool = r.pool!;
    const supervisor = (pool as unknown as { supervisor: { threadId: number; once(ev: "exit", f: () => void): void } }).supervisor;
    expect(supervisor.threadId).toBeGreaterThan(0);
    const exited = new Promise<void>((resolve) => supervisor.once("exit", resolve));
    // alive, the workers answer even a command they do not know (with an error)
    r.ints[CTRL.cmd] = 99;
    expect(() => pool.run(() => {})).toThrow(/unknown command 99/);
    vae.dispose();
    await exited;
    expect(supervisor.threadId).toBe(-1);
    // a command dispatched by hand now: nobody acknowledges it
    const { ack } = ctrlViews(r.rt.memory.buffer, r.pCtrl);
    const acks = Array.from(ack.subarray(0, 3));
    r.ints[CTRL.cmd] = 99;
    Atomics.add(r.ints, CTRL.gen, 1);
    Atomics.notify(r.ints, CTRL.gen);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Array.from(ack.subarray(0, 3))).toEqual(acks);
  });

  it("fit can be aborted between steps on a threaded model", async () => {
    const vae = await small(2);
    const ctrl = new AbortController();
    let n = 0;
    await expect(vae.fit(data, { epochs: 1000, batchSize: 8, signal: ctrl.signal, onProgress: () => { if (++n === 50) ctrl.abort(); } })).rejects.toThrow(/abort/i);
    expect(vae.stepCount).toBeGreaterThanOrEqual(50);
    vae.dispose();
  });

  it("a deep model on 8 threads matches 1 thread bit for bit", async () => {
    const opts = { inputDim: D, latentDim: 5, hidden: [64, 64, 64, 64, 64, 64], activation: "tanh" as const, seed: 3 };
    const runs = [];
    for (const threads of [1, 8]) {
      const vae = await VAE.create({ ...opts, threads });
      const losses = [];
      for (let s = 0; s < 20; s++) losses.push(vae.trainStep(data.subarray(s * 8 * D, (s * 8 + B) * D), { estimator: "dreg", samples: 2 }));
      if (threads > 1) expect(poolRuns(vae)).toBeGreaterThan(0);
      runs.push({ losses, params: vae.stateDict() });
      vae.dispose();
    }
    expect(runs[1].losses).toEqual(runs[0].losses);
    expect(runs[1].params).toEqual(runs[0].params);
  });

  it.each(["analytic", "dreg"] as const)("a convolutional model (%s): losses and parameters bitwise identical for 1, 2, 3 and 4 threads", async (estimator) => {
    // 2×10×10 images: two convolutions (split by examples forward and dX, by output channels for dW)
    const opts: VAEOptions = {
      inputShape: [2, 10, 10], latentDim: 4, activation: "relu", seed: 5,
      encoder: [{ type: "conv", out: 6, kernel: 4, stride: 2, padding: 1 }, { type: "conv", out: 9, kernel: 3, stride: 2, padding: 1 }, { type: "flatten" }, { type: "dense", units: 32 }],
      decoder: [{ type: "dense", units: 36 }, { type: "unflatten", shape: [4, 3, 3] }, { type: "convT", out: 11, kernel: 3, stride: 2, padding: 1 }, { type: "convT", out: 2, kernel: 4, stride: 2, padding: 1 }],
    };
    const runs = [];
    for (const threads of [1, 2, 3, 4]) {
      const vae = await VAE.create({ ...opts, threads });
      const losses = [];
      for (let s = 0; s < 30; s++) losses.push(vae.trainStep(data.subarray(((s * B) % 216) * D, ((s * B) % 216 + B) * D), { estimator, samples: 2, learningRate: 3e-3 }));
      if (threads > 1) expect(poolRuns(vae)).toBeGreaterThan(0);
      // and the evaluation: 7 digits, each pass's examples a multiple of the threads where it can
      const test = data.subarray(0, 7 * D);
      runs.push({ losses, params: vae.stateDict(), ll: vae.logLikelihood(test, { samples: 600 }).perExample, elbo: vae.elbo(test, { samples: 3 }) });
      vae.dispose();
    }
    expect(runs[0].losses.every(Number.isFinite)).toBe(true);
    expect(runs[0].losses[29]).toBeLessThan(runs[0].losses[0]);
    for (const r of runs.slice(1)) {
      expect(r.losses).toEqual(runs[0].losses);
      expect(r.params).toEqual(runs[0].params);
      expect(r.ll).toEqual(runs[0].ll);
      expect(r.elbo).toBe(runs[0].elbo);
    }
  });

  it("sparse inputs (the first layer skips zeros) on 1, 2 and 3 threads match bit for bit", async () => {
    // 75 % zeros: the sparse first layer and its dW run, each thread listing its own rows or
    // panels (that they equal the dense arithmetic: test/kernels/dense.test.ts and the MNIST fixture)
    const sparse = data.map((v, i) => (((i * 2654435761) >>> 0) % 4 === 0 ? v : 0));
    const runs = [];
    for (const threads of [1, 2, 3]) {
      const vae = await small(threads);
      const losses = [];
      for (let s = 0; s < 40; s++) losses.push(vae.trainStep(sparse.subarray(((s * B) % 216) * D, ((s * B) % 216 + B) * D), { estimator: "iwae", samples: 2 }));
      runs.push({ losses, params: vae.stateDict() });
      vae.dispose();
    }
    for (const r of runs.slice(1)) {
      expect(r.losses).toEqual(runs[0].losses);
      expect(r.params).toEqual(runs[0].params);
    }
  });

  it("a Gaussian decoder with learned variance (its gradient is split by columns) matches 1 thread bit for bit", async () => {
    const runs = [];
    for (const threads of [1, 3]) {
      const vae = await small(threads, { likelihood: { type: "gaussian", learnVariance: true } });
      const losses = [];
      for (let s = 0; s < 50; s++) losses.push(vae.trainStep(data.subarray(s * 4 * D, (s * 4 + B) * D), { estimator: "iwae", samples: 2 }));
      if (threads > 1) expect(poolRuns(vae)).toBeGreaterThan(0);
      runs.push({ losses, params: vae.stateDict() });
      vae.dispose();
    }
    expect(runs[0].losses.every(Number.isFinite)).toBe(true);
    expect(runs[1].losses).toEqual(runs[0].losses);
    expect(runs[1].params).toEqual(runs[0].params);
  });

  it.each([["iwae", IWAE, { samples: 3 }], ["td", TotalDerivative, {}]] as const)(
    "%s: the fused step (weights and backward rows inside the forward dispatch) equals the unfused one bit for bit", async (_name, Est, extra) => {
      // the same estimator without rowWeights takes the three-dispatch path
      class Unfused extends Est {
        override readonly rowWeights = undefined;
      }
      const runs = [];
      for (const estimator of [new Est(), new Unfused()]) {
        const vae = await small(2);
        const losses = [];
        for (let s = 0; s < 30; s++) losses.push(vae.trainStep(data.subarray(s * 4 * D, (s * 4 + B) * D), { estimator, ...extra }));
        runs.push({ losses, params: vae.stateDict(), dispatches: poolRuns(vae) });
        vae.dispose();
      }
      expect(runs[0].losses.every(Number.isFinite)).toBe(true);
      expect(runs[1].losses).toEqual(runs[0].losses);
      expect(runs[1].params).toEqual(runs[0].params);
      expect(runs[0].dispatches).toBe(2 * 30); // forward with backward rows, weights + Adam
      expect(runs[1].dispatches).toBe(3 * 30);
    });

  it.each(["iwae", "dreg", "analytic"] as const)(
    "%s: any split between the threads (random, empty and whole shares) gives the bits of 1 thread", async (estimator) => {
      // the pool's balancer moves the cuts every step (src/engine/balance.ts); this forces far worse
      // ones, including threads with nothing to do and ties, on 2 and 3 threads
      const r = rng(5);
      const randomCuts = (_cmd: number, T: number) => {
        const inner = Array.from({ length: T - 1 }, () => {
          const u = r();
          return u < 0.15 ? 0 : u > 0.85 ? 1 : r();
        }).sort((a, b) => a - b);
        return [0, ...inner, 1];
      };
      const runs = [];
      for (const threads of [1, 2, 3]) {
        const vae = await small(threads, { likelihood: { type: "gaussian", learnVariance: true } });
        setCuts(vae, threads > 1 ? randomCuts : null);
        const losses = [];
        for (let s = 0; s < 40; s++) losses.push(vae.trainStep(data.subarray(s * 4 * D, (s * 4 + B) * D), { estimator, samples: 3 }));
        if (threads > 1) expect(poolRuns(vae)).toBeGreaterThanOrEqual(2 * 40);
        runs.push({ losses, params: vae.stateDict() });
        vae.dispose();
      }
      expect(runs[0].losses.every(Number.isFinite)).toBe(true);
      for (const run of runs.slice(1)) {
        expect(run.losses).toEqual(runs[0].losses);
        expect(run.params).toEqual(runs[0].params);
      }
    });

  it("small work stays on the calling thread (same numbers, no worker round trips)", async () => {
    const tiny = await VAE.create({ inputDim: 8, latentDim: 2, hidden: [4], seed: 1, threads: 2 });
    const one = await VAE.create({ inputDim: 8, latentDim: 2, hidden: [4], seed: 1 });
    const x = data.subarray(0, 10 * 8);
    const before = poolRuns(tiny);
    expect(tiny.trainStep(x)).toBe(one.trainStep(x));
    expect(poolRuns(tiny) - before).toBe(0);
    expect(tiny.stateDict()).toEqual(one.stateDict());
    tiny.dispose();
    one.dispose();
  });

  it("threads are validated", async () => {
    await expect(small(0)).rejects.toThrow(/options.threads must be an integer in \[1, 256\]; got 0/);
    await expect(VAE.create({ threads: "all" as never })).rejects.toThrow(/options.threads must be an integer/);
    const auto = await VAE.create({ inputDim: 4, latentDim: 2, hidden: [3], threads: "auto" });
    expect(auto.threads).toBeGreaterThanOrEqual(1);
    expect(auto.threads).toBeLessThanOrEqual(4);
    auto.dispose();
  });
});

describe("threads with every latent kind", () => {
  it("categorical: trains bitwise identically on 1 and 2 threads (straight-through, annealed temperature)", async () => {
    const D = 200;
    const data = Float32Array.from(uniform(120 * D, 0, 1, rng(3)));
    const big = { inputDim: D, latent: { type: "categorical" as const, variables: 10, categories: 10 }, hidden: [256], seed: 2 };
    const runs = [];
    for (const threads of [1, 2]) {
      const vae = await VAE.create({ ...big, threads });
      const hist = await vae.fit(data, { epochs: 3, batchSize: 40, straightThrough: true, binarize: true, temperature: (_e, step) => Math.max(0.5, Math.exp(-0.05 * step)) });
      if (threads > 1) expect(poolRuns(vae)).toBeGreaterThan(0);
      runs.push({ losses: hist.map((h) => h.loss), params: vae.stateDict(), elbo: vae.elbo(data) });
      vae.dispose();
    }
    expect(runs[0].losses.every(Number.isFinite)).toBe(true);
    expect(runs[1]).toEqual(runs[0]);
  });

  it.each(["planar", "radial", "iaf"] as const)("%s flow: training with 1 and 2 threads is bitwise identical; save/load keeps the flow", async (type) => {
    const opts: VAEOptions = { inputDim: 100, latentDim: 4, hidden: [64], flow: { type, length: 2 }, seed: 9 };
    const r = rng(8);
    const data = Float32Array.from(uniform(128 * 100, 0, 1, r));
    const run = async (threads: number) => {
      const vae = await VAE.create({ ...opts, threads });
      // (IAF with DReG: its path derivative solves through the flow's inverse, split by examples too)
      await vae.fit(data, { epochs: 2, batchSize: 64, estimator: type === "iaf" ? "dreg" : "iwae", samples: 3, threads });
      if (threads > 1) expect(poolRuns(vae), "the steps ran on the workers").toBeGreaterThan(0);
      const out = { state: vae.stateDict(), bytes: vae.save(), rec: vae.reconstruct(data.subarray(0, 200)) };
      vae.dispose();
      return out;
    };
    const one = await run(1), two = await run(2);
    for (const [n, v] of Object.entries(one.state)) expect(two.state[n], n).toEqual(v);
    const loaded = await VAE.load(one.bytes);
    expect(loaded.config.flow).toEqual(type === "iaf" ? { type, length: 2, hidden: 16 } : { type, length: 2 }); // IAF: 4·latentDim
    expect(loaded.reconstruct(data.subarray(0, 200))).toEqual(one.rec);
    // reconstruct pushes mu through the flow: not decode(mu)
    expect(loaded.reconstruct(data.subarray(0, 200))).not.toEqual(loaded.decode(loaded.encode(data.subarray(0, 200)).mu));
    loaded.dispose();
  });
});
