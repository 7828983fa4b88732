// Where a model's parameters live: dense layers and free vectors laid out one after another in
// one block of floats (so Adam is one pass over contiguous memory), each exposed to users as
// named tensors in PyTorch's nn.Linear layout. Bookkeeping only: the memory is the model's
// (model/params.ts). The VAE and M2 both lay out their networks here.
import type { ConvGeometry, ConvLayer } from "./conv.js";
import { packedSize, type Layer } from "./dense.js";

export interface TensorSpec {
  name: string;
  shape: number[];
  /** offset in floats from the start of the parameter block */
  offset: number;
  size: number;
}

export class ParamLayout {
  /** every dense layer, in parameter order (the order of initialisation) */
  readonly layers: Layer[] = [];
  /** every named tensor, in file order */
  readonly tensors: TensorSpec[] = [];
  /** the masks of masked layers, written into the mask block once it exists */
  readonly masks: { layer: Layer; mask: Float32Array }[] = [];
  /** floats of the parameter block, of the packed panels and of the masks */
  floats = 0;
  packedFloats = 0;
  maskFloats = 0;

  /** A dense layer (W [out, in] then b [out]); with `mask`, W's entries are kept 0 where it is 0. */
  dense(inDim: number, outDim: number, act: number, mask?: Float32Array): Layer {
    const l: Layer = { inDim, outDim, act, w: this.floats, b: this.floats + inDim * outDim, pk: this.packedFloats };
    this.floats += inDim * outDim + outDim;
    this.packedFloats += packedSize(l);
    if (mask) {
      l.mask = this.maskFloats;
      this.maskFloats += mask.length;
      this.masks.push({ layer: l, mask });
    }
    this.layers.push(l);
    return l;
  }

  /**
   * A convolution (nn.Conv2d: W [O, C, KH, KW] then b [O]) or a transposed one
   * (nn.ConvTranspose2d: W [C, O, KH, KW] then b [O]), laid out as its dense view (nn/conv.ts).
   */
  conv(kind: "conv" | "convT", g: ConvGeometry, act: number): ConvLayer {
    const KK = g.KH * g.KW;
    const [outDim, inDim] = kind === "conv" ? [g.O, g.C * KK] : [g.C, g.O * KK];
    const l: ConvLayer = { kind, g, inDim, outDim, act, w: this.floats, b: this.floats + inDim * outDim, pk: this.packedFloats };
    this.floats += inDim * outDim + g.O;
    this.packedFloats += packedSize(l);
    this.layers.push(l);
    return l;
  }

  /** `${prefix}.weight` and `${prefix}.bias` of a convolution, in PyTorch's shapes. */
  convTensors(prefix: string, l: ConvLayer): void {
    const g = l.g;
    this.tensor(`${prefix}.weight`, l.kind === "conv" ? [g.O, g.C, g.KH, g.KW] : [g.C, g.O, g.KH, g.KW], l.w);
    this.tensor(`${prefix}.bias`, [g.O], l.b);
  }

  /** n free parameters (not a layer: not initialised with the layers); returns their offset. */
  vector(n: number): number {
    const at = this.floats;
    this.floats += n;
    return at;
  }

  tensor(name: string, shape: number[], offset: number): void {
    this.tensors.push({ name, shape, offset, size: shape.reduce((a, b) => a * b, 1) });
  }

  /** `${prefix}.weight` [out, in] and `${prefix}.bias` [out] of a layer's rows [row0, row0 + rows) (default all). */
  linear(prefix: string, l: Layer, row0 = 0, rows = l.outDim): void {
    this.tensor(`${prefix}.weight`, [rows, l.inDim], l.w + row0 * l.inDim);
    this.tensor(`${prefix}.bias`, [rows], l.b + row0);
  }
}
