// The PyTorch peer (bench/peers/torch_vae.py) when a python3 with torch is installed (Debian:
// apt-get install python3-torch libopenblas0-pthread). Not needed for the tests.
import { execFileSync } from "node:child_process";

const SCRIPT = new URL("../../../bench/peers/torch_vae.py", import.meta.url).pathname;

export interface TorchTiming {
  torch: string;
  threads: number;
  vae: number;
  iwae: number;
  /** with `conv`: the conv-mnist step only */
  conv: number;
}

/** A python3 that can import torch, or null. */
export function torchPython(): string | null {
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      execFileSync(py, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 });
      return py;
    } catch {
      // next
    }
  }
  return null;
}

/** One run of the peer with torch.set_num_threads(threads) under the given thread variables. */
export function torchTiming(py: string, threads: number, env: Record<string, string>, conv = false): TorchTiming {
  const out = execFileSync(py, [SCRIPT, String(threads), ...(conv ? ["conv"] : [])], {
    encoding: "utf8", timeout: 600_000, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").pop()!);
}

/**
 * glibc keeps freed memory instead of returning each large block to the kernel: PyTorch allocates
 * fresh tensors every step (Adam's temporaries among them), and where a page fault is dear (a VM:
 * 2–4× slower steps on the Zen 5 host) returning and re-faulting them dominates the step.
 */
const KEEP_FREED = { MALLOC_MMAP_THRESHOLD_: "4000000000", MALLOC_TRIM_THRESHOLD_: "4000000000" };

type TorchSetting = { name: string; threads: number; cores: 1 | 2; env: Record<string, string> };
const ONE: TorchSetting = { name: "1 thread", threads: 1, cores: 1, env: { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1" } };
const TWO: TorchSetting = { name: "2 threads, OpenBLAS 1", threads: 2, cores: 2, env: { OMP_NUM_THREADS: "2", OPENBLAS_NUM_THREADS: "1" } };
const keepFreed = (s: TorchSetting): TorchSetting => ({ ...s, name: `${s.name}, freed memory kept`, env: { ...s.env, ...KEEP_FREED } });

/** PyTorch's fastest settings on one core and on two (glibc keeping freed memory), for peers that time only those. */
export const TORCH_ONE = keepFreed(ONE), TORCH_TWO = keepFreed(TWO);

/**
 * The settings compared: one thread, and the 2-thread settings a user might try, the first and
 * the last with glibc keeping freed memory too. `cores` is what a setting occupies; the targets
 * take PyTorch's best setting of each.
 */
export const TORCH_SETTINGS: TorchSetting[] = [
  ONE, TORCH_ONE,
  { name: "2 threads (defaults)", threads: 2, cores: 2, env: {} },
  TWO,
  { name: "2 threads in OpenBLAS only", threads: 1, cores: 2, env: { OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "2" } },
  TORCH_TWO,
];
