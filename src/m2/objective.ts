// The M2 objective (src/m2.ts has the model and its documentation): its three networks'
// layout, its workspace, and one step's loss and gradients for a labelled and an unlabelled
// batch (`pass`), on the shared dense-layer and latent kernels. The encoder and decoder see
// [x, onehot(y)] and [z, onehot(y)] (nn.Linear over the concatenation, as in Kingma et al.'s
// and Pyro's implementations): their first layers work on the two parts of the input apart
// (nn/dense.ts partForward…), and an unlabelled example becomes C rows r = b·C + y whose x part
// is computed once. The C×C per-row weights and the classifier's gradient (a few numbers per
// example) are computed in f64 here.
import { ACT, GRAD, STREAM, type Kernels } from "../../bindings/abi.js";
import type { Arena } from "../../bindings/arena.js";
import { ensureMemory, type Runtime } from "../../bindings/load.js";
import { flushSubnormal } from "../estimators/index.js";
import type { Parameters } from "../model/params.js";
import { biasGrads, partForward, partInputGrads, partWeightGrads, scratchFloats, type Layer } from "../nn/dense.js";
import type { ParamLayout } from "../nn/layout.js";
import { mlpBackward, mlpForward, mlpWeightGrads } from "../nn/mlp.js";
import { layOut, type SlotTable } from "../nn/workspace.js";

/** The configuration of an M2 model (saved with it). */
export interface SemiSupervisedConfig {
  inputDim: number;
  classes: number;
  latentDim: number;
  hidden: number[];
  activation: "relu" | "tanh";
  seed: number;
}

/** The three networks (classifier, encoder, decoder), each a list of dense layers. */
export interface Nets {
  cls: Layer[];
  enc: Layer[];
  dec: Layer[];
}

interface Dims extends Nets {
  config: SemiSupervisedConfig;
  /** classifier rows (labelled + unlabelled) and encoder/decoder rows (labelled + C per unlabelled) */
  Bc: number;
  R: number;
}

const hiddenOf = (net: (d: Dims) => Layer[], rows: (d: Dims) => number) => ({
  count: (d: Dims) => net(d).length - 1, floats: (d: Dims, i: number) => rows(d) * net(d)[i].outDim,
});
/** rows × width floats */
const per = (rows: (d: Dims) => number, width: (d: Dims) => number) => ({ floats: (d: Dims) => rows(d) * width(d) });
const Bc = (d: Dims) => d.Bc, R = (d: Dims) => d.R, one = () => 1;
const D = (d: Dims) => d.config.inputDim, C = (d: Dims) => d.config.classes, Z = (d: Dims) => d.config.latentDim;

/** The workspace: each network's hidden layers and their gradients, and the step's rows. */
const SLOTS = {
  clsHidden: hiddenOf((d) => d.cls, Bc), clsDHidden: hiddenOf((d) => d.cls, Bc),
  encHidden: hiddenOf((d) => d.enc, R), encDHidden: hiddenOf((d) => d.enc, R),
  decHidden: hiddenOf((d) => d.dec, R), decDHidden: hiddenOf((d) => d.dec, R),
  xc: per(Bc, D), logits: per(Bc, C), dLogits: per(Bc, C),
  /** y of every encoder/decoder row [R, C] (one-hot or relaxed), the encoder's x part once per example [Bc, H₀] and its gradient */
  yIn: per(R, C), encA: per(Bc, (d) => d.enc[0].outDim), dEncA: per(Bc, (d) => d.enc[0].outDim),
  h: per(R, (d) => 2 * Z(d)), dh: per(R, (d) => 2 * Z(d)), eps: per(R, Z), z: per(R, Z),
  decIn: per(R, (d) => Z(d) + C(d)), out: per(R, D), dOut: per(R, D), dz: per(R, Z),
  logpx: per(R, one), kl: per(R, one), c: per(R, one),
  /** Gumbel-softmax of the unlabelled rows' y: noise, sample, relaxed sample, its gradient, KL [Bc·C] */
  g: per(Bc, C), y: per(Bc, C), ys: per(Bc, C), dys: per(Bc, C), klY: per(Bc, one),
  scratch: {
    floats: (d: Dims) => {
      const { inputDim, classes, latentDim, hidden } = d.config;
      return scratchFloats(Math.max(inputDim + classes, latentDim + classes, 2 * latentDim, ...hidden, d.R, d.Bc));
    },
  },
} satisfies SlotTable<Dims>;

export type Workspace = { Bc: number; R: number } & { [K in keyof typeof SLOTS]: (typeof SLOTS)[K] extends { count: unknown } ? number[] : number };

/**
 * Lays out the classifier (D → hidden → C), the encoder ([x, y] → hidden → mu, logvar) and the
 * decoder ([z, y] → hidden reversed → D), each output layer exposed as nn.Linear-style tensors
 * per head (its rows are contiguous).
 */
