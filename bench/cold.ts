// Cold start, for bench/index.ts section 5: a fresh process times import → VAE.create → the
// first finished training step of the 784-400-20 VAE at batch 100, then the second step.
const t0 = performance.now();
const { VAE } = await import("../src/index.js");
const t1 = performance.now();
const x = new Float32Array(100 * 784).map((_, i) => ((i * 2654435761) >>> 0) / 4294967296);
const vae = await VAE.create({ inputDim: 784, latentDim: 20, hidden: [400], seed: 1 });
const t2 = performance.now();
vae.trainStep(x);
const t3 = performance.now();
vae.trainStep(x);
const t4 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, createMs: t2 - t1, firstStepMs: t3 - t2, totalMs: t3 - t0, secondStepMs: t4 - t3 }));
