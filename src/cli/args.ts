// The command line's parsed arguments and their checks (the flags themselves, and the help made
// from them: cli/flags.ts), and the progress output every command shares.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { supportedBuilds, type BuildName } from "../../bindings/load.js";
import { ESTIMATOR_NAMES } from "../estimators/index.js";
import { COMMANDS, FLAGS, nearestFlag, parserOptions } from "./flags.js";
import { PRESETS, type Preset } from "../model/presets.js";
import { parseLayers, parseShape, type CliLayers } from "./layers.js";

export interface Args {
  latent: number; hidden: number[]; activation: string; seed: number; build?: BuildName;
  epochs: number; batchSize: number; lr: number;
  /** the learning rate falls geometrically from lr to lrEnd over the epochs */
  lrEnd?: number;
  estimator: string; samples: number; binarize: boolean;
  trainSize?: number; testSize?: number; testFrom?: number; data?: string; out?: string; outDir: string; json: boolean; quiet: boolean;
  preset?: Preset; evalSamples?: number; model?: string; bounds: number[]; samplesGiven: boolean; binarizeGiven: boolean;
  checkpoint?: string; checkpointEvery: number | "epoch"; resume?: string; argv?: string[];
  helpFor?: string; labelColumn?: string; beta: number; klWarmup: number; patience?: number; freeBits: number; steps?: number; row: number;
  testData?: string; validationSplit: number; scale: number; likelihood: "bernoulli" | "gaussian" | "gaussian:learned";
  threads: number | "auto"; estimators: string[]; draws: number; epochsGiven: boolean; count?: number;
  categorical?: { variables: number; categories: number }; temperature?: number; anneal?: number; straightThrough: boolean;
  flow?: { type: "planar" | "radial" | "iaf"; length: number };
  /** --encoder/--decoder (and --input-shape) */
  layers?: CliLayers;
  semi?: {
    labels: number; alpha: number; tau: number; hidden: number[]; latent: number; batchSize: number; binarize: boolean; labelledWeight?: number;
    /** M1+M2: the VAE file whose features M2 learns from */
    features?: string;
  };
}

