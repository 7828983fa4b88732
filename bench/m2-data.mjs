// The M2 step's data for the .mjs benchmarks (m2-step, ab --m2, kernel-profile m2): the first
// 100 MNIST training digits with their labels, then `steps` × 100 unlabelled digits, so that
// one epoch with batch size 100 is `steps` steps of 100 labelled + 100 unlabelled digits.
const D = 784;

/** { labelled, unlabelled } from loadMnist()'s result, for `steps` steps an epoch. */
export function m2Batches({ train, trainLabels }, steps) {
  return {
    labelled: { x: train.data.subarray(0, 100 * D), labels: Array.from(trainLabels.subarray(0, 100)) },
    unlabelled: { data: train.data.subarray(100 * D, (100 + 100 * steps) * D), rows: 100 * steps, cols: D },
  };
}
