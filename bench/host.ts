// The machine a benchmark ran on, for its headline: the CPU model, its logical cores and, on
// Linux, the x86 family/model (AMD family 25 is Zen 3, 26 Zen 5), which decide which build is fastest.
import { readFileSync } from "node:fs";
import os from "node:os";

export function cpuName(): string {
  const cpus = os.cpus();
  let name = `${cpus[0]?.model?.trim() || "unknown CPU"}, ${cpus.length} logical cores`;
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.+)$`, "m").exec(info)?.[1]?.trim();
    if (field("cpu family")) name += ` (family ${field("cpu family")}, model ${field("model")})`;
  } catch {
    // not Linux: the model name alone
  }
  return name;
}
