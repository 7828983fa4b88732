// The command line's layer lists: --input-shape CxHxW, --encoder and --decoder as comma-separated
// layers, e.g. --encoder conv:32:4:2:1,conv:64:4:2:1,flatten,dense:256 — conv:OUT:KERNEL[:STRIDE[:PADDING]],
// convT:… the same, dense:UNITS, flatten, unflatten:CxHxW. VAE.create checks how they chain.
import type { LayerSpec } from "../model/network.js";

export interface CliLayers {
  inputShape?: [number, number, number];
  encoder: LayerSpec[];
  decoder: LayerSpec[];
}

const int = (flag: string, token: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (v === undefined || !/^\d+$/.test(v) || n < min) throw new Error(`--${flag}: '${token}' needs integers ≥ ${min} where it has '${v ?? ""}'`);
  return n;
};

/** CxHxW, e.g. 3x32x32. */
export function parseShape(flag: string, v: string): [number, number, number] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(v);
  if (!m || [m[1], m[2], m[3]].some((d) => Number(d) < 1)) throw new Error(`--${flag} must be CxHxW (channels × height × width), e.g. 1x28x28; got '${v}'`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** One list, e.g. "conv:32:4:2:1,flatten,dense:256". */
export function parseLayers(flag: string, v: string): LayerSpec[] {
  return v.split(",").map((token) => {
    const [type, ...p] = token.split(":");
    switch (type) {
      case "dense":
        if (p.length !== 1) throw new Error(`--${flag}: '${token}' must be dense:UNITS`);
        return { type, units: int(flag, token, p[0], 1) };
      case "conv":
      case "convT":
        if (p.length < 2 || p.length > 4) throw new Error(`--${flag}: '${token}' must be ${type}:OUT:KERNEL[:STRIDE[:PADDING]]`);
        return { type, out: int(flag, token, p[0], 1), kernel: int(flag, token, p[1], 1), stride: p[2] === undefined ? 1 : int(flag, token, p[2], 1), padding: p[3] === undefined ? 0 : int(flag, token, p[3], 0) };
      case "flatten":
        if (p.length) throw new Error(`--${flag}: '${token}' must be flatten (no arguments)`);
        return { type };
      case "unflatten":
        if (p.length !== 1) throw new Error(`--${flag}: '${token}' must be unflatten:CxHxW`);
        return { type, shape: parseShape(flag, p[0]) };
      default:
        throw new Error(`--${flag}: unknown layer '${token}' (layers: conv:OUT:K[:S[:P]], convT:OUT:K[:S[:P]], dense:UNITS, flatten, unflatten:CxHxW)`);
    }
  });
}
