// The hand-off to PyTorch (interop/torch/vae_wasm_torch/), checked both ways with Debian's
// python3-torch: the same weights and eps give the same loss and every gradient (< 1e-5 relative)
// for every estimator the library allows on dense, Gaussian, flow, categorical and convolutional
// models; the library's files are read
// and written back byte for byte by PyTorch, and a model made and trained in PyTorch loads with
// VAE.load (no config), saves back byte for byte and continues with PyTorch's loss.
// `npm run test:interop` (not part of `npm test`: it needs python3 with torch; see the README).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SemiSupervisedVAE, VAE, decodeSafetensors, encodeSafetensors, type VAEOptions } from "../../src/index.js";
import { gaussian, rng, uniform } from "../helpers/kernel-check.js";

const PYTHON = process.env.TORCH_PYTHON ?? "/usr/bin/python3";
const CHECK = new URL("./check_torch.py", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "vae-torch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ALL = ["analytic", "td", "stl", "iwae", "iwae-stl", "dreg", "score"];
const CASES: Record<string, { config: VAEOptions; data: "unit" | "real"; estimators: string[]; beta?: number; freeBits?: number; temperature?: number; straightThrough?: boolean }> = {
  "dense-bernoulli": { config: { inputDim: 12, latentDim: 3, hidden: [7, 5], activation: "relu" }, data: "unit", estimators: ALL },
  "dense-gaussian-learned": {
    config: { inputDim: 10, latentDim: 4, hidden: [6], decoderHidden: [8], activation: "tanh", likelihood: { type: "gaussian", learnVariance: true } },
    data: "real", estimators: ALL,
  },
  "dense-beta": { config: { inputDim: 9, latentDim: 2, hidden: [5], activation: "tanh", likelihood: { type: "gaussian", variance: 0.5 } }, data: "real", estimators: ["analytic", "td", "stl"], beta: 2.5 },
  "dense-free-bits": { config: { inputDim: 12, latentDim: 6, hidden: [5], seed: 4 }, data: "unit", estimators: ["analytic", "td", "stl"], beta: 1.5, freeBits: 0.05 },
  "planar": { config: { inputDim: 10, latentDim: 3, hidden: [6], flow: { type: "planar", length: 3 } }, data: "unit", estimators: ["td", "iwae"] },
  "radial": { config: { inputDim: 10, latentDim: 3, hidden: [6], activation: "tanh", flow: { type: "radial", length: 2 } }, data: "unit", estimators: ["td", "iwae"] },
  "iaf": { config: { inputDim: 10, latentDim: 4, hidden: [6], flow: { type: "iaf", length: 2, hidden: 7 } }, data: "unit", estimators: ["td", "stl", "iwae", "iwae-stl", "dreg"] },
  "categorical": { config: { inputDim: 10, hidden: [6], latent: { type: "categorical", variables: 3, categories: 4 } }, data: "unit", estimators: ["analytic"], temperature: 0.7 },
  "categorical-hard": {
    config: { inputDim: 10, hidden: [6], latent: { type: "categorical", variables: 2, categories: 3 } }, data: "unit", estimators: ["analytic"], temperature: 1.3, straightThrough: true,
  },
  "conv-grey": {
    config: {
      inputShape: [1, 8, 8], latentDim: 3,
      encoder: [{ type: "conv", out: 4, kernel: 4, stride: 2, padding: 1 }, { type: "conv", out: 6, kernel: 3, stride: 1, padding: 1 }, { type: "flatten" }, { type: "dense", units: 10 }],
      decoder: [{ type: "dense", units: 6 * 4 * 4 }, { type: "unflatten", shape: [6, 4, 4] }, { type: "convT", out: 1, kernel: 4, stride: 2, padding: 1 }],
    },
    data: "unit", estimators: ALL,
  },
  "conv-rgb": {
    config: {
      inputShape: [3, 6, 6], latentDim: 2, activation: "tanh", likelihood: "gaussian",
      encoder: [{ type: "conv", out: 5, kernel: 2, stride: 2 }, { type: "flatten" }],
      decoder: [{ type: "dense", units: 4 * 3 * 3 }, { type: "unflatten", shape: [4, 3, 3] }, { type: "convT", out: 3, kernel: 2, stride: 2 }],
    },
    data: "real", estimators: ["analytic", "td", "dreg"],
  },
};
const N = 5, K = 3;

function torchAvailable(): boolean {
  return spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
}

describe("PyTorch interop (interop/torch/vae_wasm_torch/)", () => {
  it("has python3 with torch (Debian: apt-get install python3-torch; or set TORCH_PYTHON)", () => {
    expect(torchAvailable(), `${PYTHON} cannot import torch`).toBe(true);
  });

  it("agrees on every estimator's loss and gradients, and moves files both ways byte for byte", async () => {
    const models = new Map<string, VAE>();
    for (const [name, c] of Object.entries(CASES)) {
      const vae = await VAE.create({ ...c.config, seed: 11 });
      const r = rng(name.length * 101);
      // a few steps first, so no parameter sits at its initial value (the output bias at 0)
      const D = vae.config.inputDim, Z = vae.config.latentDim;
      const x = Float32Array.from(c.data === "unit" ? uniform(N * D, 0, 1, r) : gaussian(N * D, r));
      for (let i = 0; i < 3; i++) vae.trainStep(x, c.temperature !== undefined ? {} : { estimator: "td", samples: 2 });
      const categorical = c.temperature !== undefined;
      // Gumbel noise for a categorical latent, standard normal otherwise
      const eps = Float32Array.from(categorical ? uniform(N * K * Z, 1e-6, 1, r).map((u) => -Math.log(-Math.log(u))) : gaussian(N * K * Z, r));
      writeFileSync(join(dir, `${name}.safetensors`), vae.save({ metadata: { case: name } }));
      const tensors = [{ name: "x", shape: [N, D], data: x }, { name: "eps", shape: [N, K, Z], data: eps }];
      const metadata: Record<string, string> = { estimators: JSON.stringify(c.estimators) };
      if (c.beta !== undefined) metadata.beta = String(c.beta);
      if (c.freeBits !== undefined) metadata.freeBits = String(c.freeBits);
      if (c.temperature !== undefined) metadata.temperature = String(c.temperature);
      if (c.straightThrough) metadata.straightThrough = "1";
      const relax = c.temperature !== undefined ? { temperature: c.temperature, straightThrough: c.straightThrough ?? false } : {};
      for (const est of c.estimators) {
        const beta = c.beta !== undefined && ["analytic", "td", "stl"].includes(est) ? { beta: c.beta, ...(c.freeBits !== undefined ? { freeBits: c.freeBits } : {}) } : {};
        const g = vae.lossAndGrads(x, { estimator: est as never, samples: K, eps, ...beta, ...relax });
        metadata[`${est}/loss`] = String(g.loss);
        for (const [tensor, data] of Object.entries(g.grads)) tensors.push({ name: `${est}/${tensor}`, shape: [data.length], data });
      }
      writeFileSync(join(dir, `${name}.expect.safetensors`), encodeSafetensors(tensors, metadata));
      models.set(name, vae);
    }
    const run = spawnSync(PYTHON, [CHECK, dir], { encoding: "utf8", timeout: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, {
      estimators: Record<string, { loss: number; lossRel: number; gradRel: number; worstTensor: string }>; roundTrip: boolean; torchNextLoss: number;
      flooredAnalytic?: number; flooredMonteCarlo?: number;
    }>;
    // pytorch/examples' VAE converted by the command line: the library computes its loss_function
    const examples = result.examples as unknown as { backEqual: boolean; refusedCode: number; refusedMessage: string };
    expect(examples.backEqual, "examples → library → examples").toBe(true);
    expect(examples.refusedCode).toBe(2);
    expect(examples.refusedMessage).toMatch(/to-examples: .*pytorch\/examples' VAE has one ReLU hidden layer each way.*; this model has encoder and decoder layer lists/);
    const io = decodeSafetensors(readFileSync(join(dir, "examples.io.safetensors")));
    const ex = await VAE.load(readFileSync(join(dir, "examples.safetensors")));
    expect(ex.config.hidden).toEqual([7]);
    const exLoss = ex.lossAndGrads(io.tensors.get("x")!.data, { estimator: "analytic", eps: io.tensors.get("eps")!.data }).loss;
    expect(Math.abs(exLoss - Number(io.metadata.loss)) / Number(io.metadata.loss), "pytorch/examples' loss").toBeLessThan(1e-5);
    ex.dispose();
    for (const [name, c] of Object.entries(CASES)) {
      const got = result[name];
      expect(Object.keys(got.estimators).sort(), name).toEqual([...c.estimators].sort());
      for (const [est, e] of Object.entries(got.estimators)) {
        expect(e.lossRel, `${name} ${est}: loss ${e.loss}`).toBeLessThan(1e-5);
        expect(e.gradRel, `${name} ${est}: gradient of ${e.worstTensor}`).toBeLessThan(1e-5);
      }
      const worst = (k: "lossRel" | "gradRel") => Math.max(...Object.values(got.estimators).map((e) => e[k])).toExponential(1);
      const w = Object.entries(got.estimators).reduce((a, b) => (b[1].gradRel > a[1].gradRel ? b : a));
      console.log(`${name}: ${c.estimators.length} estimators, largest relative difference: loss ${worst("lossRel")}, gradient ${worst("gradRel")} (${w[0]}, ${w[1].worstTensor})`);
      if (c.freeBits !== undefined) {
        // the floor holds some (example, dimension) pairs and not others, so both branches are compared
        for (const f of [got.flooredAnalytic!, got.flooredMonteCarlo!]) {
          expect(f, `${name}: fraction floored`).toBeGreaterThan(0);
          expect(f, `${name}: fraction floored`).toBeLessThan(1);
        }
      }
      expect(got.roundTrip, `${name}: the library's file written back by PyTorch`).toBe(true);
      // PyTorch's model in the library: loads without a config, saves back byte for byte, same loss
      const bytes = readFileSync(join(dir, `${name}.torch.safetensors`));
      const back = await VAE.load(bytes);
      expect(back.stepCount).toBe(3);
      expect(Buffer.from(back.save({ metadata: { trainedWith: "pytorch" } })).equals(bytes), `${name}: PyTorch's file saved back by the library`).toBe(true);
      const expect_ = readExpect(name);
      const next = back.lossAndGrads(expect_.x, { estimator: c.estimators[0] as never, samples: K, eps: expect_.eps, ...(c.temperature !== undefined ? { temperature: 1 } : {}) });
      expect(Math.abs(next.loss - got.torchNextLoss) / Math.abs(got.torchNextLoss), `${name}: PyTorch-trained model's loss`).toBeLessThan(1e-5);
      back.dispose();
      models.get(name)!.dispose();
    }
  }, 600_000);
});

const M2_CASES: Record<string, { options: { alpha: number; labelledWeight: number; beta: number; gumbelSoftmax?: { temperature: number } }; create?: object }> = {
  "m2-enumerated": { options: { alpha: 50, labelledWeight: 0.5, beta: 1 } },
  "m2-gaussian": { options: { alpha: 20, labelledWeight: 1, beta: 1 }, create: { likelihood: { type: "gaussian", variance: 0.8, learnVariance: true } } },
  "m2-gaussian-fixed": { options: { alpha: 10, labelledWeight: 1, beta: 1, gumbelSoftmax: { temperature: 0.6 } }, create: { likelihood: { type: "gaussian", variance: 1.5 } } },
  "m2-enumerated-beta": { options: { alpha: 50, labelledWeight: 1, beta: 2 } },
  "m2-gumbel": { options: { alpha: 10, labelledWeight: 1, beta: 1, gumbelSoftmax: { temperature: 0.8 } } },
};

describe("PyTorch interop: M2", () => {
  it("agrees on M2's loss and gradients (enumerated and Gumbel-softmax, Bernoulli and Gaussian), files both ways", async () => {
    const D = 10, C = 3, Z = 2, Bl = 3, Bu = 4;
    for (const [name, c] of Object.entries(M2_CASES)) {
      const m = await SemiSupervisedVAE.create({ inputDim: D, classes: C, latentDim: Z, hidden: [6], seed: 3, ...c.create });
      const r = rng(name.length * 31);
      const xl = Float32Array.from(uniform(Bl * D, 0, 1, r)), xu = Float32Array.from(uniform(Bu * D, 0, 1, r));
      const labels = Float32Array.from([2, 0, 1]);
      const R = Bl + (c.options.gumbelSoftmax ? 1 : C) * Bu;
      const eps = Float32Array.from(gaussian(R * Z, r));
      const gumbel = Float32Array.from(uniform(Bu * C, 1e-6, 1, r).map((u) => -Math.log(-Math.log(u))));
      const g = m.lossAndGrads({ x: xl, labels }, xu, { ...c.options, eps, ...(c.options.gumbelSoftmax ? { gumbel } : {}) });
      writeFileSync(join(dir, `${name}.safetensors`), m.save());
      const tensors = [
        { name: "xl", shape: [Bl, D], data: xl }, { name: "labels", shape: [Bl], data: labels }, { name: "xu", shape: [Bu, D], data: xu },
        { name: "eps", shape: [R, Z], data: eps }, { name: "gumbel", shape: [Bu, C], data: gumbel },
        ...Object.entries(g.grads).map(([t, data]) => ({ name: `grad/${t}`, shape: [data.length], data })),
      ];
      const metadata = { loss: String(g.loss), alpha: String(c.options.alpha), labelledWeight: String(c.options.labelledWeight), beta: String(c.options.beta), temperature: String(c.options.gumbelSoftmax?.temperature ?? 0) };
      writeFileSync(join(dir, `${name}.m2expect.safetensors`), encodeSafetensors(tensors, metadata));
      m.dispose();
    }
    const run = spawnSync(PYTHON, [CHECK, dir, "m2"], { encoding: "utf8", timeout: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, { lossRel: number; gradRel: number; worstTensor: string; roundTrip: boolean; torchNextLoss: number }>;
    for (const [name, c] of Object.entries(M2_CASES)) {
      const got = result[name];
      console.log(`${name}: largest relative difference: loss ${got.lossRel.toExponential(1)}, gradient ${got.gradRel.toExponential(1)} (${got.worstTensor})`);
      expect(got.lossRel, `${name}: loss`).toBeLessThan(1e-5);
      expect(got.gradRel, `${name}: gradient of ${got.worstTensor}`).toBeLessThan(1e-5);
      expect(got.roundTrip, `${name}: the library's file written back by PyTorch`).toBe(true);
      const bytes = readFileSync(join(dir, `${name}.torch.safetensors`));
      const back = await SemiSupervisedVAE.load(bytes);
      expect(Buffer.from(back.save()).equals(bytes), `${name}: PyTorch's M2 file saved back by the library`).toBe(true);
      const { tensors } = decodeSafetensors(readFileSync(join(dir, `${name}.m2expect.safetensors`)));
      const t = (k: string) => tensors.get(k)!.data;
      const next = back.lossAndGrads({ x: t("xl"), labels: t("labels") }, t("xu"), { ...c.options, eps: t("eps"), ...(c.options.gumbelSoftmax ? { gumbel: t("gumbel") } : {}) });
      expect(Math.abs(next.loss - got.torchNextLoss) / Math.abs(got.torchNextLoss), `${name}: PyTorch-trained M2's loss`).toBeLessThan(1e-5);
      back.dispose();
    }
  }, 600_000);
});

function readExpect(name: string): { x: Float32Array; eps: Float32Array } {
  const { tensors } = decodeSafetensors(readFileSync(join(dir, `${name}.expect.safetensors`)));
  return { x: tensors.get("x")!.data, eps: tensors.get("eps")!.data };
}
