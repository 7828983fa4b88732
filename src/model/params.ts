// A model's parameters in WebAssembly memory: the block of values laid out by an nn/layout.ts
// ParamLayout, their gradients, Adam's two moments (each block contiguous, so Adam is one pass),
// the forward panels and the masks. Initialisation, the state dict in PyTorch's vocabulary, and
// the safetensors file: shared by the VAE and M2.
//
// With two banks (a model on a worker pool) the values and both moments exist twice: a step reads
// the current bank and Adam writes the other, which becomes current (flip) only when the whole
// update has finished; a step that fails half-way leaves the current bank as it was.
import type { Kernels } from "../../bindings/abi.js";
import type { Arena } from "../../bindings/arena.js";
import { ensureMemory, type Runtime } from "../../bindings/load.js";
import { encodeSafetensors, type SafeTensor } from "../files/safetensors.js";
import { biasSize } from "../nn/conv.js";
import { packLayer, type ParamBlocks } from "../nn/dense.js";
import type { ParamLayout, TensorSpec } from "../nn/layout.js";
import { SeededRandom } from "../util/random.js";
import { fail } from "../util/validate.js";

type Blocks = ParamBlocks & { pM: number; pV: number };

export class Parameters {
  readonly n: number;
  /** byte pointers of bank 0: values, gradients, forward panels, masks, Adam's m and v */
  readonly base: Blocks;
  /** bytes from bank 0 of the values, m and v to bank 1 (0: one bank) */
  readonly bankBytes: number;
  /** the current bank (0 or 1) */
  bank = 0;
  private readonly banks: [Blocks, Blocks];

  /** Reserves the blocks in `arena` (values, gradients, m, v, panels, masks; `banks` copies of values, m, v) and writes the masks. */
  constructor(private readonly rt: Runtime, arena: Arena, readonly layout: ParamLayout, banks: 1 | 2 = 1) {
    const n = layout.floats;
    this.n = n;
    const pParams = arena.floats(banks * n), pGrads = arena.floats(n), pM = arena.floats(banks * n), pV = arena.floats(banks * n);
    const pPacked = arena.floats(layout.packedFloats);
    const pMask = layout.maskFloats ? arena.floats(layout.maskFloats) : 0;
    this.base = { pParams, pGrads, pPacked, pMask, pM, pV };
    this.bankBytes = banks === 2 ? 4 * n : 0;
    const d = this.bankBytes;
    this.banks = [this.base, { ...this.base, pParams: pParams + d, pM: pM + d, pV: pV + d }];
    ensureMemory(rt, arena.end);
    for (const { layer, mask } of layout.masks) this.view(pMask + 4 * layer.mask!, mask.length).set(mask);
  }

  /** Byte pointers of the current bank. */
  get blocks(): Blocks {
    return this.banks[this.bank];
  }

  /** Makes the other bank current (after Adam wrote all of it); nothing with one bank. */
  flip(): void {
    if (this.bankBytes) this.bank ^= 1;
  }

  get k(): Kernels {
    return this.rt.k;
  }

