// Every way a pool worker can die in a browser — terminated from outside, closing itself, an
// uncaught error that ends its loop — while the pool is idle and in the middle of a step's
// forward and weight-update commands: what the failing call threw, how long it took, the
// longest stall of this thread's event loop meanwhile, whether the parameters stayed those
// before the step, and whether training then went on bit for bit as a one-thread model's.
import { VAE } from "../../dist/src/index.js";
import { CMD } from "../../dist/src/engine/ctrl.js";
import { armFault, injectWorkerFault, killWorker, longestStall, useFaultyWorkers } from "../helpers/faults.mjs";

const D = 200, B = 24;
const data = new Float32Array(240 * D);
for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 4294967296;
const batch = (s) => data.subarray(((s * B) % 200) * D, (((s * B) % 200) + B) * D);
const create = (threads) => VAE.create({ inputDim: D, latentDim: 5, hidden: [256], activation: "tanh", seed: 9, threads });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const same = (a, b) => Object.keys(a).every((k) => a[k].length === b[k].length && a[k].every((v, i) => Object.is(v, b[k][i])));

async function scenario(path, when) {
  const vae = await create(2), ref = await create(1);
  for (let s = 0; s < 3; s++) vae.trainStep(batch(s)), ref.trainStep(batch(s));
  await useFaultyWorkers(vae);
  const before = vae.stateDict();
  let error = null, ms = 0;
  const stall = await longestStall(async () => {
    if (when === "idle") {
      if (path === "terminate") killWorker(vae, 1);
      else injectWorkerFault(vae, path);
      await sleep(300);
    } else if (path === "terminate") {
      armFault(vae, "stall", CMD[when]);
      killWorker(vae, 1, { atNextCommand: true, delayMs: 100 });
    } else {
      armFault(vae, path, CMD[when]);
    }
    const t0 = performance.now();
    try {
      vae.trainStep(batch(3));
    } catch (e) {
      error = { name: e.name, message: e.message };
    }
    ms = performance.now() - t0;
  });
  const unchanged = same(vae.stateDict(), before);
  const threadsAfter = vae.threads;
  let goesOn = true;
  for (let s = 3; s < 6; s++) goesOn &&= vae.trainStep(batch(s)) === ref.trainStep(batch(s));
  await vae.fit(data, { epochs: 1, batchSize: B });
  await ref.fit(data, { epochs: 1, batchSize: B });
  goesOn &&= same(vae.stateDict(), ref.stateDict());
  const threadsAfterFit = vae.threads;
  vae.dispose();
  ref.dispose();
  return { path, when, error, ms, stall, unchanged, threadsAfter, goesOn, threadsAfterFit };
}

try {
  const results = [];
  for (const path of ["terminate", "exit", "uncaught"]) {
    for (const when of ["idle", "forward", "weights"]) results.push(await scenario(path, when));
  }
  postMessage({ crossOriginIsolated: self.crossOriginIsolated, locks: !!navigator.locks, results });
} catch (e) {
  postMessage({ error: String(e && e.stack ? e.stack : e) });
}
