// One single-thread training process for bench/index.ts section 3: prints ms/step of the
// 784-400-20 VAE (or, with "iwae", the IWAE k=5 model). Two of these run at once measure what
// the machine gives two independent single-thread jobs (the ceiling for a 2-thread speedup).
import { VAE } from "../src/index.js";
import { benchInput, threadModels } from "./models.js";

const which = process.argv[2] === "iwae" ? 1 : 0;
const m = threadModels(benchInput())[which];
const vae = await VAE.create({ inputDim: 784, seed: 1, threads: 1, ...m.opts });
for (let s = 0; s < 30; s++) vae.trainStep(m.x, m.step);
const steps = Number(process.argv[3] ?? 400);
const t0 = performance.now();
for (let s = 0; s < steps; s++) vae.trainStep(m.x, m.step);
console.log(((performance.now() - t0) / steps).toFixed(4));
