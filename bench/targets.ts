// The performance targets, checked against the ratios the benchmark's sections measured in this
// run (never against figures from another run or host): each section records what it measured
// and the summary prints every target with the value, the goal and whether it holds here.

export interface Measured {
  /** A target's name, as printed ("2T / tfjs-backend-wasm, VAE step"). */
  what: string;
  /** The measured ratio (higher is better). */
  value: number;
  /** The least value that meets the target. */
  goal: number;
  /** Where it comes from, for the reader ("section 1, simd build"). */
  from: string;
}

const measured: Measured[] = [];

/** Records one measured ratio against its goal. */
export function record(what: string, value: number, goal: number, from: string): void {
  if (Number.isFinite(value)) measured.push({ what, value, goal, from });
}

/**
 * The targets' table: one line per recorded ratio, "holds" or "misses". Sections not run leave
 * their targets out (the table says which of the five kinds it has).
 */
export function targetsTable(host: string): string {
  if (!measured.length) return "";
  const lines = [`\ntargets, from the ratios measured above in this run${host}`,
    "   " + "target".padEnd(56) + "measured".padStart(10) + "goal".padStart(8) + "          from"];
  for (const m of measured) {
    lines.push("   " + m.what.padEnd(56) + `${m.value.toFixed(2)}×`.padStart(10) + `≥ ${m.goal}×`.padStart(8) +
      (m.value >= m.goal ? "  holds " : "  misses") + `  ${m.from}`);
  }
  const held = measured.filter((m) => m.value >= m.goal).length;
  lines.push(`   ${held} of ${measured.length} hold`);
  return lines.join("\n");
}