export function usageError(msg: string): never {
  process.stderr.write(`vae-wasm: ${msg}\nRun 'vae-wasm help' (or 'vae-wasm COMMAND --help') for the options.\n`);
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
      options: parserOptions(),
    });
  } catch (e) {
    const unknown = /Unknown option '--([^']+)'/.exec((e as Error).message)?.[1];
    if (unknown !== undefined) {
      const near = nearestFlag(unknown);
      usageError(`unknown flag --${unknown}${near ? `; did you mean --${near}?` : ""}`);
    }
    usageError((e as Error).message);
  }
  // (values typed by the table in flags.ts: strings for flags with a value, booleans for switches)
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const { values: v, positionals } = parsed as { values: Record<string, any>; positionals: string[] };
  if (v.version) return { command: "version", args: {} as Args };
  if (v.help || positionals[0] === "help") return { command: "help", args: { helpFor: v.help ? positionals[0] : positionals[1] } as Args };
  const command = positionals[0] ?? "help";
  if (command in COMMANDS) {
    for (const f of FLAGS) {
      if (v[f.name] !== undefined && !f.for.includes(command as never)) {
        usageError(`--${f.name} is not an option of ${command} (it is one of ${f.for.join(", ")}); see vae-wasm ${command} --help`);
      }
    }
  } else if (command !== "help") {
    usageError(`unknown command '${command}'; the commands are ${Object.keys(COMMANDS).join(", ")}`);
  }
  const takesModel = ["eval", "variance", "sample", "reconstruct", "traverse", "interpolate"].includes(command);
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
    preset = make(num("stages", v.stages, 8, true, 1));
    // a schedule fixes its epochs, batch size and learning rate; every preset fixes its architecture
    const fixed = preset.schedule ? ["epochs", "hidden", "latent", "activation", "batch-size", "lr", "lr-end"] as const : ["hidden", "latent", "activation"] as const;
    for (const flag of fixed) {
      if (v[flag] !== undefined) usageError(`--${flag} is set by --preset ${v.preset}${preset.schedule ? "; use --stages to shorten the schedule" : ""}`);
    }
    if (!preset.schedule && v.stages !== undefined) usageError(`--stages applies to a preset with a schedule (iwae-mnist); --preset ${v.preset} takes --epochs`);
  } else if (v.stages !== undefined) {
    usageError("--stages needs a --preset");
  }
  const hidden = v.hidden === undefined ? [400] : v.hidden === "" ? [] : v.hidden.split(",").map((h: string) => num("hidden", h, 0, true, 1));
  let layers: CliLayers | undefined;
  if (v.encoder !== undefined || v.decoder !== undefined || v["input-shape"] !== undefined) {
    if (v.encoder === undefined || v.decoder === undefined) usageError("--encoder and --decoder go together (and --input-shape with them for images)");
    if (v.hidden !== undefined) usageError("--hidden cannot be combined with --encoder/--decoder (the layer lists describe every layer)");
    if (preset) usageError(`--encoder/--decoder cannot be combined with --preset ${v.preset} (it sets the layers)`);
    try {
      layers = {
        ...(v["input-shape"] !== undefined ? { inputShape: parseShape("input-shape", v["input-shape"]) } : {}),
        encoder: parseLayers("encoder", v.encoder), decoder: parseLayers("decoder", v.decoder),
      };
    } catch (e) {
      usageError((e as Error).message);
    }
  }
  if (v.build !== undefined && !(["relaxed", "simd", "scalar"] as string[]).includes(v.build)) {
    usageError(`--build must be relaxed, simd or scalar; got '${v.build}' (this runtime supports: ${supportedBuilds().join(", ")})`);
  }
  // Node 20's V8 has relaxed SIMD behind a flag (Node 22 has it on): asked for, it is switched
  // on before any module is compiled (V8 flags are per process, so the workers see it too)
  if (v.build === "relaxed" && !supportedBuilds().includes("relaxed")) setFlagsFromString("--experimental-wasm-relaxed-simd");
  if (v.estimator !== undefined && !(ESTIMATOR_NAMES as readonly string[]).includes(v.estimator)) {
    usageError(`--estimator must be one of ${ESTIMATOR_NAMES.join(", ")}; got '${v.estimator}'`);
  }
  const bounds = (v.bounds ?? "5,50").split(",").filter((b: string) => b !== "").map((b: string) => num("bounds", b, 0, true, 1));
  let categorical: Args["categorical"];
  if (v.categorical !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(v.categorical);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 2) usageError(`--categorical must be VARIABLESxCATEGORIES with at least 2 categories, e.g. 30x10; got '${v.categorical}'`);
    if (preset) usageError(`--categorical cannot be combined with --preset ${v.preset} (a Gaussian-latent protocol)`);
    if (v.latent !== undefined) usageError("--categorical sets the latent size (variables × categories); drop --latent");
    categorical = { variables: Number(m[1]), categories: Number(m[2]) };
    if (v["eval-samples"] !== undefined) usageError("--eval-samples needs a Gaussian latent (the importance-sampled NLL uses log q(z|x)); a categorical model reports its ELBO");
  } else {
    for (const flag of ["temperature", "anneal", "straight-through"] as const) {
      if (v[flag] !== undefined) usageError(`--${flag} applies to a categorical latent only (add --categorical NxC)`);
    }
  }
  if (v["checkpoint-every"] !== undefined && v.checkpoint === undefined && v.resume === undefined) usageError("--checkpoint-every needs --checkpoint PATH (where to write it)");
  let flow: Args["flow"];
  if (v.flow !== undefined) {
    const m = /^(planar|radial|iaf):(\d+)$/.exec(v.flow);
    if (!m || Number(m[2]) < 1) usageError(`--flow must be TYPE:LENGTH with TYPE planar, radial or iaf and LENGTH ≥ 1, e.g. planar:4; got '${v.flow}'`);
    if (categorical) usageError("--flow transforms a Gaussian latent; it cannot be combined with --categorical");
    flow = { type: m[1] as "planar" | "radial" | "iaf", length: Number(m[2]) };
  }
  return {
    command,
    args: {
      flow, layers,
      semi: command === "semi" ? {
        labels: num("labels", v.labels, 100, true, 2), alpha: num("alpha", v.alpha, 50, false, 0),
        tau: v["gumbel-softmax"] === undefined ? 0 : num("gumbel-softmax", v["gumbel-softmax"], 1, false, 1e-6),
        hidden: v.hidden === undefined ? [500] : hidden, latent: num("latent", v.latent, 50, true, 1),
        batchSize: num("batch-size", v["batch-size"], 100, true, 1), binarize: v.binarize ?? true,
        labelledWeight: v["labelled-weight"] === undefined ? undefined : num("labelled-weight", v["labelled-weight"], 1, false, 1e-9),
        features: v.features,
      } : undefined,
      latent: preset ? preset.model.latentDim! : num("latent", v.latent, 20, true, 1),
      hidden: preset ? preset.model.hidden ?? [] : hidden,
      activation: preset ? preset.model.activation! : v.activation ?? "relu", seed: num("seed", v.seed, 1, true, 0),
      build: v.build as BuildName | undefined, epochs: preset?.schedule ? preset.fit.epochs : num("epochs", v.epochs, preset?.fit.epochs ?? 10, true, 1),
      batchSize: preset?.schedule ? preset.fit.batchSize! : num("batch-size", v["batch-size"], preset?.fit.batchSize ?? 128, true, 1),
      lr: num("lr", v.lr, preset?.fit.learningRate as number | undefined ?? 1e-3, false, 0),
      lrEnd: v["lr-end"] === undefined ? undefined : num("lr-end", v["lr-end"], 0, false, 1e-12),
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
      testFrom: v["test-from"] === undefined ? undefined : num("test-from", v["test-from"], 0, true, 0),
      checkpoint: v.checkpoint, resume: v.resume, testData: v["test-data"],
      steps: v.steps === undefined ? undefined : num("steps", v.steps, 0, true, 2), row: num("row", v.row, 0, true, 0),
      patience: v.patience === undefined ? undefined : num("patience", v.patience, 0, true, 1),
      freeBits: num("free-bits", v["free-bits"], 0, false, 0), labelColumn: v["label-column"],
      beta: num("beta", v.beta, 1, false, 0), klWarmup: num("kl-warmup", v["kl-warmup"], 0, true, 0),
      validationSplit: v["validation-split"] === undefined ? 0.1 : fraction(v["validation-split"]),
      scale: num("scale", v.scale, 1, false, Number.MIN_VALUE), likelihood: likelihood(v.likelihood),
      checkpointEvery: v["checkpoint-every"] === undefined || v["checkpoint-every"] === "epoch" ? "epoch" : num("checkpoint-every", v["checkpoint-every"], 0, true, 1),
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

/** --lr, or with --lr-end the rate falling geometrically from --lr to --lr-end over the epochs. */
export function learningRateOf(args: Args): number | ((epoch: number) => number) {
  const { lr, lrEnd, epochs } = args;
  return lrEnd === undefined ? lr : (epoch) => lr * (lrEnd / lr) ** (epoch / epochs);
}

export function readModel(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read model '${path}': ${(e as Error).message}`);
  }
}

/** The flags of a run's command line (its command and --resume dropped): what a checkpoint keeps. */
export function runFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === "--resume") i++;
    else if (!argv[i].startsWith("--resume=")) out.push(argv[i]);
  }
  return out;
}

function fraction(v: string): number {
  const f = Number(v);
  if (!(f > 0 && f < 1)) usageError(`--validation-split must be a fraction in (0, 1), e.g. 0.1; got '${v}'`);
  return f;
}

function likelihood(v: string | undefined): Args["likelihood"] {
  if (v === undefined) return "bernoulli";
  if (v !== "bernoulli" && v !== "gaussian" && v !== "gaussian:learned") usageError(`--likelihood must be bernoulli, gaussian (variance 1) or gaussian:learned (a variance per value, learned); got '${v}'`);
  return v;
}
