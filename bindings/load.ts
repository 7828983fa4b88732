// Loads the WebAssembly module with the plain WebAssembly API (no @assemblyscript/loader: its
// helpers need a managed runtime and cannot share memory across workers — see README).
// Picks the build by feature detection: relaxed SIMD (FMA) where the runtime validates it,
// else SIMD, else scalar. Works the same in Node, browsers and edge runtimes; those that refuse
// to compile from bytes pass a precompiled WebAssembly.Module.
import type { Kernels } from "./abi.js";

export type BuildName = "relaxed" | "simd" | "scalar";

// Tiny probe modules (one function using the feature); see wasm-feature-detect.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]);

/** The builds this runtime can run, best first. */
export function supportedBuilds(): BuildName[] {
  const out: BuildName[] = [];
  if (WebAssembly.validate(RELAXED_PROBE)) out.push("relaxed");
  if (WebAssembly.validate(SIMD_PROBE)) out.push("simd");
  out.push("scalar");
  return out;
}

/** Default choice: plain SIMD is the bitwise reference; relaxed only when asked or detected and preferred. */
export function defaultBuild(): BuildName {
  const s = supportedBuilds();
  return s.includes("simd") ? "simd" : "scalar";
}

/** Where a build lives; `shared` is its shared-memory (threads) variant. */
export function wasmUrl(build: BuildName, shared = false): URL {
  return new URL(`../build/vae.${build}${shared ? ".shared" : ""}.wasm`, import.meta.url);
}

/**
 * True in Node (main thread or worker_threads), false in browsers and their workers, even when
 * a bundler provides a `process` shim there (they also define `window` or `self`).
 */
export const isNode = typeof process !== "undefined" && !!(process as { versions?: { node?: string } }).versions?.node &&
  typeof (globalThis as { window?: unknown }).window === "undefined" && typeof (globalThis as { self?: unknown }).self === "undefined";

async function readBytes(url: URL): Promise<Uint8Array> {
  if (isNode && url.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    return new Uint8Array(await readFile(fileURLToPath(url)));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`vae-wasm: could not fetch ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

const moduleCache = new Map<string, Promise<WebAssembly.Module>>();

/** Compiles (once per build) the module for `build` (its shared-memory variant when `shared`). */
export function compileBuild(build: BuildName, shared = false): Promise<WebAssembly.Module> {
  const key = `${build}${shared ? ".shared" : ""}`;
  let p = moduleCache.get(key);
  if (!p) {
    p = (async () => {
      if (!supportedBuilds().includes(build)) {
        throw new Error(
          `vae-wasm: this runtime cannot run the '${build}' build (supported: ${supportedBuilds().join(", ")}). ` +
          (build === "relaxed" ? "Node 20 needs --experimental-wasm-relaxed-simd; " : "") +
          `pass build: '${defaultBuild()}' or omit it to pick automatically.`);
      }
      const bytes = await readBytes(wasmUrl(build, shared));
      return WebAssembly.compile(bytes as BufferSource);
    })();
    moduleCache.set(key, p);
    p.catch(() => moduleCache.delete(key));
  }
  return p;
}

/** A module instance over its own memory. */
export interface Runtime {
  readonly build: BuildName;
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly k: Kernels;
}

const PAGE = 65536;
/** The shared builds declare this maximum (asconfig.json maximumMemory): 1 GiB. */
export const SHARED_MAX_PAGES = 16384;

/** Instantiates `module` over a fresh memory of at least `bytes` (shared for the threads builds). */
export function instantiate(module: WebAssembly.Module, build: BuildName, bytes: number, shared = false): Runtime {
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: shared ? SHARED_MAX_PAGES : 65536, shared });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return { build, module, memory, k: instance.exports as unknown as Kernels };
}

/** Grows `rt.memory` so that it holds at least `bytes`. Views must be re-created afterwards. */
export function ensureMemory(rt: Runtime, bytes: number): void {
  const have = rt.memory.buffer.byteLength;
  if (bytes > have) rt.memory.grow(Math.ceil((bytes - have) / PAGE));
}
