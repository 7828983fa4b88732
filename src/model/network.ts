// Encoders and decoders described as layer lists (dense, convolution, transposed convolution,
// flatten, unflatten), like nn.Sequential: their checks, the shapes they chain through, and
// their layers and named tensors in a parameter layout. Tensors are named
// `encoder.layers.{i}.weight` / `.bias` with i the index in the list (as nn.Sequential's state
// dict names them), in PyTorch's layouts: nn.Linear [out, in], nn.Conv2d [out, in, kh, kw],
// nn.ConvTranspose2d [in, out, kh, kw].
import { ACT } from "../../bindings/abi.js";
import { convGeometry, type NetLayer } from "../nn/conv.js";
import type { ParamLayout } from "../nn/layout.js";
import { checkInt, checkKeys, checkOneOf, Described, fail } from "../util/validate.js";
import type { Activation } from "./config.js";

const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "identity"];

export type LayerSpec =
  | { type: "dense"; units: number; activation?: Activation }
  | { type: "conv" | "convT"; out: number; kernel: number | [number, number]; stride?: number | [number, number]; padding?: number | [number, number]; activation?: Activation }
  | { type: "flatten" }
  | { type: "unflatten"; shape: [number, number, number] };

/** A spec with every default filled in (what a model file keeps). */
export type ResolvedLayerSpec =
  | { type: "dense"; units: number; activation: Activation }
  | { type: "conv" | "convT"; out: number; kernel: [number, number]; stride: [number, number]; padding: [number, number]; activation: Activation }
  | { type: "flatten" }
  | { type: "unflatten"; shape: [number, number, number] };

/** A shape between layers: [n] flat, or an image [C, H, W]. */
export type Shape = [number] | [number, number, number];

const show = (s: Shape) => (s.length === 1 ? `a flat vector of ${s[0]}` : `a ${s[0]}×${s[1]}×${s[2]} image [C, H, W]`);
const TYPES = ["dense", "conv", "convT", "flatten", "unflatten"] as const;

function pairOf(fn: string, arg: string, v: unknown, min: number, def: number): [number, number] {
  if (v === undefined) return [def, def];
  if (Array.isArray(v)) {
    if (v.length !== 2) fail(fn, arg, "an integer or a pair [height, width]", v);
    return [checkInt(fn, `${arg}[0]`, v[0], min, 1 << 16), checkInt(fn, `${arg}[1]`, v[1], min, 1 << 16)];
  }
  const n = checkInt(fn, arg, v, min, 1 << 16);
  return [n, n];
}

/**
 * Checks a layer list named `arg` (e.g. 'options.encoder') from the shape `input`, filling in
 * defaults (`activation`: the hidden layers' default); returns the resolved list and the shape it
 * ends with. Shapes must chain: a dense layer takes a flat input (flatten an image first, as
 * nn.Flatten), a convolution an image (unflatten a vector first, as nn.Unflatten).
 */