export function layOutNets(L: ParamLayout, config: SemiSupervisedConfig): Nets {
  const { inputDim: D, classes: C, latentDim: Z, hidden } = config;
  const act = ACT[config.activation];
  const net = (name: string, inDim: number, sizes: number[], outDim: number, heads: [string, number][]): Layer[] => {
    const layers: Layer[] = [];
    let prev = inDim;
    sizes.forEach((h, i) => {
      layers.push(L.dense(prev, h, act));
      L.linear(`${name}.hidden.${i}`, layers[i]);
      prev = h;
    });
    const out = L.dense(prev, outDim, ACT.identity);
    let row = 0;
    for (const [head, rows] of heads) {
      L.linear(`${name}.${head}`, out, row, rows);
      row += rows;
    }
    return [...layers, out];
  };
  return {
    cls: net("classifier", D, hidden, C, [["logits", C]]),
    enc: net("encoder", D + C, hidden, 2 * Z, [["mu", Z], ["logvar", Z]]),
    dec: net("decoder", Z + C, [...hidden].reverse(), D, [["out", D]]),
  };
}

/** One step's loss and gradients (and the forward passes the model's other methods use) over the model's memory. */
export class M2Objective {
  private ws: Workspace | null = null;
  private readonly paramsEnd: number;

  constructor(private readonly rt: Runtime, private readonly arena: Arena, readonly params: Parameters, readonly nets: Nets,
    readonly config: SemiSupervisedConfig) {
    this.paramsEnd = arena.end;
  }

  get k(): Kernels {
    return this.rt.k;
  }

