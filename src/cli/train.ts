// `train` and `demo`: train on MNIST, report the test loss, save the model (demo: and the pictures).
import { mkdirSync } from "node:fs";
import { writeFileAtomicSync } from "../files/atomic.js";
import { dirname, join } from "node:path";
import cliProgress from "cli-progress";
import { binarize as binarizeOnce, takeRows } from "../data/rows.js";
import { curvesFigure } from "../pictures/figures.js";
import { gridPng, pairsGrid } from "../pictures/image.js";
import { describeLayers } from "../model/network.js";
import { VAE, type EpochRecord, type FitProgress } from "../vae.js";
import { learningRateOf, log, progressLine, readModel, usageError, type Args } from "./args.js";
import { checkBernoulliRange, cliData } from "./data.js";
import { checkpointPath, writeCheckpoint } from "./checkpoint.js";
import { figures } from "./figures.js";

export async function train(args: Args, demo: boolean): Promise<void> {
  const t0 = performance.now();
  const data = await cliData(args);
  const ds = data.mnist;
  if (demo && !ds) usageError("demo runs the MNIST protocol; train on your own data with: vae-wasm train --data PATH");
  const trainSet = data.train;
  checkBernoulliRange(data.name, [data.train, data.test], args.likelihood);
  const shape = args.preset?.model.inputShape ?? args.layers?.inputShape;
  if (shape && shape[0] * shape[1] * shape[2] !== trainSet.cols) {
    usageError(`${args.preset ? `--preset ${args.preset.name}` : "--input-shape"} takes ${shape[1]}×${shape[2]} images with ${shape[0]} channel${shape[0] > 1 ? "s" : ""} (${shape[0] * shape[1] * shape[2]} values a row); ${data.name} has ${trainSet.cols} values a row`);
  }
  // binarized training: the test set is binarized once with a fixed seed, for comparable numbers
  const testSet = args.binarize ? binarizeOnce(data.test, args.seed) : data.test;
  const likelihood = args.likelihood === "bernoulli" ? {} : { likelihood: { type: "gaussian" as const, learnVariance: args.likelihood === "gaussian:learned" } };
  const vae = args.resume ? await VAE.resume(readModel(args.resume), { build: args.build, threads: args.threads }) : await VAE.create({
    ...(args.preset?.model ?? {}),
    // (a layer-list preset gives its input shape and layers)
    ...(args.layers ?? {}),
    ...(args.preset?.model.encoder || args.layers ? {} : { inputDim: trainSet.cols, hidden: args.hidden }), activation: args.activation as never, ...likelihood,
    ...(args.categorical ? { latent: { type: "categorical" as const, ...args.categorical } } : { latentDim: args.latent }),
    ...(args.flow ? { flow: args.flow } : {}),
    seed: args.seed, build: args.build, threads: args.threads,
  });
  const tau0 = args.temperature ?? 1;
  const relax = args.categorical ? {
    temperature: args.anneal ? (_e: number, step: number) => Math.max(0.5, tau0 * Math.exp(-args.anneal! * step)) : tau0,
    straightThrough: args.straightThrough,
  } : {};
  if (args.preset?.initOutputBias && !args.resume) vae.initializeOutputBias(trainSet);
  const outFile = args.out ?? (demo ? join(args.outDir, "model.safetensors") : "model.safetensors");
  const ckFile = checkpointPath(args.checkpoint, outFile);
  const checkpoint = () => {
    mkdirSync(dirname(ckFile) || ".", { recursive: true });
    writeCheckpoint(vae, ckFile, args.argv ?? []);
  };
  if (args.resume) log(args, `vae-wasm: resuming ${args.resume} at optimiser step ${vae.stepCount}`);
  const latentName = (args.categorical ? `${args.categorical.variables}×${args.categorical.categories} categorical` : String(args.latent)) +
    (args.flow ? ` (${args.flow.type} flow × ${args.flow.length})` : "");
  const arch = vae.config.encoder ? describeLayers(vae.config) : `${trainSet.cols}-${args.hidden.join("-")}${args.hidden.length ? "-" : ""}${latentName} ${args.activation}`;
  log(args, `vae-wasm: ${arch} VAE (${vae.parameterCount.toLocaleString("en")} parameters, ${vae.build} build, ${vae.threads} thread${vae.threads > 1 ? "s" : ""}), ` +
    `${trainSet.rows} training / ${testSet.rows} test ${ds ? "images" : `rows of ${data.name}`}${args.binarize ? " (binarized)" : ""}, ${args.estimator} estimator, K=${args.samples}, ` +
    `batch ${args.batchSize}, ${args.preset ? `preset ${args.preset.name}, ${args.epochs} epochs` : `lr ${args.lr}${args.lrEnd !== undefined ? ` → ${args.lrEnd}` : ""}`}`);

  const ctrl = new AbortController();
  const onSigint = () => {
    log(args, "\nvae-wasm: interrupted — stopping after this step, saving the model and a checkpoint");
    ctrl.abort();
  };
  process.once("SIGINT", onSigint);

  const tty = !args.quiet && process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar({
      format: "epoch {epoch}/{epochs} [{bar}] {value}/{total} steps | loss {loss} | {rate} img/s | eta {eta_formatted}",
      stream: process.stderr, hideCursor: true, clearOnComplete: true,
    }, cliProgress.Presets.shades_classic)
    : null;
  let barEpoch = 0;
  const history: EpochRecord[] = [];
  let aborted = false;
  try {
    await vae.fit(trainSet, {
      ...(args.preset?.fit ?? {}),
      epochs: args.epochs, batchSize: args.batchSize, learningRate: args.preset?.schedule ? args.preset.fit.learningRate! : learningRateOf(args), estimator: args.estimator as never,
      samples: args.samples, binarize: args.binarize, validationData: testSet, signal: ctrl.signal, ...relax,
      ...(args.patience ? { patience: args.patience } : {}), ...(args.freeBits ? { freeBits: args.freeBits } : {}),
      ...(args.beta !== 1 ? { beta: args.beta } : {}), ...(args.klWarmup ? { klWarmup: args.klWarmup } : {}),
      onProgress: (p: FitProgress) => {
        if (args.checkpoint && typeof args.checkpointEvery === "number" && vae.stepCount % args.checkpointEvery === 0) checkpoint();
        if (!bar) return;
        if (p.epoch !== barEpoch) {
          barEpoch = p.epoch;
          bar.start(p.stepsPerEpoch, 0, { epoch: p.epoch, epochs: p.epochs, loss: "-", rate: "-" });
        }
        bar.update(p.step, { loss: p.loss.toFixed(2), rate: Math.round(p.examplesPerSecond) });
      },
      onEpochEnd: (r) => {
        bar?.stop();
        if (args.checkpoint && args.checkpointEvery === "epoch") checkpoint();
        // an importance-sampled NLL estimate for the curves (K=100 on 1000 test images: ~1 s)
        if (demo) (r as EpochRecord & { nll?: number }).nll = -vae.logLikelihood(takeRows(testSet, 1000), { samples: 100, seed: args.seed }).mean;
        history.push(r);
        log(args, `epoch ${String(r.epoch).padStart(3)}  train loss ${r.loss.toFixed(2)}  test loss ${r.validationLoss!.toFixed(2)}  (${r.seconds.toFixed(1)} s)`);
      },
    });
  } catch (e) {
    bar?.stop();
    if (!ctrl.signal.aborted) throw e;
    aborted = true;
  } finally {
    process.off("SIGINT", onSigint);
  }

  // the protocol's test loss: negative ELBO per test image (analytic KL, one sample)
  const testLoss = -vae.elbo(testSet, { seed: args.seed });
  let nll: { samples: number; nll: number; seconds: number } | undefined;
  if (args.evalSamples) {
    const t1 = performance.now();
    const r = vae.logLikelihood(testSet, { samples: args.evalSamples, seed: args.seed, onProgress: progressLine(args, "test NLL") });
    nll = { samples: args.evalSamples, nll: -r.mean, seconds: (performance.now() - t1) / 1000 };
  }
  mkdirSync(dirname(outFile) || ".", { recursive: true });
  writeFileAtomicSync(outFile, vae.save({ metadata: {
    training: JSON.stringify({ estimator: args.estimator, samples: args.samples, binarize: args.binarize, preset: args.preset?.name ?? null, epochs: history.length, data: data.name }),
    ...(data.image ? { image: JSON.stringify(data.image) } : {}),
  } }));
  const files: string[] = [outFile];
  if (aborted || args.checkpoint) {
    checkpoint();
    files.push(ckFile);
  }
  if (demo) {
    mkdirSync(args.outDir, { recursive: true });
    writeFileAtomicSync(join(args.outDir, "curves.svg"), await curvesFigure(history, `${trainSet.cols}-${args.hidden.join("-")}-${args.latent} VAE on MNIST: training curves`));
    files.push(join(args.outDir, "curves.svg"));
    const samples = vae.sample(64, { seed: args.seed });
    writeFileAtomicSync(join(args.outDir, "samples.png"), gridPng(samples, 64, { columns: 8 }));
    const n = 32;
    const inputs = testSet.data.subarray(0, n * testSet.cols);
    const recon = vae.reconstruct(inputs);
    const pairs = pairsGrid(inputs, recon, n, 8, testSet.cols);
    writeFileAtomicSync(join(args.outDir, "reconstructions.png"), gridPng(pairs, pairs.length / testSet.cols, { columns: 8 }));
    files.push(join(args.outDir, "samples.png"), join(args.outDir, "reconstructions.png"));
    if (!aborted) files.push(...await figures(args, ds!, false));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({
      command: demo ? "demo" : "train", aborted, config: vae.config, build: vae.build,
      training: { epochs: args.epochs, batchSize: args.batchSize, learningRate: args.lr, learningRateEnd: args.lrEnd ?? args.lr, estimator: args.estimator, samples: args.samples, binarize: args.binarize, trainSize: trainSet.rows },
      history, steps: vae.stepCount, test: { images: testSet.rows, binarized: args.binarize, loss: testLoss, elbo: -testLoss, ...(nll ? { nll } : {}) }, files, seconds,
    }) + "\n");
  } else {
    process.stdout.write(`${aborted ? "stopped early; " : ""}test loss (negative ELBO per ${ds ? "image" : "row"}, nats): ${testLoss.toFixed(2)}\n`);
    if (nll) process.stdout.write(`test NLL (K=${nll.samples} importance samples, nats): ${nll.nll.toFixed(2)}\n`);
    process.stdout.write(`wrote ${files.join(", ")} in ${seconds.toFixed(1)} s\n`);
    if (aborted) process.stdout.write(`continue the run with: vae-wasm train --resume ${ckFile}\n`);
  }
  vae.dispose();
  if (aborted) process.exitCode = 130;
}

/** A throttled "label: done/total" line on stderr (for long evaluations). */
