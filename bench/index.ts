// npm run bench — one question per section, peers measured in the same run, ratios printed.
//  1. Training step (forward, backward, Adam) of the 784-400-20 Bernoulli VAE at batch 100:
//     vae-wasm (each build this runtime has, and simd on 2 threads) vs tfjs-core +
//     tfjs-backend-wasm and jax-js (bench/peers/jaxjs.ts), in alternating rounds; on synthetic
//     dense input and on MNIST digits; and whether jax-js's step learns as the library's does.
//  2. Training step of the IWAE paper's 784-200-200-50 tanh model, IWAE bound with K=5, batch 20.
//  3. Threads: steps/s of both models on 1 and 2 threads (simd build), and the speedup.
//  4. GEMM GFLOP/s at 100×784×400 in the three layouts a dense layer uses.
//  5. Package: packed size, what a browser app loads (gzipped), cold start to the first step.
//  7. Evaluation: importance-sampled log p(x), K = 5000, of the 10,000 MNIST test digits with the
//     IWAE-preset model on 2 threads (--quick: 500 digits).
//  8. Soak: 1e5 training steps of a small model; wasm memory and process RSS along the way.
//  6. PyTorch on the same machine (when python3 with torch is installed): the two steps at its
//     1-thread and 2-thread settings against vae-wasm on 1 and 2 threads.
//  9. Model files: save (safetensors with its CRC-32) and load of the 784-400-20 model, against
//     tfjs-core's io.encodeWeights / decodeWeights of the same tensors.
// Results, with the CPU each ran on: docs/performance.md.
import v8 from "node:v8";
import { cpuName, hostTag } from "./host.js";
/** every table says which host class it ran on (docs/performance.md keeps one table per class) */
const ON_HOST = ` — ${hostTag()}`;
import { readFileSync } from "node:fs";
import type { BuildName } from "../bindings/load.js";
v8.setFlagsFromString("--experimental-wasm-relaxed-simd"); // lets Node 20 run the relaxed (FMA) build too

const { Bench } = await import("tinybench");
const { VAE, supportedBuilds } = await import("../src/index.js");
const { compileBuild, instantiate } = await import("../bindings/load.js");
const { Arena } = await import("../bindings/arena.js");
const { A_PACK_ROWS } = await import("../bindings/abi.js");
const { tfjsReady, tfjsVaeStep } = await import("./peers/tfjs.js");
const { jaxVaeStep, jaxLearns } = await import("./peers/jaxjs.js");
const { record, targetsTable } = await import("./targets.js");

const quick = process.argv.includes("--quick");
// --only 1,3 runs just those sections
const onlyArg = process.argv.find((a, i) => process.argv[i - 1] === "--only" || a.startsWith("--only="));
const only = onlyArg ? new Set(onlyArg.replace("--only=", "").split(",").map(Number)) : null;
const run = (section: number) => !only || only.has(section);
const TIME = quick ? 300 : 2000;
const { benchInput, threadModels, D } = await import("./models.js");
const B = 100, H = 400, Z = 20;
const x = benchInput(); // fixed grey levels

const builds = supportedBuilds();
/** The SIMD builds this runtime runs, fastest first (relaxed, then simd). */
const simdBuilds = builds.filter((b) => b !== "scalar");
console.log(`vae-wasm benchmark — Node ${process.version} on ${cpuName()}; builds: ${builds.join(", ")}, ${await tfjsReady()}`);

/**
 * ms/step of a model on 1 and on 2 threads, measured in alternating short blocks (3 warm-up + 10
 * timed steps each): this VM's speed drifts by tens of percent over seconds. Returns the per-block
 * times of each.
 */
