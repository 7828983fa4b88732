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

function validates(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes as BufferSource);
  } catch {
    return false; // a runtime that forbids looking at wasm bytes at all
  }
}

/** The builds this runtime can run, best first. */
export function supportedBuilds(): BuildName[] {
  const out: BuildName[] = [];
  if (validates(RELAXED_PROBE)) out.push("relaxed");
  if (validates(SIMD_PROBE)) out.push("simd");
  out.push("scalar");
  return out;
}

/**
 * Default choice: a build given to provideModule; else plain SIMD (the bitwise reference; relaxed
 * only when asked), else scalar.
 */
export function defaultBuild(): BuildName {
  if (providedDefault) return providedDefault;
  const s = supportedBuilds();
  return s.includes("simd") ? "simd" : "scalar";
}

// One static `new URL(literal, import.meta.url)` per file, so that bundlers (Vite, webpack,
// esbuild) see every .wasm and emit it as an asset.
const WASM_URLS: Record<string, () => URL> = {
  simd: () => new URL("../build/vae.simd.wasm", import.meta.url),
  relaxed: () => new URL("../build/vae.relaxed.wasm", import.meta.url),
  scalar: () => new URL("../build/vae.scalar.wasm", import.meta.url),
  "simd.shared": () => new URL("../build/vae.simd.shared.wasm", import.meta.url),
  "relaxed.shared": () => new URL("../build/vae.relaxed.shared.wasm", import.meta.url),
  "scalar.shared": () => new URL("../build/vae.scalar.shared.wasm", import.meta.url),
};

/** Where a build lives; `shared` is its shared-memory (threads) variant. */
export function wasmUrl(build: BuildName, shared = false): URL {
  return WASM_URLS[`${build}${shared ? ".shared" : ""}`]();
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
const BUILD_NAMES: readonly BuildName[] = ["relaxed", "simd", "scalar"];
let providedDefault: BuildName | null = null;

/**
 * Hands the library a precompiled module, for runtimes that refuse to compile WebAssembly from
 * bytes (Cloudflare workerd, Vercel edge) or apps that fetch it themselves. `module` must be the
 * file `vae-wasm/wasm/vae.<build>.wasm` (or `vae.<build>.shared.wasm` with `shared: true`).
 * The first build provided becomes the default of VAE.create.
 *
 *     import wasm from "vae-wasm/wasm/vae.simd.wasm"; // a WebAssembly.Module in workerd
 *     provideModule(wasm, { build: "simd" });
 */
export function provideModule(module: WebAssembly.Module, options: { build?: BuildName; shared?: boolean } = {}): void {
  if (!(module instanceof WebAssembly.Module)) {
    throw new TypeError(`provideModule: module must be a WebAssembly.Module (the compiled vae-wasm/wasm/vae.<build>.wasm), received ${
      module === null ? "null" : typeof module === "object" ? (module as object).constructor?.name ?? "object" : typeof module}`);
  }
  const build = options.build ?? "simd";
  if (!BUILD_NAMES.includes(build)) throw new TypeError(`provideModule: options.build must be one of ${BUILD_NAMES.join(", ")}, received ${String(build)}`);
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const need of ["gemm", "adam", "heapBase", "simdLevel"]) {
    if (!names.includes(need)) throw new TypeError(`provideModule: this module does not export '${need}'; pass the compiled vae-wasm/wasm/vae.${build}.wasm`);
  }
  moduleCache.set(`${build}${options.shared ? ".shared" : ""}`, Promise.resolve(module));
  if (!options.shared && providedDefault === null) providedDefault = build;
}

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

const warmed = new WeakSet<WebAssembly.Module>();

/**
 * Runs every hot kernel a few dozen times on 16×16 problems in a throwaway instance (~5–10 ms,
 * once per module): V8 first runs WebAssembly in its baseline tier and optimises a function
 * only once it is hot, and there is no on-stack replacement, so without this the first real
 * training step runs 3–5× slower than the next. Compiled code is per module, so the model's own
 * instance (and the workers') get the optimised code.
 */
export function warmUp(module: WebAssembly.Module, build: BuildName, shared = false): void {
  if (warmed.has(module)) return;
  warmed.add(module);
  const { k } = instantiate(module, build, 1 << 20, shared);
  const S = 16, f = 4 * S * S;
  const a = k.heapBase() + 64, b = a + f, c = b + f, d = c + f, e = d + f, g = e + f, scratch = g + f, packed = scratch + 8 * f;
  for (let i = 0; i < 40; i++) {
    k.gemm(c, S, a, S, 1, b, 1, S, d, 0, S, S, S, 0, 1, scratch, 0);
    k.gemm(c, S, a, S, 1, b, 1, S, d, 0, S, S, S, 0, 2, scratch, 0);
    k.gemm(c, S, a, 1, S, b, S, 1, 0, 0, S, S, S, 0, 0, scratch, 0);
    k.packRows(packed, b, S, S, 0, S);
    k.gemm(c, S, a, S, 1, b, 1, S, d, 0, S, S, S, 0, 1, scratch, packed);
    k.biasGrad(d, c, S, 0, S, S, 0);
    k.actBackward(c, a, 0, S * S, 1);
    k.adam(a, b, c, d, a, c, d, 0, S * S, 1e-3, 0.9, 0.999, 1e-8, 1, 0);
    k.randomNormal(e, 1, 1, i, 2, S / 2, 0, S, 0, 0);
    k.bernoulliSample(g, a, 1, 2, i, S, 0, S, 0);
    k.reparameterize(c, e, a, 2, S / 2, 0, S / 2);
    k.bernoulliLogProb(d, b, b, a, 2, S, 0, S);
    k.bernoulliBackward(b, b, a, d, 2, S, 0, S);
    k.gaussianLogProbs(d, e, g, d, c, e, a, 2, S / 2, 0, S / 2, 0, 0);
    k.klStandardNormal(g, a, S / 2, 0, 0, S / 2);
    k.importanceWeights(g, e, d, 2, 0, S / 2);
    k.latentBackward(b, c, c, e, a, d, 0, 2, S / 2, 1, 1, 0, 0, S / 2);
  }
}