// A pool worker that dies, however it dies — terminated from outside, process.exit, an uncaught
// error, out of memory — while the pool is idle or in the middle of a step: the call rejects
// within a second with an error that names the function, the worker and the model's state; the
// calling thread's event loop never stalls for long (measured with a timer during each fault);
// no weight is lost or half-updated (the parameters are those before the failed step, and
// training then goes on bit for bit as a one-thread model's); the model runs on one thread, and
// its next fit() starts a new pool. (The built package in dist/; workers that can be made to
// fail: test/helpers/fault-worker.mjs. The same paths in Chromium: browser.test.ts with test/browser/faults-worker.js.)
import { afterAll, describe, expect, it } from "vitest";
import { VAE, WorkerLostError } from "../../dist/src/index.js";
import { CMD } from "../../dist/src/engine/ctrl.js";
import { modelOf, poolRuns } from "../../dist/src/model/internals.js";
import { armFault, injectWorkerFault, killWorker, longestStall, useFaultyWorkers } from "../helpers/faults.mjs";
import { rng, uniform } from "../helpers/kernel-check.js";

const D = 200, B = 24;
const data = Float32Array.from(uniform(240 * D, 0, 1, rng(78)));
const batch = (s: number) => data.subarray(((s * B) % 200) * D, (((s * B) % 200) + B) * D);
const create = (threads: number) => VAE.create({ inputDim: D, latentDim: 5, hidden: [256], activation: "tanh", seed: 9, threads });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What each fault measured (printed at the end). */
const measured: string[] = [];
afterAll(() => console.log(`worker deaths in Node (failing call ms / longest event-loop stall ms):\n${measured.join("\n")}`));

/** Runs `f` (which must throw) and returns the error and how long it took. */
function timedThrow(f: () => unknown): { error: Error; ms: number } {
  const t0 = performance.now();
  try {
    f();
  } catch (e) {
    return { error: e as Error, ms: performance.now() - t0 };
  }
  throw new Error("expected the call to throw");
}

type Path = "terminate" | "exit" | "uncaught" | "oom";
const CAUSE: Record<Path, RegExp> = {
  terminate: /was terminated/,
  exit: /exited with code 3/,
  uncaught: /threw an uncaught error: injected uncaught error in worker 1/,
  oom: /ran out of memory \(.*JS heap out of memory\)/,
};

/** A 2-thread model (workers that can fail, but for plain terminations) and a 1-thread twin, both 3 steps in. */
async function pair(path: Path) {
  const vae = await create(2), ref = await create(1);
  if (path !== "terminate") await useFaultyWorkers(vae, path === "oom" ? { maxOldGenerationSizeMb: 24 } : undefined);
  for (let s = 0; s < 3; s++) expect(vae.trainStep(batch(s))).toBe(ref.trainStep(batch(s)));
  return { vae, ref };
}

/** After a failed step: nothing changed; the model runs on one thread and goes on bit for bit; fit() brings a new pool. */
async function expectIntactAndGoingOn(vae: VAE, ref: VAE, before: Record<string, Float32Array>) {
  expect(vae.stepCount).toBe(3);
  expect(vae.stateDict()).toEqual(before);
  expect(vae.threads).toBe(1);
  for (let s = 3; s < 6; s++) expect(vae.trainStep(batch(s))).toBe(ref.trainStep(batch(s)));
  const runs = poolRuns(vae); // (0: no pool)
  expect(runs).toBe(0);
  const h = await vae.fit(data, { epochs: 1, batchSize: B });
  expect(vae.threads).toBe(2);
  expect(poolRuns(vae)).toBeGreaterThan(0);
  expect(h).toEqual((await ref.fit(data, { epochs: 1, batchSize: B })).map((r, i) => ({ ...r, seconds: h[i].seconds })));
  expect(vae.stateDict()).toEqual(ref.stateDict());
  vae.dispose();
  ref.dispose();
}

const message = (path: Path, during: RegExp) =>
  new RegExp(`^VAE\\.trainStep: worker 1 \\(of 1\\) ${CAUSE[path].source} ${during.source}\\. The model is intact: it holds the parameters and Adam moments of optimiser step 3`);