  private view(bytePtr: number, n: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, bytePtr, n);
  }

  /** The values (a view: valid until the memory grows). */
  values(): Float32Array {
    return this.view(this.blocks.pParams, this.n);
  }

  /** The gradients (a view). */
  gradients(): Float32Array {
    return this.view(this.blocks.pGrads, this.n);
  }

  get tensors(): readonly TensorSpec[] {
    return this.layout.tensors;
  }

  /**
   * PyTorch nn.Linear's default initialisation: every layer's weight then bias ~ U(-1/√in, 1/√in),
   * in layout order from one stream of the seeded generator, drawn in WebAssembly. Adam's m and
   * v start at 0 (a fresh memory is zero-filled).
   */
  initUniform(seed: number): void {
    const rng = new SeededRandom(seed, 1);
    for (const l of this.layout.layers) {
      const n = l.inDim * l.outDim + biasSize(l);
      this.k.initUniform(this.blocks.pParams + 4 * l.w, n, rng.state32, 1 / Math.sqrt(l.inDim));
      rng.advance(n);
    }
  }

  /**
   * Re-packs every layer's forward panels from the values: after anything but the Adam step
   * (which re-packs what it updates) changed a weight. Masked weights are first set to exactly 0
   * where masked (Adam never moves them: their gradient is masked too).
   */
  repack(): void {
    const { pParams, pMask } = this.blocks;
    for (const { layer: l } of this.layout.masks) this.k.maskMul(pParams + 4 * l.w, pMask + 4 * l.mask!, 0, l.inDim * l.outDim);
    for (const l of this.layout.layers) packLayer(this.k, this.blocks, l, 0, l.outDim);
  }

  /** Names and shapes of every tensor, in storage order. */
  shapes(): Record<string, number[]> {
    return Object.fromEntries(this.tensors.map((t) => [t.name, [...t.shape]]));
  }

  /** Copies of every tensor of the values (or of the gradients) by name. */
  dict(of: "values" | "gradients" = "values"): Record<string, Float32Array> {
    const p = of === "values" ? this.values() : this.gradients();
    return Object.fromEntries(this.tensors.map((t) => [t.name, p.slice(t.offset, t.offset + t.size)]));
  }

  /**
   * Sets tensors by name (each must match its shape and be finite; others keep their values);
   * `strict`: every tensor must be given. `arg` names a tensor in messages.
   */
  load(fn: string, dict: Record<string, ArrayLike<number>>, strict = false, arg = (name: string) => `dict['${name}']`): void {
    if (!dict || typeof dict !== "object") fail(fn, "dict", "an object of name → Float32Array", dict);
    const byName = new Map(this.tensors.map((t) => [t.name, t]));
    for (const name of Object.keys(dict)) {
      if (!byName.has(name)) fail(fn, arg(name), `one of the model's tensors (${[...byName.keys()].join(", ")})`, name);
    }
    if (strict) {
      for (const name of byName.keys()) if (!(name in dict)) fail(fn, "dict", `every tensor of the model (missing '${name}')`, Object.keys(dict));
    }
    const p = this.values();
    for (const [name, values] of Object.entries(dict)) {
      const t = byName.get(name)!;
      if (!values || typeof (values as ArrayLike<number>).length !== "number" || values.length !== t.size) {
        fail(fn, arg(name), `${t.size} values (shape [${t.shape.join(", ")}])`, values);
      }
      for (let i = 0; i < t.size; i++) {
        if (!Number.isFinite(values[i])) fail(fn, `${arg(name)}[${i}]`, "a finite number", values[i]);
      }
      p.set(values, t.offset);
    }
    this.repack();
  }

  /** Adam over every parameter at step t (torch.optim.Adam's arithmetic), then the panels re-packed. */
  adamAll(lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, t: number): void {
    const { pParams, pGrads, pM, pV } = this.blocks;
    const to = this.banks[this.bankBytes ? this.bank ^ 1 : this.bank];
    this.k.adam(pParams, pGrads, pM, pV, to.pParams, to.pM, to.pV, 0, this.n, lr / (1 - beta1 ** t), beta1, beta2, eps, 1 / Math.sqrt(1 - beta2 ** t), weightDecay);
    this.flip();
    this.repack();
  }

  /**
   * The values as a safetensors file with `metadata`; `withMoments` adds Adam's moments as
   * tensors `optimizer.exp_avg.NAME` and `optimizer.exp_avg_sq.NAME` (PyTorch's names for them).
   */
  save(metadata: Record<string, string>, withMoments = false): Uint8Array {
    const of = (p: Float32Array, prefix: string) =>
      this.tensors.map((t) => ({ name: prefix + t.name, shape: t.shape, data: p.subarray(t.offset, t.offset + t.size) }));
    const { pM, pV } = this.blocks;
    return encodeSafetensors([
      ...of(this.values(), ""),
      ...(withMoments ? [...of(this.view(pM, this.n), MOMENTS.m), ...of(this.view(pV, this.n), MOMENTS.v)] : []),
    ], metadata);
  }

  /** Whether a file's tensors include Adam's moments (any of them). */
  static hasMoments(tensors: Map<string, SafeTensor>): boolean {
    return [...tensors.keys()].some((k) => k.startsWith(MOMENTS.m) || k.startsWith(MOMENTS.v));
  }

  /**
   * Sets Adam's moments from a file's tensors: every one present with its parameter's shape,
   * finite, the second moments ≥ 0; failures name `fn` and the tensor.
   */
  loadMoments(fn: string, tensors: Map<string, SafeTensor>): void {
    const { pM, pV } = this.blocks;
    for (const [prefix, ptr, nonNegative] of [[MOMENTS.m, pM, false], [MOMENTS.v, pV, true]] as const) {
      const dict = fileTensors(fn, this.tensors.map((t) => ({ ...t, name: prefix + t.name })), tensors);
      const block = this.view(ptr, this.n);
      for (const t of this.tensors) {
        const d = dict[prefix + t.name];
        for (let i = 0; i < d.length; i++) {
          if (!Number.isFinite(d[i]) || (nonNegative && d[i] < 0)) {
            fail(fn, `tensor '${prefix + t.name}'[${i}]`, nonNegative ? "a finite number ≥ 0 (Adam's second moment)" : "a finite number", d[i]);
          }
        }
        block.set(d, t.offset);
      }
    }
  }
}

/** Name prefixes of Adam's first and second moments in a checkpoint (torch.optim.Adam's state names). */
export const MOMENTS = { m: "optimizer.exp_avg.", v: "optimizer.exp_avg_sq." } as const;

/** The file's tensors for these specs: every one present with its shape (the file may hold more). */
export function fileTensors(fn: string, specs: readonly TensorSpec[], tensors: Map<string, SafeTensor>): Record<string, Float32Array> {
  const dict: Record<string, Float32Array> = {};
  for (const t of specs) {
    const f = tensors.get(t.name);
    if (!f) throw new Error(`${fn}: tensor '${t.name}' (shape [${t.shape.join(", ")}]) is missing from the file (it has: ${[...tensors.keys()].join(", ").slice(0, 400)})`);
    if (f.shape.join(",") !== t.shape.join(",")) {
      throw new Error(`${fn}: tensor '${t.name}' has shape [${f.shape.join(", ")}] in the file; the configuration needs [${t.shape.join(", ")}]`);
    }
    dict[t.name] = f.data;
  }
  return dict;
}
