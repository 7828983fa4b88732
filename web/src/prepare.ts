// Your own data on the page: what the training worker makes of a loaded dataset (pure functions,
// so Node tests can check them). The last 10 % of the rows (at most 1,000) are held out for the
// pictures; data in [0, 1] gets the Bernoulli decoder (grey levels as targets, like the CLI),
// anything else is standardised per column and gets a Gaussian decoder with a learned variance.

/** How rows are drawn: as images (height × width × channels, channels of a pixel together), or as profiles (one line per row). */
export interface ImageShape {
  h: number;
  w: number;
  c: 1 | 3;
}

export interface DatasetLike {
  data: Float32Array;
  rows: number;
  cols: number;
  shape: number[];
  labels?: Int32Array;
}

export interface Prepared {
  train: Float32Array;
  test: Float32Array;
  D: number;
  trainRows: number;
  testRows: number;
  /** null: draw rows as profiles */
  image: ImageShape | null;
  likelihood: "bernoulli" | "gaussian";
  /** to undo the standardisation for drawing (Gaussian), per column */
  mean: Float32Array | null;
  sd: Float32Array | null;
  /** the smallest and largest value of the data as given */
  lo: number;
  hi: number;
  /** what the page tells the user about the data */
  note: string;
}

/** The image shape of a row: [h, w], [h, w, 1|3], or a square number of values; else null. */
export function imageShape(shape: number[], cols: number): ImageShape | null {
  if (shape.length === 2 && shape[0] * shape[1] === cols) return { h: shape[0], w: shape[1], c: 1 };
  if (shape.length === 3 && (shape[2] === 1 || shape[2] === 3) && shape[0] * shape[1] * shape[2] === cols) {
    return { h: shape[0], w: shape[1], c: shape[2] as 1 | 3 };
  }
  const side = Math.round(Math.sqrt(cols));
  if (cols >= 16 && side * side === cols) return { h: side, w: side, c: 1 };
  return null;
}

/** The training and held-out rows, the decoder that suits the values, and how to draw them. */
export function prepare(ds: DatasetLike, name: string): Prepared {
  if (ds.rows < 20) throw new Error(`${name} has ${ds.rows} rows; the page needs at least 20 (18 to train on, 2 to show)`);
  const D = ds.cols;
  const testRows = Math.min(1000, Math.max(2, Math.floor(ds.rows / 10)));
  const trainRows = ds.rows - testRows;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < ds.data.length; i++) {
    const v = ds.data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const image = imageShape(ds.shape, D);
  const what = `${ds.rows.toLocaleString("en")} rows × ${D} values${image ? ` (${image.h}×${image.w}${image.c === 3 ? " RGB" : ""} images)` : ""}`;
  if (lo >= 0 && hi <= 1) {
    return {
      train: ds.data.subarray(0, trainRows * D), test: ds.data.subarray(trainRows * D), D, trainRows, testRows, image,
      likelihood: "bernoulli", mean: null, sd: null, lo, hi,
      note: `${name}: ${what}, values in [0, 1]: Bernoulli decoder; ${testRows} held-out rows shown`,
    };
  }
  // standardised with the training rows' mean and standard deviation (a constant column: sd 1)
  const mean = new Float32Array(D), sd = new Float32Array(D);
  for (let j = 0; j < D; j++) {
    let s = 0, s2 = 0;
    for (let r = 0; r < trainRows; r++) {
      const v = ds.data[r * D + j];
      s += v;
      s2 += v * v;
    }
    const m = s / trainRows;
    mean[j] = m;
    sd[j] = Math.sqrt(Math.max(0, s2 / trainRows - m * m)) || 1;
  }
  const z = new Float32Array(ds.data.length);
  for (let i = 0; i < z.length; i++) z[i] = (ds.data[i] - mean[i % D]) / sd[i % D];
  return {
    train: z.subarray(0, trainRows * D), test: z.subarray(trainRows * D), D, trainRows, testRows, image,
    likelihood: "gaussian", mean, sd, lo, hi,
    note: `${name}: ${what}, values in [${fmt(lo)}, ${fmt(hi)}]: standardised per column, Gaussian decoder with learned variance; ${testRows} held-out rows shown`,
  };
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(4)));

/** Rows back on the data's scale for drawing (a Gaussian model's standardised values), in place. */
export function unstandardise(rows: Float32Array, p: Pick<Prepared, "mean" | "sd" | "D">): Float32Array {
  if (!p.mean || !p.sd) return rows;
  for (let i = 0; i < rows.length; i++) rows[i] = rows[i] * p.sd[i % p.D] + p.mean[i % p.D];
  return rows;
}

/** The loadDataset format a file's name suggests (the library sniffs .npy, IDX and gzip by their bytes). */
export function formatOf(name: string): "csv" | "tsv" | undefined {
  if (/\.(tsv|tab)$/i.test(name)) return "tsv";
  if (/\.(csv|txt)$/i.test(name)) return "csv";
  return undefined;
}

/**
 * Decoded images (RGBA bytes) as dataset rows: all the same size, greyscale when every pixel of
 * every image has R = G = B, else RGB; alpha dropped, values / 255 — the library's PNG-folder order.
 */
export function imagesToRows(images: { name: string; width: number; height: number; rgba: Uint8ClampedArray }[]): DatasetLike {
  if (images.length === 0) throw new Error("no images were given");
  const { width, height } = images[0];
  for (const im of images) {
    if (im.width !== width || im.height !== height) {
      throw new Error(`${im.name} is ${im.width}×${im.height}; ${images[0].name} (the first image) is ${width}×${height}. All images must be the same size.`);
    }
  }
  let grey = true;
  for (const im of images) {
    for (let p = 0; p < im.rgba.length && grey; p += 4) grey = im.rgba[p] === im.rgba[p + 1] && im.rgba[p] === im.rgba[p + 2];
    if (!grey) break;
  }
  const C = grey ? 1 : 3, cols = width * height * C;
  const data = new Float32Array(images.length * cols);
  images.forEach((im, r) => {
    for (let p = 0; p < width * height; p++) for (let c = 0; c < C; c++) data[r * cols + p * C + c] = im.rgba[4 * p + c] / 255;
  });
  return { data, rows: images.length, cols, shape: grey ? [height, width] : [height, width, 3] };
}
