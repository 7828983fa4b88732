// Semi-supervised learning with the M2 model (Kingma, Rezende, Mohamed & Welling 2014):
//   classifier q(y|x), encoder q(z|x,y) = N(mu(x,y), diag σ²(x,y)), decoder p(x|y,z) (Bernoulli),
//   priors p(y) uniform over C classes and p(z) = N(0, I).
// A labelled example contributes the bound
//   L(x,y) = E_q(z|x,y)[log p(x|y,z)] + log p(y) − KL(q(z|x,y) ‖ p(z))
// plus α·log q(y|x) (the classification loss, which the bound alone never trains on labelled
// data); an unlabelled example marginalises y by exact enumeration over the C classes,
//   U(x) = Σ_y q(y|x)·(L(x,y) − log q(y|x))      (= Σ_y q L + H(q)).
// One step takes a batch of unlabelled and a batch of labelled examples (the labelled set is
// cycled, reshuffled every pass) and minimises −(mean_u U + λ·mean_l [L + α·log q(y|x)]) with
// λ = N_l/N_u by default: over an epoch every example, labelled or not, then weighs the same, as
// in Kingma et al.'s J^α = Σ_l [L + α log q] + Σ_u U (labelled examples seen every step instead
// of once an epoch, with a weight that makes up for it: the same objective, less noise).
//
// The dense layers, reparameterization, KL, likelihood and their backward passes are the same
// WebAssembly kernels as the VAE's. The encoder and decoder see [x, onehot(y)] and [z, onehot(y)]
// (nn.Linear over the concatenation, as in Kingma et al.'s and Pyro's implementations); an
// unlabelled example becomes C rows r = b·C + y. The C×C per-row weights and the classifier's
// gradient (a few numbers per example) are computed in f64 here.
import { ACT, GRAD, STREAM, type Kernels } from "../bindings/abi.js";
import { Arena } from "../bindings/arena.js";
import { compileBuild, defaultBuild, ensureMemory, instantiate, warmUp, type BuildName, type Runtime } from "../bindings/load.js";
import { inputGrads, linearForward, packedSize, packLayer, scratchFloats, weightGrads, type Layer, type ParamBlocks } from "./engine.js";
import { flushSubnormal } from "./estimators/index.js";
import { SeededRandom } from "./util/random.js";
import { decodeSafetensors, encodeSafetensors } from "./files/safetensors.js";
import { checkBool, checkInt, checkKeys, checkNumber, checkOneOf, fail, toMatrix, type Matrix, type MatrixLike } from "./util/validate.js";

export interface SemiSupervisedOptions {
  /** Data dimension D (784 for MNIST); the data are Bernoulli targets in [0, 1]. */
  inputDim?: number;
  /** Number of classes C. Default 10. */
  classes?: number;
  /** Latent dimension of z. Default 50. */
  latentDim?: number;
  /** Hidden layer sizes of the classifier, the encoder and (reversed) the decoder. Default [500]. */
  hidden?: number[];
  /** Default 'relu'. */
  activation?: "relu" | "tanh";
  /** Seed of initialisation, shuffling and noise. Default 0. */
  seed?: number;
  build?: BuildName;
}

export interface SemiSupervisedConfig {
  inputDim: number;
  classes: number;
  latentDim: number;
  hidden: number[];
  activation: "relu" | "tanh";
  seed: number;
}

export interface SemiSupervisedFitOptions {
  epochs?: number;
  /** Unlabelled examples per step. Default 100. */
  batchSize?: number;
  /** Labelled examples per step (the labelled set is cycled). Default min(100, labelled count). */
  labelledBatchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /**
   * Weight α of the classification term α·log q(y|x) per labelled example. Default 50: with the
   * bound in nats per example, of the order of Pyro's SS-VAE tutorial (46); Kingma et al.'s
   * α = 0.1·N is the same idea with the bound summed over the N training examples.
   */
  alpha?: number;
  /**
   * Weight λ of the labelled batch's mean against the unlabelled batch's mean in each step's
   * loss. Default N_l/N_u (the labelled share of the data: J^α's weighting). 1 weighs the
   * labelled batch like the unlabelled one, which overfits a few labels quickly.
   */
  labelledWeight?: number;
  /** Dynamic binarization of x each time it is used. Default false. */
  binarize?: boolean;
  /**
   * Instead of enumerating the C classes of an unlabelled example, one relaxed sample
   * y ~ Gumbel-softmax(q(y|x), τ) (Jang et al. 2017, sec. 4.3): U ≈ log p(x|y,z) −
   * KL(q(z|x,y) ‖ p(z)) − KL(q(y|x) ‖ uniform), gradients to the classifier through the sample
   * and the closed-form KL. C times cheaper per unlabelled example, biased. Default: enumeration.
   */
  gumbelSoftmax?: { temperature: number };
  /** Called after every epoch; `accuracy` when `validation` was given. */
  onEpochEnd?: (r: SemiSupervisedEpoch) => void;
  validation?: { x: MatrixLike; labels: ArrayLike<number> };
  signal?: AbortSignal;
}

export interface SemiSupervisedEpoch {
  epoch: number;
  /** mean of −(U on unlabelled + L + α log q on labelled) per step */
  loss: number;
  /** mean −U per unlabelled example (nats) */
  unlabelledLoss: number;
  /** classification accuracy on the labelled batches as they were seen */
  labelledAccuracy: number;
  accuracy?: number;
  seconds: number;
}

