// Files the CLI writes (models, pictures) go through one atomic writer (dist/src/files/atomic.js:
// a temporary file, fsync, rename). A writer process killed at any moment must leave the old
// file or the new one, never a truncated or mixed one: a child rewrites one path with two
// different 8 MB contents in a loop and is killed (SIGKILL) at random moments, many times.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rng } from "../helpers/kernel-check.js";

const ATOMIC = new URL("../../dist/src/files/atomic.js", import.meta.url).href;
const SIZE = 8 << 20;

const WRITER = `
import { writeFileAtomicSync } from ${JSON.stringify(ATOMIC)};
const [path, size] = [process.argv[2], Number(process.argv[3])];
const a = new Uint8Array(size).fill(0xa1), b = new Uint8Array(size).fill(0xb2);
process.stdout.write("ready\\n");
for (let i = 0; ; i++) writeFileAtomicSync(path, i % 2 ? b : a);
`;

describe("atomic writes", () => {
  it("a writer killed at random moments leaves the old file or the new one, never a torn one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vae-atomic-"));
    const script = join(dir, "writer.mjs");
    writeFileSync(script, WRITER);
    const target = join(dir, "model.safetensors");
    const r = rng(11);
    const seen = { a: 0, b: 0, absent: 0 };
    for (let round = 0; round < 25; round++) {
      const child = spawn(process.execPath, [script, target, String(SIZE)], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 5 + 80 * r()));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      if (!existsSync(target)) {
        seen.absent++;
        continue;
      }
      const bytes = readFileSync(target);
      expect(bytes.length, `round ${round}: a file of ${bytes.length} bytes`).toBe(SIZE);
      const first = bytes[0];
      expect([0xa1, 0xb2]).toContain(first);
      expect(bytes.every((v) => v === first), `round ${round}: the file mixes two writes`).toBe(true);
      if (first === 0xa1) seen.a++;
      else seen.b++;
    }
    // the kills did land between different writes
    expect(seen.a + seen.b).toBeGreaterThan(15);
    // (temporary files of killed writers may remain beside the target; the target is always whole)
    expect(readdirSync(dir).filter((f) => f === "model.safetensors")).toHaveLength(1);
  }, 120_000);
});
