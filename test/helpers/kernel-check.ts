// The kernel checks: every build's raw kernels over a fresh memory with a bump allocator, random
// inputs, and central finite differences.
import v8 from "node:v8";
import { expect } from "vitest";
import { compileBuild, instantiate, supportedBuilds, type BuildName } from "../../bindings/load.js";
import type { Kernels } from "../../bindings/abi.js";
import { Arena } from "../../bindings/arena.js";

// Node 20 runs relaxed SIMD only behind a flag; set it before any module is compiled so the
// relaxed build is tested too.
v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

/** Every build this runtime can run (relaxed needs the flag above; the suite fails loudly if it is missing). */
export const BUILDS: BuildName[] = supportedBuilds();

export interface KernelEnv {
  k: Kernels;
  build: BuildName;
  /** copies values into fresh 16-byte aligned memory and returns the byte pointer */
  put(values: ArrayLike<number>): number;
  /** reserves n floats (zeroed) */
  zeros(n: number): number;
  read(ptr: number, n: number): Float32Array;
  write(ptr: number, values: ArrayLike<number>): void;
}

export async function kernelEnv(build: BuildName): Promise<KernelEnv> {
  const rt = instantiate(await compileBuild(build), build, 64 << 20);
  const arena = new Arena(rt.k.heapBase());
  const view = (p: number, n: number) => new Float32Array(rt.memory.buffer, p, n);
  return {
    k: rt.k,
    build,
    put(values) {
      const p = arena.floats(values.length);
      view(p, values.length).set(values);
      return p;
    },
    zeros(n) {
      const p = arena.floats(n);
      view(p, n).fill(0);
      return p;
    },
    read(p, n) {
      return view(p, n).slice();
    },
    write(p, values) {
      view(p, values.length).set(values);
    },
  };
}

/** Deterministic uniform generator (Mulberry32) for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, lo: number, hi: number, r: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function gaussian(n: number, r: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = r() || 1e-12;
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

/** Rounds to f32 and back, so an f64 reference sees exactly the f32 inputs. */
export function f32(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(a as ArrayLike<number>));
}

/** Central finite difference gradient of f at x (f64), step h. */
export function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/**
 * Largest |a - b| / (atol + rtol·|b|) over the arrays; ≤ 1 means every element is within
 * tolerance. Returned (not asserted) so the test's message shows the worst element.
 */
export function worst(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { ratio: number; at: number; got: number; want: number } {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let ratio = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(r <= ratio)) {
      ratio = r;
      at = i;
    }
  }
  return { ratio, at, got: a[at], want: b[at] };
}

/**
 * Every element of `got` within atol + rtol·|want| of `want` (an f64 reference, or central
 * finite differences of one); the failure names the worst element.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, label = ""): void {
  const t = worst(got, want, atol, rtol);
  expect(t.ratio, `${label}${label ? " " : ""}${JSON.stringify(t)}`).toBeLessThanOrEqual(1);
}