async function oneVsTwoThreads(m: ReturnType<typeof threadModels>[number], rounds: number, build: BuildName = "simd"): Promise<number[][]> {
  const vaes = [await VAE.create({ inputDim: D, seed: 1, threads: 1, build, ...m.opts }), await VAE.create({ inputDim: D, seed: 1, threads: 2, build, ...m.opts })];
  const ms: number[][] = [[], []];
  for (let round = 0; round < rounds; round++) {
    vaes.forEach((v, i) => {
      for (let s = 0; s < 3; s++) v.trainStep(m.x, m.step);
      const t0 = performance.now();
      for (let s = 0; s < 10; s++) v.trainStep(m.x, m.step);
      ms[i].push((performance.now() - t0) / 10);
    });
  }
  for (const v of vaes) v.dispose();
  return ms;
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const p50 = (t: { result?: unknown }) => (t.result as { latency: { p50: number } }).latency.p50;

/**
 * Sections 1–2: every task in ROUNDS rounds of TIME/ROUNDS ms each (tinybench), the task order
 * rotated each round, so that this VM's drift (tens of percent over seconds) hits every task
 * alike. Returns each task's median over rounds of its per-round median, and its ratio to
 * `peer` as the median of the per-round ratios.
 */
const ROUNDS = quick ? 2 : 8;
async function alternating(tasks: [string, () => void][], peer: string | ((name: string) => string)): Promise<{ name: string; ms: number; vsPeer: number; per: number[] }[]> {
  const per: number[][] = tasks.map(() => []);
  for (const [, fn] of tasks) for (let i = 0; i < 5; i++) fn(); // warm every task up once
  for (let r = 0; r < ROUNDS; r++) {
    const order = tasks.map((_, i) => (i + r) % tasks.length);
    for (const i of order) {
      // at least 5 steps (tinybench's default minimum is 64, 6 s of a 90-ms tfjs step); 100 ms
      // of warm-up in every round, since a worker that slept through the other tasks' turns
      // takes a while to run at speed again on this VM
      const b = new Bench({ time: TIME / ROUNDS, iterations: 5, warmupTime: 100, warmupIterations: 2 });
      b.add(tasks[i][0], tasks[i][1]);
      await b.run();
      per[i].push(p50(b.tasks[0]));
    }
  }
  return tasks.map(([name], i) => {
    const peerName = typeof peer === "string" ? peer : peer(name);
    const pi = tasks.findIndex(([n]) => n === peerName);
    return { name, ms: median(per[i]), vsPeer: perRound(per[i], per[pi]), per: per[i] };
  });
}

/** The median over rounds of (the peer's time / the task's time). */
const perRound = (task: number[], peer: number[]) => median(task.map((m, r) => peer[r] / m));

/** A task's ratio to another peer of the same `alternating` run, for the table. */
function versus(res: { name: string; per: number[] }[], task: { per: number[] }, peerName: string): string {
  const peer = res.find((t) => t.name === peerName);
  return peer ? `${perRound(task.per, peer.per).toFixed(1)}×` : "–";
}
// ---- 1. training step
if (run(1)) {
  const tasks: [string, () => void][] = [];
  for (const build of builds) {
    const vae = await VAE.create({ inputDim: D, latentDim: Z, hidden: [H], seed: 1, build });
    tasks.push([`vae-wasm ${build}`, () => {
      vae.trainStep(x);
    }]);
  }
  // the same model on 2 threads (simd build): the 2-thread ratio in the same rounds
  const two = await VAE.create({ inputDim: D, latentDim: Z, hidden: [H], seed: 1, threads: 2 });
  tasks.push(["vae-wasm simd, 2 threads", () => {
    two.trainStep(x);
  }]);
  const twoR = builds.includes("relaxed") ? await VAE.create({ inputDim: D, latentDim: Z, hidden: [H], seed: 1, threads: 2, build: "relaxed" }) : null;
  if (twoR) {
    tasks.push(["vae-wasm relaxed, 2 threads", () => {
      twoR.trainStep(x);
    }]);
  }
  tasks.push(["tfjs-backend-wasm", tfjsVaeStep(D, [H], Z, "relu", x, B)]);
  const jax = jaxVaeStep(D, [H], Z, "relu", x, B);
  tasks.push(["jax-js (wasm, jit)", () => void jax.step()]);
  // and on 100 real MNIST training digits (~81 % zeros: vae-wasm's first layer skips them,
  // bitwise the dense result; tfjs computes densely, as before)
  const { loadMnist } = await import("../src/index.js");
  const xm = (await loadMnist()).train.data.slice(0, B * D);
  const oneM = await VAE.create({ inputDim: D, latentDim: Z, hidden: [H], seed: 1 });
  const twoM = await VAE.create({ inputDim: D, latentDim: Z, hidden: [H], seed: 1, threads: 2 });
  tasks.push(["MNIST: vae-wasm simd", () => {
    oneM.trainStep(xm);
  }]);
  tasks.push(["MNIST: vae-wasm simd, 2 threads", () => {
    twoM.trainStep(xm);
  }]);
  tasks.push(["MNIST: tfjs-backend-wasm", tfjsVaeStep(D, [H], Z, "relu", xm, B)]);
  const jaxM = jaxVaeStep(D, [H], Z, "relu", xm, B);
  tasks.push(["MNIST: jax-js (wasm, jit)", () => void jaxM.step()]);
  const res = await alternating(tasks, (name) => (name.startsWith("MNIST") ? "MNIST: tfjs-backend-wasm" : "tfjs-backend-wasm"));
  console.log(`\n1. training step, ${D}-${H}-${Z} Bernoulli VAE, batch ${B}, analytic KL, Adam (${ROUNDS} alternating rounds of ${TIME / ROUNDS} ms per task; medians)` + ON_HOST);
  console.log("   " + "implementation (synthetic dense grey levels)".padEnd(44) + "ms/step".padStart(10) + "steps/s".padStart(10) + "vs tfjs".padStart(10) + "vs jax-js".padStart(11));
  for (const t of res) {
    if (t.name === "MNIST: vae-wasm simd") console.log("   on 100 MNIST training digits (81 % zeros)");
    const jaxName = t.name.startsWith("MNIST") ? "MNIST: jax-js (wasm, jit)" : "jax-js (wasm, jit)";
    console.log("   " + t.name.replace("MNIST: ", "").padEnd(44) + t.ms.toFixed(2).padStart(10) + (1000 / t.ms).toFixed(1).padStart(10) + `${t.vsPeer.toFixed(1)}×`.padStart(10) +
      versus(res, t, jaxName).padStart(11));
  }
  for (const t of res.filter((r) => /^vae-wasm \w+, 2 threads$/.test(r.name))) {
    const build = t.name.split(" ")[1];
    record(`2 threads / tfjs-backend-wasm, VAE step (${build})`, t.vsPeer, 25, "section 1");
    record(`2 threads / jax-js, VAE step (${build})`, perRound(t.per, res.find((r) => r.name === "jax-js (wasm, jit)")!.per), 5, "section 1");
  }
  two.dispose(); twoR?.dispose(); oneM.dispose(); twoM.dispose(); jax.dispose(); jaxM.dispose();
  // jax-js learns as the library does: the same protocol on the same MNIST batches
  const fresh = await VAE.create({ inputDim: D, latentDim: Z, hidden: [H], seed: 1 });
  const windows: [number, number][] = [[0, 10], [90, 100], [290, 300]];
  const curve = await jaxLearns((await loadMnist()).train.data, B, windows, (xb) => fresh.trainStep(xb));
  console.log("   learning check, mean loss on the same MNIST batches over steps " + windows.map(([a, b]) => `${a + 1}–${b}`).join(", ") +
    `: jax-js ${curve.jax.map((v) => v.toFixed(1)).join(" → ")}, vae-wasm ${curve.library.map((v) => v.toFixed(1)).join(" → ")}`);
  fresh.dispose();
}

// ---- 2. IWAE step
if (run(2)) {
  const tasks: [string, () => void][] = [];
  const Bi = 20, Ki = 5;
  const xi = x.subarray(0, Bi * D);
  for (const build of builds) {
    const vae = await VAE.create({ inputDim: D, latentDim: 50, hidden: [200, 200], activation: "tanh", seed: 1, build });
    for (const estimator of ["iwae", "dreg"] as const) {
      if (estimator === "dreg" && build !== "simd") continue;
      tasks.push([`vae-wasm ${build} ${estimator}`, () => {
        vae.trainStep(xi, { estimator, samples: Ki, adamEps: 1e-4 });
      }]);
    }
  }
  const two = await VAE.create({ inputDim: D, latentDim: 50, hidden: [200, 200], activation: "tanh", seed: 1, threads: 2 });
  tasks.push(["vae-wasm simd iwae, 2 threads", () => {
    two.trainStep(xi, { estimator: "iwae", samples: Ki, adamEps: 1e-4 });
  }]);
  // and the relaxed (FMA) build on 2 threads, where the runtime has it (Chrome, Node 22+; Node 20 with the flag above)
  const twoR = builds.includes("relaxed")
    ? await VAE.create({ inputDim: D, latentDim: 50, hidden: [200, 200], activation: "tanh", seed: 1, threads: 2, build: "relaxed" })
    : null;
  if (twoR) {
    tasks.push(["vae-wasm relaxed iwae, 2 threads", () => {
      twoR.trainStep(xi, { estimator: "iwae", samples: Ki, adamEps: 1e-4 });
    }]);
  }
  tasks.push(["tfjs-backend-wasm iwae", tfjsVaeStep(D, [200, 200], 50, "tanh", xi, Bi, Ki, true)]);
  const jax = jaxVaeStep(D, [200, 200], 50, "tanh", xi, Bi, Ki, true);
  tasks.push(["jax-js (wasm, jit) iwae", () => void jax.step()]);
  const res = await alternating(tasks, "tfjs-backend-wasm iwae");
  console.log(`\n2. training step, ${D}-200-200-50 tanh Bernoulli VAE, IWAE bound K=${Ki}, batch ${Bi}, Adam (same rounds)` + ON_HOST);
  console.log("   " + "implementation".padEnd(33) + "ms/step".padStart(10) + "steps/s".padStart(10) + "vs tfjs".padStart(10) + "vs jax-js".padStart(11));
  for (const t of res) {
    console.log("   " + t.name.padEnd(33) + t.ms.toFixed(2).padStart(10) + (1000 / t.ms).toFixed(1).padStart(10) + `${t.vsPeer.toFixed(1)}×`.padStart(10) +
      versus(res, t, "jax-js (wasm, jit) iwae").padStart(11));
  }
  for (const t of res.filter((r) => r.name.endsWith("iwae, 2 threads"))) {
    const build = t.name.split(" ")[1];
    record(`2 threads / tfjs-backend-wasm, IWAE step (${build})`, t.vsPeer, 25, "section 2");
    record(`2 threads / jax-js, IWAE step (${build})`, perRound(t.per, res.find((r) => r.name === "jax-js (wasm, jit) iwae")!.per), 5, "section 2");
  }
  two.dispose();
  jax.dispose();
  twoR?.dispose();
}

// ---- 3. threads
// 1 and 2 threads in alternating short blocks (oneVsTwoThreads); the speedup is the median of
// the per-block ratios. The ceiling: two independent single-thread processes at once, each
// against one alone (how much the machine gives two jobs right now).
if (run(3)) {
  const { execFile } = await import("node:child_process");
  const soloMs = (which: string, steps: number) => new Promise<number>((resolve, reject) => {
    execFile(process.execPath, [new URL("./solo.js", import.meta.url).pathname, which, String(steps)], (err, out) => (err ? reject(err) : resolve(Number(out))));
  });
  console.log("\n3. threads (simd build; results are bitwise identical for any thread count)" + ON_HOST);
  console.log("   " + "model".padEnd(36) + "1 thread".padStart(12) + "2 threads".padStart(12) + "speedup".padStart(10) + "   2 processes");
  for (const [mi, m] of threadModels(x).entries()) {
    const ms = await oneVsTwoThreads(m, quick ? 10 : 60);
    const ratio = median(ms[0].map((one, r) => one / ms[1][r]));
    const which = mi === 0 ? "vae" : "iwae";
    // alone, then a pair, three times; the median of the per-round ratios (like the threads)
    const steps = quick ? 100 : 300;
    const ceilings: number[] = [];
    for (let round = 0; round < (quick ? 1 : 3); round++) {
      const alone = await soloMs(which, steps);
      const pair = await Promise.all([soloMs(which, steps), soloMs(which, steps)]);
      ceilings.push((2 * alone) / Math.max(...pair));
    }
    const ceiling = median(ceilings);
    console.log("   " + m.name.padEnd(36) + `${(1000 / median(ms[0])).toFixed(1)}/s`.padStart(12) + `${(1000 / median(ms[1])).toFixed(1)}/s`.padStart(12) +
      `${ratio.toFixed(2)}×`.padStart(10) + `${ceiling.toFixed(2)}×`.padStart(14));
    record(`2-thread speedup / 2-process speedup, ${which === "vae" ? "VAE" : "IWAE"} step (simd)`, ratio / ceiling, 0.9, "section 3");
  }
  console.log(`   (median of ${quick ? 10 : 60} alternating blocks; "2 processes": two single-thread processes at once vs one alone, median of ${quick ? 1 : 3} rounds)`);
}

// ---- 4. GEMM
// The ceiling: a Zen3 core issues two 128-bit FP multiplies and two adds per cycle, or two FMAs
// — 16 f32 FLOP per cycle either way for 128-bit SIMD. It is measured as register-only f32x4
// arithmetic at full issue rate (assembly/dense.ts peakMadd): 12 independent relaxed_madd (FMA)
// chains saturate both FMA pipes, and that rate is the ceiling of both SIMD builds (the plain
// build's mul + add chains are latency bound at 3 cycles per op and under-read it; they are the
// fallback where relaxed SIMD is missing). Each round times the ceiling and every GEMM back to
// back; the fraction is the median of the per-round ratios, so the VM's drifting clock cancels.
if (run(4)) {
  const FLOP = 2 * 100 * 784 * 400;
  const rows: { name: string; gflops: number[]; frac: number[] }[] = [];
  const ceilings = new Map<string, number[]>();
  for (const build of builds) {
    const rt = instantiate(await compileBuild(build), build, 16 << 20);
    const a = new Arena(rt.k.heapBase());
    const X = a.floats(100 * 784), W = a.floats(400 * 784), Y = a.floats(784 * 400), S = a.floats(8 * 784), P = a.floats(400 * 784);
    const AP = a.floats(A_PACK_ROWS * 784), PT = a.floats(784 * 400);
    const mem = new Float32Array(rt.memory.buffer);
    for (let i = X / 4; i < a.end / 4; i++) mem[i] = (((i * 2246822519) >>> 0) / 4294967296 - 0.5) * 0.1;
    const k = rt.k;
    k.packRows(P, W, 400, 784, 0, 400);
    k.packRows(PT, W, 784, 400, 0, 784); // W read as the decoder output layer's [784, 400]
    const tasks: [string, () => void][] = [
      // forward Y[100,400] = relu(X[100,784]·W[400,784]ᵀ), plain: W's panels packed per call, A read in place
      ["X·Wᵀ, plain", () => k.gemm(Y, 400, X, 784, 1, W, 1, 784, 0, 0, 100, 400, 784, 0, 1, S)],
      // as the model runs it: W kept packed, X's rows packed by 4 first
      ["X·Wᵀ (forward)", () => k.gemm(Y, 400, X, 784, 1, W, 1, 784, 0, 0, 100, 400, 784, 0, 1, S, P, AP)],
      // dX[100,400] = dY[100,784]·W[784,400] (the decoder output layer's backward), from W's forward panels
      ["dY·W (dX)", () => k.gemmPackedT(Y, 400, X, 784, 1, PT, 400, 784, 0, 100, 0, S, AP)],
      // dW[400,784] = dY[100,400]ᵀ·X[100,784] (the first encoder layer's weight gradient)
      ["dYᵀ·X (dW)", () => k.gemm(Y, 784, X, 1, 400, W, 784, 1, 0, 0, 400, 784, 100, 0, 0, S, 0, AP)],
    ];
    const mine = tasks.map(([name]) => ({ name: `${build}: ${name}`, gflops: [] as number[], frac: [] as number[] }));
    rows.push(...mine);
    const ceil: number[] = [];
    ceilings.set(build, ceil);
    const probe = builds.includes("relaxed") ? instantiate(await compileBuild("relaxed"), "relaxed", 1 << 20).k : k;
    const perRound = builds.includes("relaxed") ? 96 : 48;
    for (let round = 0; round < (quick ? 5 : 25); round++) {
      let c = 0;
      if (build !== "scalar") {
        const t0 = performance.now();
        probe.peakMadd(400_000, 1, 1e-30);
        c = (perRound * 400_000) / (performance.now() - t0) / 1e6;
        ceil.push(c);
      }
      tasks.forEach(([, f], i) => {
        f();
        const t0 = performance.now();
        for (let r = 0; r < 5; r++) f();
        const g = (5 * FLOP) / (performance.now() - t0) / 1e6;
        mine[i].gflops.push(g);
        if (c) mine[i].frac.push(g / c);
      });
    }
  }
  console.log(`\n4. GEMM, 100×784×400 (${(FLOP / 1e6).toFixed(1)} MFLOP), single thread, against the SIMD ceiling measured in the same rounds` + ON_HOST);
  console.log("   " + "build: layout".padEnd(28) + "GFLOP/s".padStart(10) + "of ceiling".padStart(12));
  for (const r of rows) {
    console.log("   " + r.name.padEnd(28) + median(r.gflops).toFixed(1).padStart(10) + (r.frac.length ? `${(100 * median(r.frac)).toFixed(0)} %` : "").padStart(12));
  }
  const all = [...ceilings.values()].flat();
  console.log(`   ceiling: ${median(all).toFixed(1)} GFLOP/s = 16 FLOP/cycle × ${(median(all) / 16).toFixed(2)} GHz, measured with ` +
    (builds.includes("relaxed") ? "12 independent f32x4 FMA chains (relaxed build), registers only" : "6 f32x4 mul and 6 add chains (under-reads the ceiling)"));
}

// ---- 5. package size and cold start
if (run(5)) {
  const { execFileSync } = await import("node:child_process");
  const { gzipSync } = await import("node:zlib");
  const root = new URL("../..", import.meta.url).pathname;
  const [pack] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log("\n5. package and cold start" + ON_HOST);
  console.log(`   npm pack: ${kb(pack.size)} packed, ${kb(pack.unpackedSize)} unpacked, ${pack.entryCount} files`);
  // what a browser app loads: the library bundled and minified (as Vite/esbuild would), the
  // pool's worker (threads only), and one .wasm build
  const esbuild = await import("esbuild");
  const bundle = async (entry: string) => {
    const r = await esbuild.build({
      entryPoints: [`${root}dist/src/${entry}`], bundle: true, minify: true, format: "esm", platform: "browser", write: false,
      external: ["node:*"], logLevel: "silent", loader: { ".wasm": "empty" },
    });
    return r.outputFiles[0].contents;
  };
  const rows: [string, Uint8Array][] = [
    ["library JS (index, minified)", await bundle("index.js")],
    ["worker JS (threads only, minified)", await bundle("engine/worker.js")],
    ["supervisor JS (threads only, minified)", await bundle("engine/supervisor.js")],
    ["vae.simd.wasm", readFileSync(`${root}dist/build/vae.simd.wasm`)],
    ["vae.simd.shared.wasm (threads)", readFileSync(`${root}dist/build/vae.simd.shared.wasm`)],
  ];
  let one = 0, threaded = 0;
  for (const [name, bytes] of rows) {
    const gz = gzipSync(bytes, { level: 9 }).length;
    console.log("   " + name.padEnd(36) + kb(bytes.length).padStart(10) + `  ${kb(gz)} gzipped`.padStart(18));
    if (!name.includes("threads")) one += gz;
    if (!name.endsWith("simd.wasm")) threaded += gz;
  }
  console.log(`   a browser app loads ${kb(one)} gzipped on one thread, ${kb(threaded)} with threads`);
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < (quick ? 3 : 7); i++) {
    runs.push(JSON.parse(execFileSync(process.execPath, [new URL("./cold.js", import.meta.url).pathname], { encoding: "utf8" })));
  }
  const med = (k: string) => median(runs.map((r) => r[k])).toFixed(0);
  console.log(`   cold start (fresh Node process, median of ${runs.length}): import ${med("importMs")} ms + create ${med("createMs")} ms + ` +
    `first 784-400-20 step ${med("firstStepMs")} ms = ${med("totalMs")} ms to the first finished step (the second step: ${med("secondStepMs")} ms)`);
}

