// Exact resume: a run stopped after some steps, checkpointed, and resumed in a NEW process ends
// with every weight, the step count and the epochs' losses equal to the run that never stopped —
// for the analytic estimator (with dynamic binarization), DReG with K = 5, an IAF flow, a
// categorical latent with an annealed temperature, and M2; on 1 and 2 threads. (The built package
// in dist/; the runs: test/helpers/resume-run.mjs.)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RUNS, stopped, uninterrupted } from "../helpers/resume-run.mjs";

const HELPER = new URL("../helpers/resume-run.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "vae-resume-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resumes the checkpoint in a new Node process and returns what the run ended with. */
function resumeElsewhere(name: string, threads: number, bytes: Uint8Array) {
  const file = join(dir, `${name.replace(/\W/g, "_")}-${threads}-${Math.random().toString(36).slice(2)}.ckpt`);
  writeFileSync(file, bytes);
  const r = spawnSync(process.execPath, [HELPER, "resume", name, String(threads), file], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`the resuming process failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { steps: number; weights: string; history: number[]; threads: number };
}

describe("a run stopped, checkpointed and resumed in a new process ends with the uninterrupted run's bits", () => {
  const names = Object.keys(RUNS) as (keyof typeof RUNS)[];
  for (const name of names) {
    const m2 = "m2" in RUNS[name];
    // (M2 is single-threaded)
    for (const threads of m2 ? [1] : [1, 2]) {
      it(`${name}, ${threads} thread${threads > 1 ? "s" : ""}: stopped mid-epoch (step 8 of 18) and at an epoch's last step (6)`, async () => {
        const whole = await uninterrupted(name, 1);
        expect(whole.steps).toBe(18);
        for (const at of [8, 6]) {
          const bytes = await stopped(name, threads, at);
          expect(bytes).not.toBeNull();
          const after = resumeElsewhere(name, threads, bytes!);
          expect(after.threads).toBe(threads);
          expect(after.steps).toBe(whole.steps);
          // the epochs the resumed fit ended (the one it was stopped in, and those after)
          expect(after.history).toEqual(whole.history.slice(Math.floor((at - 1) / 6)));
          expect(after.weights === whole.weights).toBe(true);
        }
      }, 60_000);
    }
  }

  it("stopped on 1 thread, resumed on 2 (and the other way round): the same bits", async () => {
    const whole = await uninterrupted("dreg K=5", 1);
    for (const [a, b] of [[1, 2], [2, 1]]) {
      const after = resumeElsewhere("dreg K=5", b, (await stopped("dreg K=5", a, 11))!);
      expect(after.threads).toBe(b);
      expect(after.weights === whole.weights).toBe(true);
    }
  }, 60_000);

  it("a stopped run that is continued without its checkpoint's optimizer state (VAE.load) does not end with those bits", async () => {
    // (the control: what the checkpoint carries is what makes the difference)
    const { VAE } = await import("../../dist/src/index.js");
    const bytes = (await stopped("dreg K=5", 1, 8))!;
    const whole = await uninterrupted("dreg K=5", 1);
    const m = await VAE.load(bytes);
    const data = new Float32Array(90 * 24);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 4294967296;
    await m.fit(data, { epochs: 2, batchSize: 16, estimator: "dreg", samples: 5 });
    const d = m.stateDict();
    const weights = Object.keys(d).sort().map((k) => Buffer.from(d[k].buffer, d[k].byteOffset, d[k].byteLength).toString("hex")).join("|");
    expect(weights === whole.weights).toBe(false);
    m.dispose();
  }, 60_000);
});