describe.each<Path>(["terminate", "exit", "uncaught", "oom"])("a pool worker that dies: %s", (path) => {
  it("while the pool is idle: the next call rejects at once saying which worker and the model's state; nothing is lost", async () => {
    const { vae, ref } = await pair(path);
    const before = vae.stateDict();
    let failure: { error: Error; ms: number } | null = null;
    const stall = await longestStall(async () => {
      if (path === "terminate") killWorker(vae, 1);
      else injectWorkerFault(vae, path);
      await sleep(path === "oom" ? 2000 : 300); // (dead by then, the pool idle)
      failure = timedThrow(() => vae.trainStep(batch(3)));
    });
    const { error, ms } = failure!;
    measured.push(`  ${path.padEnd(9)} idle    ${ms.toFixed(0).padStart(4)} / ${stall.toFixed(0).padStart(4)}`);
    expect(error).toBeInstanceOf(WorkerLostError);
    expect(error.message).toMatch(message(path, /before a forward command/));
    expect(ms).toBeLessThan(1000);
    expect(stall).toBeLessThan(1000);
    await expectIntactAndGoingOn(vae, ref, before);
  }, 60_000);

  for (const cmd of ["forward", "weights"] as const) {
    it(`in the middle of a step's ${cmd} command: the call rejects within a second; the update, if begun, is not applied`, async () => {
      const { vae, ref } = await pair(path);
      const before = vae.stateDict();
      let failure: { error: Error; ms: number } | null = null;
      const stall = await longestStall(async () => {
        if (path === "terminate") {
          // worker 1's share then takes 5 s: it is killed 100 ms into it
          await useFaultyWorkers(vae);
          armFault(vae, "stall", CMD[cmd]);
          killWorker(vae, 1, { atNextCommand: true, delayMs: cmd === "weights" ? 150 : 100 });
        } else {
          // worker 1 runs its share (its part of Adam's update written), then dies unacknowledged
          armFault(vae, path, CMD[cmd]);
        }
        failure = timedThrow(() => vae.trainStep(batch(3)));
      });
      const { error, ms } = failure!;
      measured.push(`  ${path.padEnd(9)} ${cmd.padEnd(7)} ${ms.toFixed(0).padStart(4)} / ${stall.toFixed(0).padStart(4)}`);
      expect(error).toBeInstanceOf(WorkerLostError);
      expect(error.message).toMatch(message(path, new RegExp(`during a ${cmd === "weights" ? "weight-update" : "forward"} command`)));
      if (cmd === "weights") expect(error.message).toMatch(/\(the update in progress was not applied\)/);
      expect(ms).toBeLessThan(1000);
      expect(stall).toBeLessThan(1000);
      await expectIntactAndGoingOn(vae, ref, before);
    }, 60_000);
  }
});

describe("worker death during fit and in the supervisor", () => {
  it("a library worker terminated from outside mid-fit: fit rejects within a second, the parameters are the last finished step's", async () => {
    const vae = await create(2);
    const snapshots: Record<string, Float32Array>[] = [];
    let rejectedAfter = 0;
    const stall = await longestStall(async () => {
      const t0 = performance.now();
      killWorker(vae, 1, { atNextCommand: true, delayMs: 30 });
      const fit = vae.fit(data, { epochs: 50, batchSize: 32, onProgress: () => void snapshots.push(vae.stateDict()) });
      await expect(fit).rejects.toThrow(/^VAE\.fit: worker 1 \(of 1\) was terminated (during|before) a [a-z-]+ command\. The model is intact/);
      rejectedAfter = performance.now() - t0;
    });
    measured.push(`  terminate mid-fit ${rejectedAfter.toFixed(0).padStart(4)} / ${stall.toFixed(0).padStart(4)} (from the kill request)`);
    expect(rejectedAfter).toBeLessThan(1000);
    expect(stall).toBeLessThan(1000);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(vae.stepCount).toBe(snapshots.length);
    expect(vae.stateDict()).toEqual(snapshots[snapshots.length - 1]);
    expect(vae.threads).toBe(1);
    vae.dispose();
  }, 60_000);

  it("the supervisor itself gone mid-step: its silent heartbeat fails the call (the bounded wait, not 120 s)", async () => {
    const vae = await create(2);
    await useFaultyWorkers(vae);
    vae.trainStep(batch(0));
    const before = vae.stateDict();
    armFault(vae, "stall", CMD.forward);
    killWorker(vae, 0, { atNextCommand: true, delayMs: 50 });
    const { error, ms } = timedThrow(() => vae.trainStep(batch(1)));
    expect(error.message).toMatch(/^VAE\.trainStep: the thread pool's supervisor has not answered for 3000 ms during a forward command\. The model is intact/);
    expect(ms).toBeLessThan(5000);
    expect(vae.stateDict()).toEqual(before);
    expect(Number.isFinite(vae.trainStep(batch(1)))).toBe(true);
    vae.dispose();
  }, 30_000);

  it("the supervisor gone while idle: the next call says so at once", async () => {
    const vae = await create(2);
    killWorker(vae, 0);
    await sleep(300);
    const { error, ms } = timedThrow(() => vae.trainStep(batch(0)));
    expect(error.message).toMatch(/^VAE\.trainStep: the thread pool's supervisor exited \(code 0\) while idle\. The model is intact/);
    expect(ms).toBeLessThan(1000);
    expect(modelOf(vae).runner.pool).toBeNull();
    vae.dispose();
  });
});
