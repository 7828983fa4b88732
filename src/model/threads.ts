// How many threads a model may run on here: what was asked for, limited by what the runtime
// allows (shared memory, and a thread that may block in Atomics.wait).
import { checkInt } from "../util/validate.js";

let warnedNoSharedMemory = false;

/** Cores available to this runtime (navigator.hardwareConcurrency, or Node's os.availableParallelism). */
export async function availableCores(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  if (typeof process !== "undefined" && process.versions?.node) {
    const os = await import("node:os");
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return 1;
}

/** The thread count to use: `threads` (or 'auto': the cores) limited by what the runtime allows. */
export function resolveThreads(fn: string, threads: unknown, cores: number): number {
  let n: number;
  if (threads === "auto") {
    n = Math.max(1, cores);
  } else {
    n = checkInt(fn, "options.threads", threads, 1, 256);
  }
  const why = n > 1 ? threadsUnavailable() : null;
  if (why) {
    if (!warnedNoSharedMemory) {
      warnedNoSharedMemory = true;
      console.warn(`vae-wasm: ${n} threads were asked for, but ${why}; running on one thread`);
    }
    n = 1;
  }
  return n;
}

/** Why this context cannot run the worker pool, or null when it can. */
export function threadsUnavailable(): string | null {
  const g = globalThis as { crossOriginIsolated?: boolean; window?: unknown };
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined" || g.crossOriginIsolated === false) {
    return "this runtime has no shared memory (a page needs cross-origin isolation: the headers " +
      "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  }
  if (g.window !== undefined) {
    return "a browser's main thread may not block in Atomics.wait (create the model inside a Web Worker to use threads)";
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return "this runtime cannot create a shared WebAssembly.Memory";
  }
  return null;
}

/** A per-call thread count: 1..threads (default all). */
export function callThreads(fn: string, t: unknown, threads: number): number {
  if (t === undefined) return threads;
  return checkInt(fn, "options.threads", t, 1, threads);
}