const FIT_KEYS = ["epochs", "batchSize", "labelledBatchSize", "learningRate", "alpha", "labelledWeight", "binarize", "gumbelSoftmax", "onEpochEnd", "validation", "signal"] as const;

interface Net {
  layers: Layer[];
  /** activations of the hidden layers (byte pointers, set per workspace) */
  hidden: number[];
  dHidden: number[];
}

interface Workspace {
  Bc: number; // classifier rows (labelled + unlabelled)
  R: number; // encoder/decoder rows (labelled + C per unlabelled)
  xc: number; logits: number; dLogits: number;
  /** y of every encoder/decoder row [R, C] (one-hot or relaxed), the encoder's x part once per example [Bc, H₀] and its gradient */
  yIn: number; encA: number; dEncA: number;
  h: number; dh: number; eps: number; z: number;
  decIn: number; out: number; dOut: number; dz: number;
  logpx: number; kl: number; c: number;
  /** Gumbel-softmax of the unlabelled rows' y: noise, sample, relaxed sample, its gradient, KL [Bc·C] */
  g: number; y: number; ys: number; dys: number; klY: number;
  scratch: number;
}

/** The M2 semi-supervised VAE. Single-threaded. */
export class SemiSupervisedVAE {
  readonly config: SemiSupervisedConfig;
  readonly build: BuildName;
  private rt: Runtime;
  private k: Kernels;
  private arena: Arena;
  private blocks!: ParamBlocks;
  private nParams = 0;
  private pM = 0;
  private pV = 0;
  private paramsEnd = 0;
  private cls!: Net;
  private enc!: Net;
  private dec!: Net;
  private tensors: { name: string; shape: number[]; offset: number; size: number }[] = [];
  private ws: Workspace | null = null;
  private steps = 0;
  private disposed = false;

  static async create(options: SemiSupervisedOptions = {}): Promise<SemiSupervisedVAE> {
    const fn = "SemiSupervisedVAE.create";
    checkKeys(fn, "options", options, ["inputDim", "classes", "latentDim", "hidden", "activation", "seed", "build"]);
    const hidden = options.hidden ?? [500];
    if (!Array.isArray(hidden)) fail(fn, "options.hidden", "an array of layer sizes, e.g. [500]", hidden);
    const config: SemiSupervisedConfig = {
      inputDim: checkInt(fn, "options.inputDim", options.inputDim ?? 784, 1, 1 << 20),
      classes: checkInt(fn, "options.classes", options.classes ?? 10, 2, 1 << 12),
      latentDim: checkInt(fn, "options.latentDim", options.latentDim ?? 50, 1, 1 << 12),
      hidden: hidden.map((h, i) => checkInt(fn, `options.hidden[${i}]`, h, 1, 1 << 16)),
      activation: checkOneOf(fn, "options.activation", options.activation ?? "relu", ["relu", "tanh"] as const),
      seed: checkInt(fn, "options.seed", options.seed ?? 0, 0, 0xffffffff),
    };
    const build = options.build ?? defaultBuild();
    checkOneOf(fn, "options.build", build, ["relaxed", "simd", "scalar"] as const);
    const module = await compileBuild(build, false);
    warmUp(module, build, false);
    return new SemiSupervisedVAE(config, build, module);
  }

  private constructor(config: SemiSupervisedConfig, build: BuildName, module: WebAssembly.Module) {
    this.config = config;
    this.build = build;
    this.rt = instantiate(module, build, 1 << 20, false);
    this.k = this.rt.k;
    this.arena = new Arena(this.k.heapBase());
    this.layout();
    this.initParameters();
  }

  // ---------------------------------------------------------------- layout

  private layout(): void {
    const { inputDim: D, classes: C, latentDim: Z, hidden } = this.config;
    const act = ACT[this.config.activation];
    let off = 0, packedOff = 0;
    const net = (name: string, inDim: number, sizes: number[], outDim: number, heads: [string, number][]): Net => {
      const layers: Layer[] = [];
      let prev = inDim;
      const add = (o: number, a: number): Layer => {
        const l: Layer = { inDim: prev, outDim: o, act: a, w: off, b: off + prev * o, pk: packedOff };
        off += prev * o + o;
        packedOff += packedSize(l);
        layers.push(l);
        prev = o;
        return l;
      };
      sizes.forEach((h, i) => {
        const l = add(h, act);
        this.tensor(`${name}.hidden.${i}.weight`, [h, l.inDim], l.w);
        this.tensor(`${name}.hidden.${i}.bias`, [h], l.b);
      });
      const l = add(outDim, ACT.identity);
      // one output layer, exposed as nn.Linear-style tensors per head (rows are contiguous)
      let row = 0;
      for (const [head, rows] of heads) {
        this.tensor(`${name}.${head}.weight`, [rows, l.inDim], l.w + row * l.inDim);
        this.tensor(`${name}.${head}.bias`, [rows], l.b + row);
        row += rows;
      }
      return { layers, hidden: [], dHidden: [] };
    };
    this.cls = net("classifier", D, hidden, C, [["logits", C]]);
    this.enc = net("encoder", D + C, hidden, 2 * Z, [["mu", Z], ["logvar", Z]]);
    this.dec = net("decoder", Z + C, [...hidden].reverse(), D, [["out", D]]);
    this.nParams = off;
    const a = this.arena;
    const pParams = a.floats(off), pGrads = a.floats(off);
    this.pM = a.floats(off);
    this.pV = a.floats(off);
    const pPacked = a.floats(packedOff);
    this.blocks = { pParams, pGrads, pPacked, pMask: 0 };
    this.paramsEnd = a.end;
    ensureMemory(this.rt, this.paramsEnd);
  }

