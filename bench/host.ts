// The machine a benchmark ran on, for its headline: the CPU model, its logical cores and, on
// Linux, the x86 family/model with the host class they mean (AMD family 25 is Zen 3 or Zen 4,
// 26 Zen 5), which decides which build is fastest and which table of docs/performance.md a run
// belongs in.
import { readFileSync } from "node:fs";
import os from "node:os";

/** The microarchitecture of an x86 (vendor, family, model) from /proc/cpuinfo, or null. */
export function hostClass(vendor: string, family: number, model: number): string | null {
  if (vendor === "AuthenticAMD") {
    if (family === 23) return "Zen 2 or earlier";
    // family 19h: Zen 3 at models 00–0Fh and 20–5Fh, Zen 4 at 10–1Fh and 60–AFh
    if (family === 25) return (model >= 0x10 && model <= 0x1f) || (model >= 0x60 && model <= 0xaf) ? "Zen 4" : "Zen 3";
    if (family === 26) return "Zen 5";
    return null;
  }
  if (vendor === "GenuineIntel" && family === 6) return `Intel family 6 model ${model}`;
  return null;
}

export function cpuName(): string {
  const cpus = os.cpus();
  let name = `${cpus[0]?.model?.trim() || "unknown CPU"}, ${cpus.length} logical cores`;
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.+)$`, "m").exec(info)?.[1]?.trim();
    const family = field("cpu family"), model = field("model");
    if (family) {
      const cls = hostClass(field("vendor_id") ?? "", Number(family), Number(model));
      name += ` (${cls ? cls + ", " : ""}family ${family}, model ${model})`;
    }
  } catch {
    // not Linux: the model name alone
  }
  return name;
}

/** The host class and CPU for a table's headline, e.g. "Zen 5 (AMD EPYC, 2 logical cores)". */
export function hostTag(): string {
  const name = cpuName();
  const m = /^(.*), (\d+ logical cores) \((?:(.+?), )?family/.exec(name);
  if (!m) return name;
  return m[3] ? `${m[3]} (${m[1]}, ${m[2]})` : `${m[1]}, ${m[2]}`;
}