  f32(p: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, p, n);
  }

  /** Activations for up to Bl labelled and Bu unlabelled examples (re-laid when outgrown). */
  workspace(Bl: number, Bu: number): Workspace {
    const Bc = Bl + Bu, R = Bl + Bu * this.config.classes;
    if (this.ws && this.ws.Bc >= Bc && this.ws.R >= R) return this.ws;
    this.arena.reset(this.paramsEnd);
    const { ptrs } = layOut<Dims>(SLOTS, { ...this.nets, config: this.config, Bc, R }, (n) => this.arena.floats(n));
    ensureMemory(this.rt, this.arena.end);
    this.ws = { Bc, R, ...ptrs } as Workspace;
    return this.ws;
  }

  /** The classifier's logits for the B rows in ws.xc (into ws.logits). */
  classify(ws: Workspace, B: number): void {
    mlpForward(this.k, this.params.blocks, this.nets.cls, ws.xc, ws.clsHidden, ws.logits, 0, B, ws.scratch);
  }

  /** The decoder's outputs (logits) for n rows [z, y] in ws.decIn (into ws.out). */
  decode(ws: Workspace, n: number): void {
    mlpForward(this.k, this.params.blocks, this.nets.dec, ws.decIn, ws.decHidden, ws.out, 0, n, ws.scratch);
  }

  /**
   * The encoder over R = Bl + E·Bu rows whose inputs are [x_ex(r), y_r]: the first layer as
   * W_y·y_r + (W_x·x + b)_ex(r), act — with x-rows of the unlabelled examples shared by E rows.
   */
  private encoderForward(ws: Workspace, Bl: number, Bu: number, E: number): void {
    const { inputDim: D, classes: C } = this.config;
    const k = this.k, p = this.params.blocks, L = this.nets.enc, l0 = L[0], H = l0.outDim, R = Bl + E * Bu, Bc = Bl + Bu;
    const y0 = L.length > 1 ? ws.encHidden[0] : ws.h;
    partForward(k, p, l0, 0, D, ws.encA, ws.xc, 0, Bc, ws.scratch, true); // A = x·W_xᵀ + b
    partForward(k, p, l0, D, D + C, y0, ws.yIn, 0, R, ws.scratch, false); // y0 = Y·W_yᵀ, then + A of the row's example and the activation
    if (Bl) k.addContext(y0, ws.encA, H, 1, H, 0, Bl, l0.act);
    if (Bu) k.addContext(y0 + 4 * Bl * H, ws.encA + 4 * Bl * H, H, E, H, 0, Bu * E, l0.act);
    mlpForward(k, p, L.slice(1), y0, ws.encHidden.slice(1), ws.h, 0, R, ws.scratch);
  }

  /** The encoder's first-layer gradients from its dY over R rows: W_x through the per-example sums, W_y, b. */
  private encoderFirstLayerGrads(ws: Workspace, Bl: number, Bu: number, E: number): void {
    const { inputDim: D, classes: C } = this.config;
    const k = this.k, p = this.params.blocks, l0 = this.nets.enc[0], H = l0.outDim, R = Bl + E * Bu, Bc = Bl + Bu;
    const dy0 = this.nets.enc.length > 1 ? ws.encDHidden[0] : ws.dh;
    k.sumOverSamples(ws.dEncA, H, dy0, 1, H, 0, Bl);
    k.sumOverSamples(ws.dEncA + 4 * Bl * H, H, dy0 + 4 * Bl * H, E, H, 0, Bu);
    partWeightGrads(k, p, l0, 0, D, ws.dEncA, ws.xc, Bc, ws.scratch); // dW_x = dAᵀ·X
    partWeightGrads(k, p, l0, D, D + C, dy0, ws.yIn, R, ws.scratch); // dW_y = dY0ᵀ·Y
    biasGrads(k, p, l0, dy0, R);
  }

  /** Rows of [v, onehot(y)] into dst ([rows, width + C]); rows from `from` on take y from `soft` instead when given. */
  concatOneHot(dst: number, src: Float32Array, width: number, rowOf: (r: number) => number, labelOf: (r: number) => number, rows: number,
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

  pass(ws: Workspace, labels: ArrayLike<number>, Bl: number, Bu: number, alpha: number, lw: number, step: number, eps?: Float32Array,
    tau = 0, gumbel?: Float32Array): { loss: number; unlabelled: number; correct: number } {
    const { inputDim: D, classes: C, latentDim: Z } = this.config;
    const k = this.k;
    const E = tau ? 1 : C; // rows per unlabelled example: C classes enumerated, or one relaxed sample
    const R = Bl + Bu * E, Bc = Bl + Bu;
    const xc = this.f32(ws.xc, Bc * D);
    // classifier on every example
    const { cls, enc, dec } = this.nets, scratch = ws.scratch;
    mlpForward(k, this.params.blocks, cls, ws.xc, ws.clsHidden, ws.logits, 0, Bc, scratch);
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
    mlpForward(k, this.params.blocks, dec, ws.decIn, ws.decHidden, ws.out, 0, R, scratch);
    // log p(x|y,z) against each row's x: labelled rows 1:1, unlabelled rows C per example
    const xu = ws.xc + 4 * Bl * D, ou = ws.out + 4 * Bl * D;
    if (Bl) k.bernoulliLogProb(ws.logpx, ws.out, ws.out, ws.xc, 1, D, 0, Bl);
    if (Bu) k.bernoulliLogProb(ws.logpx + 4 * Bl, ou, ou, xu, E, D, 0, Bu * E);
    k.klStandardNormal(ws.kl, ws.h, Z, 0, 0, R);
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
    flushSubnormal(c, R); // q(y|x) of a confident classifier reaches 1e-40 (estimators/estimator.ts)
    // backward: decoder rows weighted by c, then z, the encoder head and the encoder
    if (Bl) k.bernoulliBackward(ws.dOut, ws.out, ws.xc, ws.c, 1, D, 0, Bl);
    if (Bu) k.bernoulliBackward(ws.dOut + 4 * Bl * D, ou, xu, ws.c + 4 * Bl, E, D, 0, Bu * E);
    mlpBackward(k, this.params.blocks, dec, ws.decHidden, ws.decDHidden, ws.dOut, 0, R, scratch);
    // dz = dY₀·W₀[:, 0:Z]: the z columns of the decoder's first layer (its y columns need no gradient)
    const p = this.params.blocks, l0 = dec[0], dy0 = dec.length > 1 ? ws.decDHidden[0] : ws.dOut;
    partInputGrads(k, p, l0, 0, Z, dy0, ws.dz, 0, R, scratch, 0);
    // analytic KL with each row's own weight c_r (K = 1: the rows are the encoder's examples)
    k.latentBackward(ws.dh, ws.dz, ws.z, ws.eps, ws.h, ws.c, 0, 1, Z, GRAD.analyticPerExample, 0, 0, 0, R);
    mlpBackward(k, p, enc, ws.encHidden, ws.encDHidden, ws.dh, 0, R, scratch);
    if (tau && Bu) {
      // ∂loss/∂y_soft from the y columns of the encoder's and the decoder's first layers, then
      // through the relaxed sample (and the closed-form KL) to the classifier's logits
      const e0 = enc[0], dyE = enc.length > 1 ? ws.encDHidden[0] : ws.dh; // (dY of the whole first layer)
      partInputGrads(k, p, e0, D, D + C, dyE + 4 * Bl * e0.outDim, ws.dys, 0, Bu, scratch, 0);
      partInputGrads(k, p, l0, Z, Z + C, dy0 + 4 * Bl * l0.outDim, ws.dys, 0, Bu, scratch, 1);
      k.categoricalBackward(ws.dLogits + 4 * Bl * C, ws.dys, ws.ys, lu, 1, 1, C, tau, 1 / Bu, 0, Bu);
    }
    mlpBackward(k, p, cls, ws.clsHidden, ws.clsDHidden, ws.dLogits, 0, Bc, scratch);
    mlpWeightGrads(k, p, dec, ws.decHidden, ws.decDHidden, ws.decIn, ws.dOut, R, scratch);
    mlpWeightGrads(k, p, enc, ws.encHidden, ws.encDHidden, 0, ws.dh, R, scratch, 1);
    this.encoderFirstLayerGrads(ws, Bl, Bu, E);
    mlpWeightGrads(k, p, cls, ws.clsHidden, ws.clsDHidden, ws.xc, ws.dLogits, Bc, scratch);
    return { loss, unlabelled: -unlabelled / Math.max(Bu, 1), correct };
  }

  // ---------------------------------------------------------------- public API


  // ---------------------------------------------------------------- public API
}