// ---- 6. PyTorch
if (run(6)) {
  const { torchPython, torchTiming, TORCH_SETTINGS } = await import("./peers/torch.js");
  const py = torchPython();
  console.log("\n6. PyTorch on this machine (bench/peers/torch_vae.py: the same two steps, torch.optim.Adam)" + ON_HOST);
  if (!py) {
    console.log("   skipped: no python3 with torch (Debian: apt-get install python3-torch libopenblas0-pthread)");
  } else {
    const t = TORCH_SETTINGS.map((st) => ({ ...st, r: torchTiming(py, st.threads, st.env) }));
    // vae-wasm right after PyTorch (this VM's speed drifts over minutes), each SIMD build
    const ours = [];
    for (const build of simdBuilds) {
      const ms = [];
      for (const m of threadModels(x)) {
        const r = await oneVsTwoThreads(m, 20, build);
        ms.push({ one: median(r[0]), two: median(r[1]) });
      }
      ours.push({ build, ms });
    }
    console.log(`   torch ${t[0].r.torch}` + "".padEnd(20) + "784-400-20 VAE".padStart(18) + "IWAE k=5".padStart(14) + "   (ms/step)");
    for (const { name, r } of t) console.log("   " + ("PyTorch " + name).padEnd(38) + r.vae.toFixed(2).padStart(10) + r.iwae.toFixed(2).padStart(14));
    for (const { build, ms } of ours) {
      console.log("   " + `vae-wasm ${build}, 1 thread`.padEnd(38) + ms[0].one.toFixed(2).padStart(10) + ms[1].one.toFixed(2).padStart(14));
      console.log("   " + `vae-wasm ${build}, 2 threads`.padEnd(38) + ms[0].two.toFixed(2).padStart(10) + ms[1].two.toFixed(2).padStart(14));
    }
    // PyTorch's fastest setting on one core and on two
    const best = (k: "vae" | "iwae", cores: 1 | 2) => t.filter((s) => s.cores === cores).reduce((a, b) => (b.r[k] < a.r[k] ? b : a));
    for (const { build, ms } of ours) {
      for (const [i, k] of [[0, "vae"], [1, "iwae"]] as const) {
        const b1 = best(k, 1), b2 = best(k, 2);
        console.log(`   ${build} ${k}: 1 thread ${(b1.r[k] / ms[i].one).toFixed(2)}× PyTorch's best 1-thread setting (${b1.name}); ` +
          `2 threads ${(b2.r[k] / ms[i].two).toFixed(2)}× PyTorch's best 2-thread setting (${b2.name})`);
        const step = k === "vae" ? "VAE" : "IWAE";
        record(`1 thread / PyTorch's best 1-core, ${step} step (${build})`, b1.r[k] / ms[i].one, 1.0, "section 6");
        record(`2 threads / PyTorch's best 2-core, ${step} step (${build})`, b2.r[k] / ms[i].two, 1.6, "section 6");
      }
    }
  }
}

