// Row weights below the smallest normal f32 (2^-126) are flushed to 0 where they are made: in
// JavaScript after every estimator's weigh, and in the kernel that writes them inside a fused
// training step (src/estimators/estimator.ts flushSubnormal says why). Both must apply the same rule.
import { describe, expect, it } from "vitest";
import { VAE, IWAE, TotalDerivative } from "../../src/index.js";
import { flushSubnormal, F32_MIN_NORMAL } from "../../src/estimators/index.js";
import { BUILDS, kernelEnv, rng, uniform } from "../helpers/kernel-check.js";

describe("subnormal row weights", () => {
  it("flushSubnormal zeroes exactly the subnormal values, of either sign, and nothing past n", () => {
    const tiny = 2 ** -140, edge = F32_MIN_NORMAL;
    const a = Float32Array.from([tiny, -tiny, edge, -edge, 0.25, 2 ** -149, tiny]);
    flushSubnormal(a, 6);
    expect(Array.from(a)).toEqual([0, 0, edge, -edge, 0.25, 0, Math.fround(tiny)]);
  });

  it.each(BUILDS)("setWeights (%s build) rounds wt/div once to f32 and flushes subnormal results to 0", async (build) => {
    const e = await kernelEnv(build);
    // wt/div lands either side of 2^-126, and far below it
    const wt = [0.5, 2 ** -120, 2 ** -121 * 1.5, 2 ** -123, 2 ** -140, 1e-3, 0];
    const div = 20;
    const pw = e.put(wt), pc = e.zeros(wt.length);
    e.write(pc, wt.map(() => 7)); // every row is written
    e.k.setWeights(pc, pw, div, 0, wt.length);
    const want = wt.map((w) => {
      const q = Math.fround(Math.fround(w) / div);
      return Math.abs(q) < F32_MIN_NORMAL ? 0 : q;
    });
    expect(want.filter((v, i) => v === 0 && wt[i] !== 0).length).toBe(2); // the case under test occurs
    expect(Array.from(e.read(pc, wt.length))).toEqual(want);
    // uniform weights (no wt): 1/div
    e.k.setWeights(pc, 0, div, 0, 2);
    expect(Array.from(e.read(pc, 2))).toEqual([Math.fround(1 / div), Math.fround(1 / div)]);
  });

  it("a subnormal row weight moves no gradient; the smallest normal one does", async () => {
    const D = 30;
    const x = Float32Array.from(uniform(4 * D, 0, 1, rng(3)));
    const vae = await VAE.create({ inputDim: D, hidden: [16], latentDim: 3, seed: 2 });
    // the total derivative with every row weight 0 but the first
    class OneRow extends TotalDerivative {
      constructor(readonly weight: number) { super(); }
      override weigh(s: Parameters<TotalDerivative["weigh"]>[0]): number {
        const objective = super.weigh(s);
        s.c.fill(0, 0, s.K * s.B);
        s.c[0] = this.weight;
        return objective;
      }
    }
    const sub = vae.lossAndGrads(x, { estimator: new OneRow(2 ** -130), samples: 2 });
    for (const [name, g] of Object.entries(sub.grads)) expect(g.every((v) => v === 0), name).toBe(true);
    const normal = vae.lossAndGrads(x, { estimator: new OneRow(F32_MIN_NORMAL), samples: 2 });
    expect(normal.grads["decoder.out.bias"].some((v) => v !== 0)).toBe(true);
    expect(normal.loss).toBe(sub.loss);
    vae.dispose();
  });

  it("the fused IWAE step (weights made in WebAssembly) equals the unfused one (weights made in JavaScript) where weights underflow", async () => {
    // an untrained 784-200-200-50 model on the benchmark's grey levels (a Weyl sequence): a few
    // importance weights in 30 steps fall below 2^-126 (IID uniform grey levels give none)
    const D = 784, B = 20;
    const x = Float32Array.from({ length: 100 * D }, (_, i) => ((i * 2654435761) >>> 0) / 4294967296);
    let subnormal = 0;
    class Unfused extends IWAE {
      override readonly rowWeights = undefined;
      override weigh(s: Parameters<IWAE["weigh"]>[0]): number {
        const objective = super.weigh(s);
        for (let i = 0; i < s.K * s.B; i++) if (s.c[i] !== 0 && Math.abs(s.c[i]) < F32_MIN_NORMAL) subnormal++;
        return objective;
      }
    }
    const runs = [];
    for (const estimator of [new IWAE(), new Unfused()]) {
      const vae = await VAE.create({ inputDim: D, hidden: [200, 200], latentDim: 50, activation: "tanh", seed: 1 });
      const losses = [];
      for (let s = 0; s < 30; s++) {
        const at = (s % 5) * B;
        losses.push(vae.trainStep(x.subarray(at * D, (at + B) * D), { estimator, samples: 5 }));
      }
      runs.push({ losses, params: vae.stateDict() });
      vae.dispose();
    }
    expect(subnormal).toBeGreaterThan(0);
    expect(runs[0].losses.every(Number.isFinite)).toBe(true);
    expect(runs[1].losses).toEqual(runs[0].losses);
    expect(runs[1].params).toEqual(runs[0].params);
  });
});
