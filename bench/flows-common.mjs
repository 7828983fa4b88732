// Shared by bench/flows-mnist.mjs and bench/flows-multisample.mjs: the command line
// (EPOCHS N K THREADS), the data (MNIST, the first N test digits binarized once with seed 123)
// and the paired NLL comparison over the same digits.
import { loadMnist, binarize, takeRows } from "../dist/src/index.js";

export async function setup(defaultThreads) {
  const [epochs, nTest, K, threads] = [10, 2000, 1000, defaultThreads].map((d, i) => Number(process.argv[2 + i] ?? d));
  const { train, test } = await loadMnist();
  return { epochs, nTest, K, threads, train, testBin: takeRows(binarize(test, 123), nTest) };
}

/** Mean and standard error of log p(x) per digit minus the reference's: the NLL reduction. */
export function pairedGain(per, refPer) {
  const d = Array.from(per, (v, i) => v - refPer[i]);
  const mean = d.reduce((a, b) => a + b, 0) / d.length;
  const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1));
  return { mean, se: sd / Math.sqrt(d.length) };
}
