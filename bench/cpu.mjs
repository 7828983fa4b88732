// The CPU a result was measured on, for the .mjs result scripts (bench/host.ts does the same for
// the TypeScript benchmarks, with the host class).
import { readFileSync } from "node:fs";

/** "model name (cpu family F, model M)" from /proc/cpuinfo, or a note that it is unknown. */
export function describeCpu() {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (k) => info.match(new RegExp(`^${k}\\s*: (.*)$`, "m"))?.[1];
    return `${field("model name")} (cpu family ${field("cpu family")}, model ${field("model")})`;
  } catch {
    return "an unrecorded CPU";
  }
}