// ---- 7. evaluation at K = 5000
if (run(7)) {
  const { loadMnist, iwaeMnist } = await import("../src/index.js");
  const { test } = await loadMnist();
  const preset = iwaeMnist();
  // all 10,000 digits on the fastest build this runtime has; a tenth of them on the other SIMD
  // build, scaled (the untrained model costs the same arithmetic as a trained one)
  console.log(`\n7. evaluation: log p(x) with K = 5000 importance samples, MNIST test digits, IWAE-preset model (784-200-200-50 tanh), 2 threads` + ON_HOST);
  for (const [i, build] of simdBuilds.entries()) {
    const n = quick ? 500 : i === 0 ? 10_000 : 1_000;
    const vae = await VAE.create({ ...preset.model, seed: 1, threads: 2, build });
    const digits = { data: test.data.subarray(0, n * D), rows: n, cols: D };
    const t0 = performance.now();
    const r = vae.logLikelihood(digits, { samples: 5000 });
    const s = (performance.now() - t0) / 1000;
    const flop = n * 5000 * 2 * (50 * 200 + 200 * 200 + 200 * 784);
    const all = (s * 10000) / n / 60;
    console.log(`   ${build}, ${n} digits: ${s.toFixed(1)} s` + (n < 10_000 ? ` → ${all.toFixed(2)} min for all 10,000 at this rate` : ` (${all.toFixed(2)} min)`) +
      `; decoder GEMMs ${(flop / s / 1e9).toFixed(1)} GFLOP/s overall; mean ${r.mean.toFixed(2)} nats (untrained)`);
    vae.dispose();
  }
}

