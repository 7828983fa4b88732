// The M2 training step on 1 and 2 threads: 784-500-50 (the `semi` defaults), 100 labelled and
// 100 unlabelled MNIST digits a step, y enumerated or one Gumbel-softmax sample, in alternating
// rounds of STEPS steps; median ms per step and the median of the per-round ratios.
//   node bench/m2-step.mjs [ROUNDS=5] [STEPS=20]     (after npm run build)
import { loadMnist, SemiSupervisedVAE } from "../dist/src/index.js";
import { describeCpu } from "./cpu.mjs";
import { m2Batches } from "./m2-data.mjs";

const [rounds, steps] = [5, 20].map((d, i) => Number(process.argv[2 + i] ?? d));
const { labelled, unlabelled } = m2Batches(await loadMnist(), steps);
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

console.log(`M2 training step, 784-500-50, 100 labelled + 100 unlabelled digits — ${describeCpu()}, ${rounds} alternating rounds of ${steps} steps`);
for (const [name, fit] of [["y enumerated", {}], ["Gumbel-softmax y (τ 0.5)", { gumbelSoftmax: { temperature: 0.5 } }]]) {
  const models = [await SemiSupervisedVAE.create({ seed: 1, threads: 1 }), await SemiSupervisedVAE.create({ seed: 1, threads: 2 })];
  const ms = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (const [i, m] of models.entries()) {
      const t0 = performance.now();
      await m.fit(labelled, unlabelled, { epochs: 1, batchSize: 100, binarize: true, ...fit });
      ms[i].push((performance.now() - t0) / steps);
    }
  }
  const ratio = median(ms[0].map((one, r) => one / ms[1][r]));
  console.log(`   ${name.padEnd(26)} 1 thread ${median(ms[0]).toFixed(1).padStart(7)} ms   2 threads ${median(ms[1]).toFixed(1).padStart(7)} ms   ${ratio.toFixed(2)}×`);
  models.forEach((m) => m.dispose());
}
