// npm run bench:data — loading your own data: a 60,000 × 784 CSV of MNIST's training digits (grey
// levels with 4 decimals, 139 MB, written once into the temp folder) read by loadDataset, against
// what a user writes by hand in the same run: readFileSync, split on lines and commas, Number()
// each cell into a Float32Array. Each load runs in a fresh process (peak RSS is per process), in
// alternating rounds; medians of the seconds and of the peak RSS above a process that only
// imported the library.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

const FILE = join(os.tmpdir(), "vae-wasm-bench-mnist-train.csv");
const rounds = Number(process.argv.find((a) => a.startsWith("--rounds="))?.slice(9) ?? 5);

type Result = { seconds: number; peakMB: number; rows: number; cols: number; first: number[] };

/** This process's peak resident set (VmHWM, MiB): per address space (getrusage's maxrss survives exec from a big parent). */
function peakRss(): number {
  return Number(/VmHWM:\s*(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
}

async function child(method: string): Promise<void> {
  const { loadDataset } = await import("../src/index.js");
  const base = peakRss();
  const t0 = performance.now();
  let data: Float32Array, rows: number, cols: number;
  if (method === "vae-wasm") {
    const ds = await loadDataset(FILE);
    [data, rows, cols] = [ds.data, ds.rows, ds.cols];
  } else if (method === "by hand") {
    const lines = readFileSync(FILE, "utf8").split("\n").filter((l) => l !== "");
    rows = lines.length;
    cols = lines[0].split(",").length;
    data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const cells = lines[r].split(",");
      for (let c = 0; c < cols; c++) data[r * cols + c] = Number(cells[c]);
    }
  } else {
    throw new Error(`unknown method ${method}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const peakMB = peakRss() - base;
  const out: Result = { seconds, peakMB, rows, cols, first: Array.from(data.subarray(150, 160)) };
  process.stdout.write(JSON.stringify(out) + "\n");
}

async function main(): Promise<void> {
  if (!existsSync(FILE)) {
    const { loadMnist } = await import("../src/index.js");
    const { train } = await loadMnist();
    const lines: string[] = [];
    for (let r = 0; r < train.rows; r++) {
      const row: string[] = [];
      for (let c = 0; c < train.cols; c++) {
        const v = train.data[r * train.cols + c];
        row.push(v === 0 ? "0" : v.toFixed(4));
      }
      lines.push(row.join(","));
    }
    writeFileSync(FILE, lines.join("\n") + "\n");
  }
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  const family = /cpu family\s*:\s*(\d+)/.exec(existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "")?.[1];
  const size = statSync(FILE).size;
  console.log(`vae-wasm data loading — Node ${process.version} on ${cpu}${family ? ` (family ${family})` : ""}, one core per load`);
  console.log(`a 60,000 × 784 CSV of MNIST grey levels (${(size / 1e6).toFixed(0)} MB; float32 data ${(60000 * 784 * 4 / 2 ** 20).toFixed(0)} MiB), ${rounds} alternating rounds, each load in a fresh process`);
  const methods = ["vae-wasm", "by hand"];
  const results: Record<string, Result[]> = { "vae-wasm": [], "by hand": [] };
  const self = new URL(import.meta.url).pathname;
  for (let i = 0; i < rounds; i++) {
    for (const m of i % 2 ? [...methods].reverse() : methods) {
      const r = spawnSync(process.execPath, ["--max-old-space-size=8192", self, "child", m], { encoding: "utf8", maxBuffer: 1 << 20 });
      if (r.status !== 0) throw new Error(`${m}: ${r.stderr}`);
      results[m].push(JSON.parse(r.stdout));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const same = JSON.stringify(results["vae-wasm"][0].first) === JSON.stringify(results["by hand"][0].first);
  console.log("   method        seconds   peak RSS above baseline   MB/s");
  for (const m of methods) {
    const s = median(results[m].map((r) => r.seconds)), p = median(results[m].map((r) => r.peakMB));
    console.log(`   ${m.padEnd(12)}${s.toFixed(2).padStart(9)}   ${(p.toFixed(0) + " MiB").padStart(12)} (${(p / (60000 * 784 * 4 / 2 ** 20)).toFixed(2)}× the data)   ${(size / 1e6 / s).toFixed(0).padStart(5)}`);
  }
  const ratio = median(results["by hand"].map((r) => r.seconds)) / median(results["vae-wasm"].map((r) => r.seconds));
  console.log(`   vae-wasm is ${ratio.toFixed(1)}× faster than by hand; the same values: ${same}`);
}

if (process.argv[2] === "child") await child(process.argv[3]);
else await main();