// ---- 8. soak
if (run(8)) {
  const steps = quick ? 10_000 : 100_000;
  const vae = await VAE.create({ inputDim: D, latentDim: 8, hidden: [32], seed: 1 });
  const xb = x.subarray(0, 32 * D);
  const rssMB = () => process.memoryUsage().rss / 2 ** 20;
  const { modelOf } = await import("../src/model/internals.js");
  const wasmMB = () => modelOf(vae).runner.rt.memory.buffer.byteLength / 2 ** 20;
  const marks: string[] = [];
  const t0 = performance.now();
  let rssAtWarm = 0, wasmAtWarm = 0, rssMax = 0;
  for (let s = 1; s <= steps; s++) {
    vae.trainStep(xb, { estimator: s % 2 ? "analytic" : "dreg", samples: s % 2 ? 1 : 3 });
    if (s % 1000 === 0) rssMax = Math.max(rssMax, rssMB());
    if (s === steps / 10) {
      rssAtWarm = rssMB();
      wasmAtWarm = wasmMB();
    }
    if (s % (steps / 5) === 0) marks.push(`${s / 1000}k: rss ${rssMB().toFixed(0)} MB, wasm ${wasmMB().toFixed(1)} MB`);
  }
  console.log(`\n8. soak: ${steps} training steps (784-32-8 VAE, batch 32, analytic and DReG K=3 alternating) in ${((performance.now() - t0) / 1000).toFixed(0)} s` + ON_HOST);
  console.log("   " + marks.join("; "));
  console.log(`   after warm-up (step ${steps / 10}) → end: wasm memory ${wasmAtWarm.toFixed(1)} → ${wasmMB().toFixed(1)} MB, ` +
    `process RSS ${rssAtWarm.toFixed(0)} → ${rssMB().toFixed(0)} MB (max ${rssMax.toFixed(0)} MB)`);
  vae.dispose();
}