  private tensor(name: string, shape: number[], offset: number): void {
    this.tensors.push({ name, shape, offset, size: shape.reduce((x, y) => x * y, 1) });
  }

  private get layers(): Layer[] {
    return [...this.cls.layers, ...this.enc.layers, ...this.dec.layers];
  }

  /** nn.Linear's default initialisation, U(±1/√in), drawn in WebAssembly from one stream. */
  private initParameters(): void {
    const rng = new SeededRandom(this.config.seed, 1);
    for (const l of this.layers) {
      const n = l.inDim * l.outDim + l.outDim;
      this.k.initUniform(this.blocks.pParams + 4 * l.w, n, rng.state32, 1 / Math.sqrt(l.inDim));
      rng.advance(n);
    }
    this.repack();
  }

  private repack(): void {
    for (const l of this.layers) packLayer(this.k, this.blocks, l, 0, l.outDim);
  }

  /** Activations for up to Bl labelled and Bu unlabelled examples (re-laid when outgrown). */
  private workspace(Bl: number, Bu: number): Workspace {
    const { inputDim: D, classes: C, latentDim: Z, hidden } = this.config;
    const Bc = Bl + Bu, R = Bl + Bu * C;
    if (this.ws && this.ws.Bc >= Bc && this.ws.R >= R) return this.ws;
    const a = this.arena;
    a.reset(this.paramsEnd);
    const rows = (net: Net, n: number) => {
      net.hidden = net.layers.slice(0, -1).map((l) => a.floats(n * l.outDim));
      net.dHidden = net.layers.slice(0, -1).map((l) => a.floats(n * l.outDim));
    };
    rows(this.cls, Bc);
    rows(this.enc, R);
    rows(this.dec, R);
    const ws: Workspace = {
      Bc, R,
      xc: a.floats(Bc * D), logits: a.floats(Bc * C), dLogits: a.floats(Bc * C),
      yIn: a.floats(R * C), encA: a.floats(Bc * this.enc.layers[0].outDim), dEncA: a.floats(Bc * this.enc.layers[0].outDim),
      h: a.floats(R * 2 * Z), dh: a.floats(R * 2 * Z), eps: a.floats(R * Z), z: a.floats(R * Z),
      decIn: a.floats(R * (Z + C)), out: a.floats(R * D), dOut: a.floats(R * D), dz: a.floats(R * Z),
      logpx: a.floats(R), kl: a.floats(R), c: a.floats(R),
      g: a.floats(Bc * C), y: a.floats(Bc * C), ys: a.floats(Bc * C), dys: a.floats(Bc * C), klY: a.floats(Bc),
      scratch: a.floats(scratchFloats(Math.max(D + C, Z + C, 2 * Z, ...hidden, R, Bc))),
    };
    ensureMemory(this.rt, a.end);
    this.ws = ws;
    return ws;
  }

