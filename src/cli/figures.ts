// `figures`: the pictures that need small trainings of their own (also written by `demo`).
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { join } from "node:path";
import type { Dataset } from "../data/mnist.js";
import { takeRows } from "../data/rows.js";
import { testRows } from "./data.js";
import { manifold, trajectoryFigure, varianceFigure } from "../pictures/figures.js";
import { gridPng } from "../pictures/image.js";
import { VAE } from "../vae.js";
import { log, type Args } from "./args.js";

/**
 * Writes the figures that need their own small trainings: 2-D manifolds (Bernoulli and the seed's
 * Gaussian decoder), gradient variance over training, and the linear-Gaussian trajectory.
 */
export async function figures(args: Args, ds: Dataset, standalone: boolean): Promise<string[]> {
  const out = args.outDir;
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const epochs = standalone && args.epochsGiven ? args.epochs : 5;
  const train = args.trainSize ? takeRows(ds.train, args.trainSize) : ds.train;
  const test = testRows(args, ds.test);
  // 1. the learned 2-D manifold, Bernoulli decoder (Kingma & Welling's figure)
  for (const [name, likelihood] of [["manifold.png", "bernoulli"], ["manifold-gaussian.png", { type: "gaussian", variance: 0.05 }]] as const) {
    log(args, `figures: training a 784-400-2 VAE (${typeof likelihood === "string" ? likelihood : "Gaussian, variance 0.05"}) for ${epochs} epochs`);
    const vae = await VAE.create({ inputDim: train.cols, latentDim: 2, hidden: [400], likelihood, seed: args.seed, threads: args.threads });
    await vae.fit(train, { epochs, batchSize: 128 });
    const grid = manifold(vae, 20);
    for (let i = 0; i < grid.length; i++) grid[i] = Math.min(1, Math.max(0, grid[i]));
    writeFileAtomicSync(join(out, name), gridPng(grid, 400, { columns: 20, gap: 0, scale: 1 }));
    files.push(join(out, name));
    vae.dispose();
  }
  // 2. gradient variance of TD, STL, IWAE and DReG over training (encoder), on 100 test digits
  log(args, "figures: recording gradient statistics while training a 784-400-20 VAE (STL, 1 epoch)");
  const vae = await VAE.create({ inputDim: train.cols, latentDim: 20, hidden: [400], seed: args.seed, threads: args.threads });
  const probe = takeRows(test, 100);
  const records: { step: number; estimator: string; varianceTrace: number; snr: number }[] = [];
  const record = () => {
    for (const [ests, samples] of [[["td", "stl"], 1], [["iwae", "dreg"], 5]] as const) {
      const s = vae.gradientStats(probe, { estimators: [...ests], draws: 20, samples, seed: args.seed });
      for (const e of ests) {
        records.push({ step: vae.stepCount, estimator: samples > 1 ? `${e} (K=5)` : e, varianceTrace: s.estimators[e].encoder.varianceTrace, snr: s.estimators[e].encoder.snr });
      }
    }
  };
  record();
  const every = Math.max(1, Math.floor(Math.ceil(train.rows / 128) / 10)); // ten records per epoch
  await vae.fit(train, { epochs: 1, batchSize: 128, estimator: "stl", onProgress: (p) => { if (p.step % every === 0) record(); } });
  vae.dispose();
  writeFileAtomicSync(join(out, "variance.svg"), await varianceFigure(records, "Encoder gradient variance and SNR during training (MNIST, 784-400-20, 100 test digits, 20 draws)"));
  files.push(join(out, "variance.svg"));
  const last = records.filter((r) => r.step === records[records.length - 1].step);
  const ratio = (a: string, b: string) => last.find((r) => r.estimator === a)!.varianceTrace / last.find((r) => r.estimator === b)!.varianceTrace;
  log(args, `figures: after training, encoder variance STL/TD = ${ratio("stl", "td").toFixed(3)}, DReG/IWAE (K=5) = ${ratio("dreg (K=5)", "iwae (K=5)").toFixed(3)}`);
  // 3. the seed's trajectory figure
  writeFileAtomicSync(join(out, "trajectory.svg"), await trajectoryFigure());
  files.push(join(out, "trajectory.svg"));
  return files;
}