// ---- 9. model files
if (run(9)) {
  const tf = await import("@tensorflow/tfjs-core");
  const { crc32 } = await import("../src/files/crc32.js");
  const vae = await VAE.create({ inputDim: D, hidden: [H], latentDim: Z, seed: 1 });
  vae.trainStep(x);
  const shapes = vae.parameterShapes;
  const named = Object.entries(vae.stateDict()).map(([name, t]) => ({ name, tensor: tf.tensor(t, shapes[name]) }));
  const ms: Record<string, number[]> = { save: [], crc: [], load: [], tfEncode: [], tfDecode: [] };
  let bytes: Uint8Array = new Uint8Array(0), tfBytes = 0;
  const timed = async (k: string, f: () => unknown) => {
    const t0 = performance.now();
    await f();
    ms[k].push(performance.now() - t0);
  };
  for (let r = 0; r < (quick ? 10 : 40); r++) {
    await timed("save", () => (bytes = vae.save()));
    await timed("crc", () => crc32(bytes));
    await timed("load", async () => (await VAE.load(bytes)).dispose());
    const enc = await tf.io.encodeWeights(named);
    tfBytes = enc.data.byteLength;
    await timed("tfEncode", () => tf.io.encodeWeights(named));
    await timed("tfDecode", () => Object.values(tf.io.decodeWeights(enc.data, enc.specs)).forEach((t) => t.dispose()));
  }
  const m = (k: string) => median(ms[k]);
  console.log(`\n9. model files: the 784-400-20 model (${(bytes.length / 2 ** 20).toFixed(2)} MB), medians of ${ms.save.length} alternating rounds` + ON_HOST);
  console.log(`   vae-wasm save ${m("save").toFixed(2)} ms (of which the CRC-32 ${m("crc").toFixed(2)} ms; max ${Math.max(...ms.save).toFixed(2)} ms), ` +
    `load (checked, verified, into a new model) ${m("load").toFixed(2)} ms`);
  console.log(`   tfjs-core io.encodeWeights ${m("tfEncode").toFixed(2)} ms, decodeWeights ${m("tfDecode").toFixed(2)} ms (${(tfBytes / 2 ** 20).toFixed(2)} MB, no checksum)`);
  console.log(`   save / tfjs encode ${(m("save") / m("tfEncode")).toFixed(2)}×`);
  named.forEach((n) => n.tensor.dispose());
  vae.dispose();
}

console.log(targetsTable(ON_HOST));