  private f32(p: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, p, n);
  }

  private checkAlive(fn: string): void {
    if (this.disposed) throw new Error(`${fn}: this model was disposed; create or load a new one`);
  }

  // ---------------------------------------------------------------- passes

  private forwardNet(net: Net, x: number, out: number, rows: number): void {
    let input = x;
    net.layers.forEach((l, i) => {
      const y = i < net.layers.length - 1 ? net.hidden[i] : out;
      linearForward(this.k, this.blocks, l, y, input, 0, rows, this.ws!.scratch);
      input = y;
    });
  }

  /**
   * The encoder over R = Bl + E·Bu rows whose inputs are [x_ex(r), y_r]: the first layer as
   * W_y·y_r + (W_x·x + b)_ex(r), act — with x-rows of the unlabelled examples shared by E rows.
   */
  private encoderForward(ws: Workspace, Bl: number, Bu: number, E: number): void {
    const { inputDim: D, classes: C } = this.config;
    const k = this.k, P = this.blocks.pParams, L = this.enc.layers, l0 = L[0], H = l0.outDim, R = Bl + E * Bu, Bc = Bl + Bu;
    const y0 = L.length > 1 ? this.enc.hidden[0] : ws.h;
    // A = x·W_xᵀ + b: B[i, h] = W[h, i] (strides 1, D + C)
    k.gemm(ws.encA, H, ws.xc, D, 1, P + 4 * l0.w, 1, D + C, P + 4 * l0.b, 0, Bc, H, D, 0, ACT.identity, ws.scratch);
    // y0 = Y·W_yᵀ, then + A of the row's example and the activation
    k.gemm(y0, H, ws.yIn, C, 1, P + 4 * (l0.w + D), 1, D + C, 0, 0, R, H, C, 0, ACT.identity, ws.scratch);
    if (Bl) k.addContext(y0, ws.encA, H, 1, H, 0, Bl, l0.act);
    if (Bu) k.addContext(y0 + 4 * Bl * H, ws.encA + 4 * Bl * H, H, E, H, 0, Bu * E, l0.act);
    let input = y0;
    for (let i = 1; i < L.length; i++) {
      const out = i < L.length - 1 ? this.enc.hidden[i] : ws.h;
      linearForward(k, this.blocks, L[i], out, input, 0, R, ws.scratch);
      input = out;
    }
  }

  /** The encoder's first-layer gradients from its dY over R rows: W_x through the per-example sums, W_y, b. */
  private encoderFirstLayerGrads(ws: Workspace, Bl: number, Bu: number, E: number): void {
    const { inputDim: D, classes: C } = this.config;
    const k = this.k, G = this.blocks.pGrads, l0 = this.enc.layers[0], H = l0.outDim, R = Bl + E * Bu, Bc = Bl + Bu;
    const dy0 = this.enc.layers.length > 1 ? this.enc.dHidden[0] : ws.dh;
    k.sumOverSamples(ws.dEncA, H, dy0, 1, H, 0, Bl);
    k.sumOverSamples(ws.dEncA + 4 * Bl * H, H, dy0 + 4 * Bl * H, E, H, 0, Bu);
    // dW_x = dAᵀ·X (rows D + C apart), dW_y = dY0ᵀ·Y, db = Σ_r dY0
    k.gemm(G + 4 * l0.w, D + C, ws.dEncA, 1, H, ws.xc, D, 1, 0, 0, H, D, Bc, 0, ACT.identity, ws.scratch);
    k.gemm(G + 4 * (l0.w + D), D + C, dy0, 1, H, ws.yIn, C, 1, 0, 0, H, C, R, 0, ACT.identity, ws.scratch);
    k.biasGrad(G + 4 * l0.b, dy0, H, 0, R, H, 0);
  }

  /** dY of the output layer in `dOut` → every hidden layer's dY (not the input's). */
  private backwardNet(net: Net, dOut: number, rows: number): void {
    const L = net.layers;
    for (let i = L.length - 1; i > 0; i--) {
      const dy = i === L.length - 1 ? dOut : net.dHidden[i];
      inputGrads(this.k, this.blocks, L[i], dy, net.hidden[i - 1], net.dHidden[i - 1], L[i - 1].act, 0, rows, this.ws!.scratch);
    }
  }

  /** Every layer's weight gradients from layer `from` on (x: the first layer's input). */
  private weightGradsNet(net: Net, x: number, dOut: number, rows: number, from = 0): void {
    net.layers.forEach((l, i) => {
      if (i < from) return;
      const dy = i === net.layers.length - 1 ? dOut : net.dHidden[i];
      weightGrads(this.k, this.blocks, l, dy, i === 0 ? x : net.hidden[i - 1], rows, 0, l.outDim, this.ws!.scratch);
    });
  }

  /** Rows of [v, onehot(y)] into dst ([rows, width + C]); rows from `from` on take y from `soft` instead when given. */
  private concatOneHot(dst: number, src: Float32Array, width: number, rowOf: (r: number) => number, labelOf: (r: number) => number, rows: number,
    soft: Float32Array | null = null, from = 0): void {
    const C = this.config.classes, W = width + C;
    const d = this.f32(dst, rows * W);
    d.fill(0);
    for (let r = 0; r < rows; r++) {
      const s = rowOf(r);
      d.set(src.subarray(s * width, (s + 1) * width), r * W);
      if (soft && r >= from) d.set(soft.subarray((r - from) * C, (r - from + 1) * C), r * W + width);
      else d[r * W + width + labelOf(r)] = 1;
    }
  }

  /**
   * Forward and backward of one step on ws.xc (Bl labelled rows, then Bu unlabelled), the noise
   * eps drawn at (seed, step) unless given. Fills every parameter gradient; returns the parts of
   * the objective.
   */
  private pass(ws: Workspace, labels: ArrayLike<number>, Bl: number, Bu: number, alpha: number, lw: number, step: number, eps?: Float32Array,
    tau = 0, gumbel?: Float32Array): { loss: number; unlabelled: number; correct: number } {
    const { inputDim: D, classes: C, latentDim: Z } = this.config;
    const k = this.k;
    const E = tau ? 1 : C; // rows per unlabelled example: C classes enumerated, or one relaxed sample
    const R = Bl + Bu * E, Bc = Bl + Bu;
    const xc = this.f32(ws.xc, Bc * D);
    // classifier on every example
    this.forwardNet(this.cls, ws.xc, ws.logits, Bc);
    // encoder rows: labelled [x, e_y]; unlabelled example b as C rows [x_b, e_y], y = 0…C−1, or
    // as one row [x_b, y_soft] with y_soft a Gumbel-softmax sample of q(y|x_b)
    const labelOf = (r: number) => (r < Bl ? labels[r] : (r - Bl) % C);
    const lu = ws.logits + 4 * Bl * C;
    let ys: Float32Array | null = null;
    if (tau && Bu) {
      if (gumbel) this.f32(ws.g, Bu * C).set(gumbel);
      else k.gumbelNoise(ws.g, this.config.seed, STREAM.eps + 16, step, 1, C, 0, Bu, 0, 0);
      k.gumbelSoftmax(ws.y, ws.ys, ws.g, lu, 1, 1, C, tau, 0, 0, Bu);
      k.categoricalKL(ws.klY, lu, 1, C, 0, Bu);
      ys = this.f32(ws.ys, Bu * C);
    }
    // y of each row, then the encoder: its first layer on [x, y] is W_x·x + b once per example
    // plus W_y·y per row (an unlabelled example's x part is shared by its C rows)
    this.concatOneHot(ws.yIn, xc, 0, (r) => r, labelOf, R, ys, Bl); // (width 0: y alone)
    this.encoderForward(ws, Bl, Bu, E);
    if (eps) this.f32(ws.eps, R * Z).set(eps);
    else k.randomNormal(ws.eps, this.config.seed, STREAM.eps, step, 1, Z, 0, R, 0, 0);
    k.reparameterize(ws.z, ws.eps, ws.h, 1, Z, 0, R);
    this.concatOneHot(ws.decIn, this.f32(ws.z, R * Z), Z, (r) => r, labelOf, R, ys, Bl);
    this.forwardNet(this.dec, ws.decIn, ws.out, R);
    // log p(x|y,z) against each row's x: labelled rows 1:1, unlabelled rows C per example
    const xu = ws.xc + 4 * Bl * D, ou = ws.out + 4 * Bl * D;
    if (Bl) k.bernoulliLogProb(ws.logpx, ws.out, ws.out, ws.xc, 1, D, 0, Bl);
    if (Bu) k.bernoulliLogProb(ws.logpx + 4 * Bl, ou, ou, xu, E, D, 0, Bu * E);
    k.klStandardNormal(ws.kl, ws.h, Z, 0, R);
    // the objective, the row weights c and the classifier's gradient, in f64
    const logits = this.f32(ws.logits, Bc * C), dLogits = this.f32(ws.dLogits, Bc * C);
    const logpx = this.f32(ws.logpx, R), kl = this.f32(ws.kl, R), c = this.f32(ws.c, R);
    const logPy = -Math.log(C);
    const logq = new Float64Array(C), q = new Float64Array(C), g = new Float64Array(C);
    const softmax = (b: number) => {
      let m = -Infinity;
      for (let y = 0; y < C; y++) m = Math.max(m, logits[b * C + y]);
      let s = 0;
      for (let y = 0; y < C; y++) s += Math.exp(logits[b * C + y] - m);
      const lse = m + Math.log(s);
      for (let y = 0; y < C; y++) {
        logq[y] = logits[b * C + y] - lse;
        q[y] = Math.exp(logq[y]);
      }
    };
    let labelled = 0, unlabelled = 0, correct = 0;
    for (let b = 0; b < Bl; b++) {
      softmax(b);
      const y = labels[b];
      labelled += logpx[b] - kl[b] + logPy + alpha * logq[y];
      c[b] = lw / Bl;
      let arg = 0;
      for (let j = 0; j < C; j++) {
        dLogits[b * C + j] = -((lw * alpha) / Bl) * ((j === y ? 1 : 0) - q[j]);
        if (q[j] > q[arg]) arg = j;
      }
      if (arg === y) correct++;
    }
    const klY = this.f32(ws.klY, Bu);
    for (let u = 0; u < Bu && tau; u++) {
      // one relaxed sample: U ≈ log p(x|y_soft, z) − KL_z − KL(q(y|x) ‖ uniform); the classifier's
      // gradient comes from categoricalBackward below
      const r = Bl + u;
      unlabelled += logpx[r] - kl[r] - klY[u];
      c[r] = 1 / Bu;
    }
    for (let u = 0; u < Bu && !tau; u++) {
      const b = Bl + u;
      softmax(b);
      let U = 0;
      for (let y = 0; y < C; y++) {
        const r = Bl + u * C + y;
        g[y] = logpx[r] - kl[r] + logPy - logq[y]; // L(x, y) − log q(y|x)
        U += q[y] * g[y];
        c[r] = q[y] / Bu;
      }
      unlabelled += U;
      // ∂U/∂logit_j = q_j·(g_j − U)  (softmax; the −1 of ∂H/∂q cancels since Σ_j ∂q_j = 0)
      for (let j = 0; j < C; j++) dLogits[b * C + j] = -(q[j] * (g[j] - U)) / Bu;
    }
    const loss = -((Bl ? (lw * labelled) / Bl : 0) + (Bu ? unlabelled / Bu : 0));
    if (!Number.isFinite(loss)) return { loss, unlabelled: -unlabelled / Math.max(Bu, 1), correct };
    flushSubnormal(c, R); // q(y|x) of a confident classifier reaches 1e-40 (src/estimators.ts)
    // backward: decoder rows weighted by c, then z, the encoder head and the encoder
    if (Bl) k.bernoulliBackward(ws.dOut, ws.out, ws.xc, ws.c, 1, D, 0, Bl);
    if (Bu) k.bernoulliBackward(ws.dOut + 4 * Bl * D, ou, xu, ws.c + 4 * Bl, E, D, 0, Bu * E);
    this.backwardNet(this.dec, ws.dOut, R);
    // dz = dY₀·W₀[:, 0:Z]: the z columns of the decoder's first layer (its y columns need no gradient)
    const l0 = this.dec.layers[0], dy0 = this.dec.layers.length > 1 ? this.dec.dHidden[0] : ws.dOut;
    k.gemm(ws.dz, Z, dy0, l0.outDim, 1, this.blocks.pParams + 4 * l0.w, l0.inDim, 1, 0, 0, R, Z, l0.outDim, 0, ACT.identity, ws.scratch);
    // analytic KL with each row's own weight c_r (K = 1: the rows are the encoder's examples)
    k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, 0, 1, Z, GRAD.analyticPerExample, 0, 0, R);
    this.backwardNet(this.enc, ws.dh, R);
    if (tau && Bu) {
      // ∂loss/∂y_soft from the y columns of the encoder's and the decoder's first layers, then
      // through the relaxed sample (and the closed-form KL) to the classifier's logits
      const e0 = this.enc.layers[0], dyE = this.enc.layers.length > 1 ? this.enc.dHidden[0] : ws.dh; // (dY of the whole first layer)
      const P = this.blocks.pParams;
      k.gemm(ws.dys, C, dyE + 4 * Bl * e0.outDim, e0.outDim, 1, P + 4 * (e0.w + D), e0.inDim, 1, 0, 0, Bu, C, e0.outDim, 0, ACT.identity, ws.scratch);
      k.gemm(ws.dys, C, dy0 + 4 * Bl * l0.outDim, l0.outDim, 1, P + 4 * (l0.w + Z), l0.inDim, 1, 0, 0, Bu, C, l0.outDim, 1, ACT.identity, ws.scratch);
      k.categoricalBackward(ws.dLogits + 4 * Bl * C, ws.dys, ws.ys, lu, 1, 1, C, tau, 1 / Bu, 0, Bu);
    }
    this.backwardNet(this.cls, ws.dLogits, Bc);
    this.weightGradsNet(this.dec, ws.decIn, ws.dOut, R);
    this.weightGradsNet(this.enc, 0, ws.dh, R, 1);
    this.encoderFirstLayerGrads(ws, Bl, Bu, E);
    this.weightGradsNet(this.cls, ws.xc, ws.dLogits, Bc);
    return { loss, unlabelled: -unlabelled / Math.max(Bu, 1), correct };
  }

  // ---------------------------------------------------------------- public API

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.nParams;
  }

  /**
   * Trains on labelled examples (x with their class labels 0…C−1) and unlabelled ones with
   * Adam. Resolves with one record per epoch (an epoch is one pass over the unlabelled data).
   */
  async fit(labelled: { x: MatrixLike; labels: ArrayLike<number> }, unlabelled: MatrixLike, options: SemiSupervisedFitOptions = {}):
    Promise<SemiSupervisedEpoch[]> {
    const fn = "SemiSupervisedVAE.fit";
    this.checkAlive(fn);
    checkKeys(fn, "options", options, FIT_KEYS);
    if (!labelled || typeof labelled !== "object") fail(fn, "labelled", "{x, labels}", labelled);
    const xl = this.input(fn, labelled.x, "labelled.x");
    const yl = this.labels(fn, labelled.labels, xl.rows, "labelled.labels");
    const xu = this.input(fn, unlabelled, "unlabelled");
    const epochs = checkInt(fn, "options.epochs", options.epochs ?? 10, 1);
    const Bu = checkInt(fn, "options.batchSize", options.batchSize ?? 100, 1, 1 << 16);
    const Bl = checkInt(fn, "options.labelledBatchSize", options.labelledBatchSize ?? Math.min(100, xl.rows), 1, xl.rows);
    const lr = checkNumber(fn, "options.learningRate", options.learningRate ?? 1e-3, { gt: 0 });
    const alpha = checkNumber(fn, "options.alpha", options.alpha ?? 50, { min: 0 });
    const lw = checkNumber(fn, "options.labelledWeight", options.labelledWeight ?? xl.rows / xu.rows, { gt: 0 });
    const binarize = checkBool(fn, "options.binarize", options.binarize ?? false);
    const tau = this.relaxation(fn, options.gumbelSoftmax);
    if (options.onEpochEnd !== undefined && typeof options.onEpochEnd !== "function") fail(fn, "options.onEpochEnd", "a function", options.onEpochEnd);
    const val = options.validation;
    const valX = val ? this.input(fn, val.x, "options.validation.x") : null;
    const valY = val && valX ? this.labels(fn, val.labels, valX.rows, "options.validation.labels") : null;
    const signal = options.signal;
    signal?.throwIfAborted();
    const { inputDim: D } = this.config;
    const history: SemiSupervisedEpoch[] = [];
    let lOrder = new SeededRandom(this.config.seed ^ 0x2545f491, 0).permutation(xl.rows), lPos = 0;
    const stepLabels = new Int32Array(Bl);
    for (let epoch = 0; epoch < epochs; epoch++) {
      const t0 = performance.now();
      const order = new SeededRandom(this.config.seed ^ 0x5bd1e995, this.steps).permutation(xu.rows);
      let lossSum = 0, uSum = 0, correct = 0, seen = 0, steps = 0;
      let lastYield = performance.now();
      for (let s = 0; s < xu.rows; s += Bu) {
        const bu = Math.min(Bu, xu.rows - s);
        const ws = this.workspace(Bl, Bu);
        const xc = this.f32(ws.xc, (Bl + bu) * D);
        for (let b = 0; b < Bl; b++) {
          if (lPos === xl.rows) {
            lOrder = new SeededRandom(this.config.seed ^ 0x2545f491, this.steps + 1).permutation(xl.rows);
            lPos = 0;
          }
          const i = lOrder[lPos++];
          xc.set(xl.data.subarray(i * D, (i + 1) * D), b * D);
          stepLabels[b] = yl[i];
        }
        for (let b = 0; b < bu; b++) {
          const i = order[s + b];
          xc.set(xu.data.subarray(i * D, (i + 1) * D), (Bl + b) * D);
        }
        if (binarize) this.k.bernoulliSample(ws.xc, ws.xc, this.config.seed, STREAM.binarize, this.steps, D, 0, Bl + bu, 0);
        const r = this.pass(ws, stepLabels, Bl, bu, alpha, lw, this.steps, undefined, tau);
        if (!Number.isFinite(r.loss)) {
          throw new Error(`${fn}: the loss became ${r.loss} at epoch ${epoch + 1} (optimiser step ${this.steps + 1}); ` +
            "the parameters are those of the last finite step. Try a lower learningRate or alpha.");
        }
        this.adam(lr);
        lossSum += r.loss;
        uSum += r.unlabelled * bu;
        correct += r.correct;
        seen += bu;
        steps++;
        if (performance.now() - lastYield > 50) {
          await new Promise<void>((resolve) => setTimeout(resolve, 0));
          lastYield = performance.now();
          signal?.throwIfAborted();
        }
      }
      const rec: SemiSupervisedEpoch = {
        epoch: epoch + 1, loss: lossSum / steps, unlabelledLoss: uSum / seen, labelledAccuracy: correct / (steps * Bl),
        seconds: (performance.now() - t0) / 1000,
      };
      if (valX && valY) rec.accuracy = this.accuracy(valX, valY);
      history.push(rec);
      options.onEpochEnd?.(rec);
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      signal?.throwIfAborted();
    }
    return history;
  }

  /** The Gumbel-softmax temperature of an options.gumbelSoftmax, or 0 for enumeration. */
  private relaxation(fn: string, g: unknown): number {
    if (g === undefined) return 0;
    if (!g || typeof g !== "object") fail(fn, "options.gumbelSoftmax", "{temperature: τ > 0}", g);
    checkKeys(fn, "options.gumbelSoftmax", g, ["temperature"]);
    return checkNumber(fn, "options.gumbelSoftmax.temperature", (g as { temperature: unknown }).temperature, { gt: 0 });
  }

  private adam(lr: number): void {
    const t = ++this.steps;
    const b1 = 0.9, b2 = 0.999;
    const { pParams, pGrads } = this.blocks;
    this.k.adam(pParams, pGrads, this.pM, this.pV, 0, this.nParams, lr / (1 - b1 ** t), b1, b2, 1e-8, 1 / Math.sqrt(1 - b2 ** t), 0);
    this.repack();
  }

  /**
   * The loss −(mean_u U + λ·mean_l [L + α·log q(y|x)]) (λ = labelledWeight, default 1) and every parameter's gradient for one
   * batch, nothing updated; `eps` ([Bl + C·Bu, Z]: labelled rows, then C rows per unlabelled
   * example) fixes the noise. For checking against other implementations.
   */
  lossAndGrads(labelled: { x: MatrixLike; labels: ArrayLike<number> }, unlabelled: MatrixLike,
    opts: { alpha?: number; labelledWeight?: number; eps?: Float32Array; gumbelSoftmax?: { temperature: number }; gumbel?: Float32Array } = {}):
    { loss: number; grads: Record<string, Float32Array> } {
    const fn = "SemiSupervisedVAE.lossAndGrads";
    this.checkAlive(fn);
    checkKeys(fn, "options", opts, ["alpha", "labelledWeight", "eps", "gumbelSoftmax", "gumbel"]);
    const lw = checkNumber(fn, "options.labelledWeight", opts.labelledWeight ?? 1, { gt: 0 });
    const tau = this.relaxation(fn, opts.gumbelSoftmax);
    const xl = this.input(fn, labelled.x, "labelled.x"), yl = this.labels(fn, labelled.labels, xl.rows, "labelled.labels");
    const xu = this.input(fn, unlabelled, "unlabelled");
    const alpha = checkNumber(fn, "options.alpha", opts.alpha ?? 50, { min: 0 });
    const R = xl.rows + (tau ? 1 : this.config.classes) * xu.rows;
    if (opts.eps !== undefined && (!(opts.eps instanceof Float32Array) || opts.eps.length !== R * this.config.latentDim)) {
      fail(fn, "options.eps", `a Float32Array of ${R * this.config.latentDim} values ([labelled + (classes or 1) × unlabelled rows, latentDim])`, opts.eps);
    }
    if (opts.gumbel !== undefined && (!tau || !(opts.gumbel instanceof Float32Array) || opts.gumbel.length !== xu.rows * this.config.classes)) {
      fail(fn, "options.gumbel", `with options.gumbelSoftmax, a Float32Array of ${xu.rows * this.config.classes} Gumbel draws ([unlabelled rows, classes])`, opts.gumbel);
    }
    const ws = this.workspace(xl.rows, xu.rows);
    const D = this.config.inputDim;
    this.f32(ws.xc, xl.rows * D).set(xl.data);
    this.f32(ws.xc + 4 * xl.rows * D, xu.rows * D).set(xu.data);
    const r = this.pass(ws, yl, xl.rows, xu.rows, alpha, lw, 0, opts.eps, tau, opts.gumbel);
    const g = this.f32(this.blocks.pGrads, this.nParams);
    return { loss: r.loss, grads: Object.fromEntries(this.tensors.map((t) => [t.name, g.slice(t.offset, t.offset + t.size)])) };
  }

  /** q(y|x) for every row of x: [N, C] probabilities. */
  classProbs(x: MatrixLike): Float32Array {
    const fn = "SemiSupervisedVAE.classProbs";
    this.checkAlive(fn);
    const m = this.input(fn, x);
    return this.probs(m);
  }

  private probs(m: Matrix): Float32Array {
    const { inputDim: D, classes: C } = this.config;
    const out = new Float32Array(m.rows * C);
    for (let s = 0; s < m.rows; s += 500) {
      const B = Math.min(500, m.rows - s);
      const ws = this.workspace(B, 0);
      this.f32(ws.xc, B * D).set(m.data.subarray(s * D, (s + B) * D));
      this.forwardNet(this.cls, ws.xc, ws.logits, B);
      const l = this.f32(ws.logits, B * C);
      for (let b = 0; b < B; b++) {
        let mx = -Infinity, sum = 0;
        for (let y = 0; y < C; y++) mx = Math.max(mx, l[b * C + y]);
        for (let y = 0; y < C; y++) sum += Math.exp(l[b * C + y] - mx);
        for (let y = 0; y < C; y++) out[(s + b) * C + y] = Math.exp(l[b * C + y] - mx) / sum;
      }
    }
    return out;
  }

  /** The most probable class under q(y|x) for every row of x. */
  classify(x: MatrixLike): Int32Array {
    const fn = "SemiSupervisedVAE.classify";
    this.checkAlive(fn);
    const p = this.probs(this.input(fn, x));
    const C = this.config.classes, n = p.length / C;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let arg = 0;
      for (let y = 1; y < C; y++) if (p[i * C + y] > p[i * C + arg]) arg = y;
      out[i] = arg;
    }
    return out;
  }

  /** The fraction of rows of x that classify() labels correctly. */
  accuracy(x: MatrixLike, labels: ArrayLike<number>): number {
    const fn = "SemiSupervisedVAE.accuracy";
    const pred = this.classify(x);
    const y = this.labels(fn, labels, pred.length, "labels");
    let ok = 0;
    for (let i = 0; i < pred.length; i++) if (pred[i] === y[i]) ok++;
    return ok / pred.length;
  }

  /** Decoder means p(x|y,z) (Bernoulli probabilities) for rows of z ([n, Z]) and classes y ([n]): conditional generation. */
  generate(z: MatrixLike, y: ArrayLike<number>): Float32Array {
    const fn = "SemiSupervisedVAE.generate";
    this.checkAlive(fn);
    const { inputDim: D, latentDim: Z, classes: C } = this.config;
    const m = toMatrix(fn, "z", z, Z);
    const labels = this.labels(fn, y, m.rows, "y");
    const out = new Float32Array(m.rows * D);
    for (let s = 0; s < m.rows; s += 500) {
      const n = Math.min(500, m.rows - s);
      const ws = this.workspace(0, Math.ceil(n / C));
      this.concatOneHot(ws.decIn, m.data, Z, (r) => s + r, (r) => labels[s + r], n);
      this.forwardNet(this.dec, ws.decIn, ws.out, n);
      const o = this.f32(ws.out, n * D);
      for (let i = 0; i < n * D; i++) out[s * D + i] = 1 / (1 + Math.exp(-o[i]));
    }
    return out;
  }

  /** Copies of every parameter tensor by name (nn.Linear layout). */
  stateDict(): Record<string, Float32Array> {
    this.checkAlive("SemiSupervisedVAE.stateDict");
    const p = this.f32(this.blocks.pParams, this.nParams);
    return Object.fromEntries(this.tensors.map((t) => [t.name, p.slice(t.offset, t.offset + t.size)]));
  }

  /** The model as safetensors (configuration in the metadata). */
  save(): Uint8Array {
    this.checkAlive("SemiSupervisedVAE.save");
    const p = this.f32(this.blocks.pParams, this.nParams);
    return encodeSafetensors(this.tensors.map((t) => ({ name: t.name, shape: t.shape, data: p.subarray(t.offset, t.offset + t.size) })),
      { format: "vae-wasm-m2/1", config: JSON.stringify(this.config), steps: String(this.steps) });
  }

  static async load(bytes: Uint8Array, options: { build?: BuildName } = {}): Promise<SemiSupervisedVAE> {
    const fn = "SemiSupervisedVAE.load";
    const { tensors, metadata } = decodeSafetensors(bytes, fn);
    if (metadata.format !== "vae-wasm-m2/1" || !metadata.config) throw new Error(`${fn}: not an M2 model file written by SemiSupervisedVAE.save (format '${metadata.format ?? "none"}')`);
    const m = await SemiSupervisedVAE.create({ ...(JSON.parse(metadata.config) as SemiSupervisedConfig), build: options.build });
    const p = m.f32(m.blocks.pParams, m.nParams);
    for (const t of m.tensors) {
      const f = tensors.get(t.name);
      if (!f || f.data.length !== t.size) throw new Error(`${fn}: tensor '${t.name}' (shape [${t.shape.join(", ")}]) is missing or has the wrong size`);
      p.set(f.data, t.offset);
    }
    m.repack();
    m.steps = Number(metadata.steps ?? 0);
    return m;
  }

  dispose(): void {
    this.disposed = true;
    this.ws = null;
    this.rt = null as unknown as Runtime;
    this.k = null as unknown as Kernels;
  }

  private input(fn: string, x: unknown, arg = "x"): Matrix {
    return toMatrix(fn, arg, x, this.config.inputDim, {
      unit: true, unitExpected: "values in [0, 1]: M2's decoder is Bernoulli (scale pixels by 1/255)",
    });
  }

  private labels(fn: string, y: unknown, n: number, arg: string): Int32Array {
    const C = this.config.classes;
    if (!y || typeof (y as ArrayLike<number>).length !== "number") fail(fn, arg, `an array of ${n} class labels in 0…${C - 1}`, y);
    const a = y as ArrayLike<number>;
    if (a.length !== n) fail(fn, arg, `${n} class labels (one per row)`, y);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(a[i]) || a[i] < 0 || a[i] >= C) fail(fn, `${arg}[${i}]`, `a class label in 0…${C - 1}`, a[i]);
      out[i] = a[i];
    }
    return out;
  }
}