export function resolveLayers(fn: string, arg: string, specs: unknown, input: Shape, activation: Activation): { layers: ResolvedLayerSpec[]; out: Shape } {
  if (!Array.isArray(specs) || specs.length === 0) fail(fn, arg, "a non-empty array of layers, e.g. [{type: 'conv', out: 32, kernel: 4, stride: 2, padding: 1}, …]", specs);
  let shape: Shape = input;
  const layers = specs.map((s: unknown, i: number): ResolvedLayerSpec => {
    const at = `${arg}[${i}]`;
    if (typeof s !== "object" || s === null || Array.isArray(s)) fail(fn, at, "a layer object with a type", s);
    const o = s as Record<string, unknown>;
    const type = checkOneOf(fn, `${at}.type`, o.type, TYPES);
    const act = () => checkOneOf(fn, `${at}.activation`, o.activation ?? activation, ACTIVATIONS);
    const needs = (want: "flat" | "image") => {
      if ((want === "flat") !== (shape.length === 1)) {
        fail(fn, at, `${want === "flat" ? "a flat input (put {type: 'flatten'} before a dense layer that follows an image)" : "an image input (put {type: 'unflatten', shape: [C, H, W]} before a convolution that follows a dense layer)"}`,
          new Described(`${show(shape)} from ${i === 0 ? "the input" : `${arg}[${i - 1}]`}`));
      }
    };
    switch (type) {
      case "dense": {
        checkKeys(fn, at, o, ["type", "units", "activation"]);
        needs("flat");
        const units = checkInt(fn, `${at}.units`, o.units, 1, 1 << 20);
        shape = [units];
        return { type, units, activation: act() };
      }
      case "conv":
      case "convT": {
        checkKeys(fn, at, o, ["type", "out", "kernel", "stride", "padding", "activation"]);
        needs("image");
        const out = checkInt(fn, `${at}.out`, o.out, 1, 1 << 16);
        const kernel = pairOf(fn, `${at}.kernel`, o.kernel, 1, NaN), stride = pairOf(fn, `${at}.stride`, o.stride, 1, 1), padding = pairOf(fn, `${at}.padding`, o.padding, 0, 0);
        const g = convGeometry(fn, at, shape as [number, number, number], { out, kernel, stride, padding }, type === "convT");
        shape = [g.O, g.Ho, g.Wo];
        return { type, out, kernel, stride, padding, activation: act() };
      }
      case "flatten": {
        checkKeys(fn, at, o, ["type"]);
        needs("image");
        shape = [shape[0] * (shape[1] ?? 1) * (shape[2] ?? 1)];
        return { type };
      }
      case "unflatten": {
        checkKeys(fn, at, o, ["type", "shape"]);
        needs("flat");
        const sh = o.shape;
        if (!Array.isArray(sh) || sh.length !== 3) fail(fn, `${at}.shape`, "[C, H, W]", sh);
        const img = sh.map((v, j) => checkInt(fn, `${at}.shape[${j}]`, v, 1, 1 << 16)) as [number, number, number];
        if (img[0] * img[1] * img[2] !== shape[0]) {
          fail(fn, `${at}.shape`, `C·H·W = ${shape[0]} (the width of ${i === 0 ? "the input" : `${arg}[${i - 1}]`})`, new Described(`${JSON.stringify(img)} (${img[0] * img[1] * img[2]} values)`));
        }
        shape = img;
        return { type, shape: img };
      }
    }
  });
  return { layers, out: shape };
}

/**
 * Lays out a resolved list's layers from shape `input` with tensors named `${prefix}.layers.{i}`;
 * `lastAct` overrides the last layer's activation (a decoder's output: logits or means).
 */
export function buildLayers(L: ParamLayout, prefix: string, specs: readonly ResolvedLayerSpec[], input: Shape, lastAct?: number): NetLayer[] {
  let shape: Shape = input;
  return specs.map((s, i) => {
    const name = `${prefix}.layers.${i}`;
    const act = i === specs.length - 1 && lastAct !== undefined ? lastAct : "activation" in s ? ACT[s.activation] : ACT.identity;
    switch (s.type) {
      case "dense": {
        const l = L.dense(shape[0], s.units, act);
        L.linear(name, l);
        shape = [s.units];
        return l;
      }
      case "conv":
      case "convT": {
        const g = convGeometry("VAE.create", name, shape as [number, number, number], s, s.type === "convT");
        const l = L.conv(s.type, g, act);
        L.convTensors(name, l);
        shape = [g.O, g.Ho, g.Wo];
        return l;
      }
      case "flatten": {
        const [C, H, W] = shape as [number, number, number];
        shape = [C * H * W];
        return { kind: "flatten", pixels: H * W, channels: C, act: ACT.identity };
      }
      case "unflatten": {
        shape = s.shape;
        return { kind: "unflatten", pixels: s.shape[1] * s.shape[2], channels: s.shape[0], act: ACT.identity };
      }
    }
  });
}

/** A layer-list model in one line, e.g. "1×28×28 conv32k4s2-conv64k4s2-flatten-256 → 20 → 256-3136-unflatten-convT32k4s2-convT1k4s2 relu". */
export function describeLayers(c: { inputShape?: number[]; encoder?: ResolvedLayerSpec[]; decoder?: ResolvedLayerSpec[]; latentDim: number; activation: string }): string {
  const one = (s: ResolvedLayerSpec) => {
    switch (s.type) {
      case "dense": return String(s.units);
      case "conv": case "convT": {
        const k = s.kernel[0] === s.kernel[1] ? s.kernel[0] : s.kernel.join("x"), st = s.stride[0] === s.stride[1] ? s.stride[0] : s.stride.join("x");
        return `${s.type}${s.out}k${k}s${st}`;
      }
      default: return s.type;
    }
  };
  return `${(c.inputShape ?? []).join("×")} ${(c.encoder ?? []).map(one).join("-")} → ${c.latentDim} → ${(c.decoder ?? []).map(one).join("-")} ${c.activation}`;
}
