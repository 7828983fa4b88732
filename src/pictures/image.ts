// Image grids as PNG (encoded by pngjs: a maintained, pure-JS encoder that runs everywhere Node
// does, rather than a home-made deflate). Grey levels in [0, 1] are tiled into a grid with a
// gap between tiles; `scale` enlarges every pixel for legibility.
import pngjs from "pngjs";

export interface GridOptions {
  /** tile width and height in pixels (default 28 × 28, MNIST) */
  width?: number;
  height?: number;
  columns?: number;
  /** pixels between tiles (default 2) */
  gap?: number;
  /** integer enlargement (default 2) */
  scale?: number;
  /** grey level of the gaps, 0..1 (default 0.5: MNIST digits are white on black) */
  background?: number;
  /** 1: grey levels; 3: RGB, each pixel's channels together (height × width × 3). Default 1. */
  channels?: 1 | 3;
}

/** Tiles n images (rows of `images`, each width·height grey levels or RGB triples in [0, 1]) into one RGBA picture. */
export function tileImages(images: Float32Array, n: number, opts: GridOptions = {}): { width: number; height: number; rgba: Uint8Array } {
  const w = opts.width ?? 28, h = opts.height ?? 28, gap = opts.gap ?? 2, s = opts.scale ?? 2, C = opts.channels ?? 1;
  const cols = opts.columns ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const W = (cols * (w + gap) + gap) * s, H = (rows * (h + gap) + gap) * s;
  const bg = Math.round(255 * (opts.background ?? 0.5));
  const rgba = new Uint8Array(W * H * 4).fill(bg);
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
  for (let t = 0; t < n; t++) {
    const ox = (gap + (t % cols) * (w + gap)) * s, oy = (gap + Math.floor(t / cols) * (h + gap)) * s;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = (t * w * h + y * w + x) * C;
        const level = (c: number) => Math.round(255 * Math.min(1, Math.max(0, images[at + c])));
        const r = level(0), g = C === 3 ? level(1) : r, b = C === 3 ? level(2) : r;
        for (let dy = 0; dy < s; dy++) {
          for (let dx = 0; dx < s; dx++) {
            const o = ((oy + y * s + dy) * W + ox + x * s + dx) * 4;
            rgba[o] = r;
            rgba[o + 1] = g;
            rgba[o + 2] = b;
          }
        }
      }
    }
  }
  return { width: W, height: H, rgba };
}

/** PNG bytes of a tiled grid. */
export function gridPng(images: Float32Array, n: number, opts: GridOptions = {}): Uint8Array {
  const { width, height, rgba } = tileImages(images, n, opts);
  const png = new pngjs.PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return pngjs.PNG.sync.write(png);
}

/** Decodes PNG bytes to RGBA (for tests and tools). */
export function decodePng(bytes: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const png = pngjs.PNG.sync.read(Buffer.from(bytes));
  return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) };
}

/**
 * Inputs and their reconstructions interleaved by row pairs: row 2i holds `columns` inputs and
 * row 2i+1 their reconstructions, so each digit sits above its reconstruction. A last partial
 * row is padded with blank tiles; the result holds 2·ceil(n/columns)·columns tiles.
 */
export function pairsGrid(inputs: Float32Array, recons: Float32Array, n: number, columns: number, dim: number): Float32Array {
  const out = new Float32Array(2 * Math.ceil(n / columns) * columns * dim);
  let t = 0;
  for (let start = 0; start < n; start += columns) {
    const m = Math.min(columns, n - start);
    for (let i = 0; i < m; i++) out.set(inputs.subarray((start + i) * dim, (start + i + 1) * dim), (t + i) * dim);
    t += columns;
    for (let i = 0; i < m; i++) out.set(recons.subarray((start + i) * dim, (start + i + 1) * dim), (t + i) * dim);
    t += columns;
  }
  return out;
}
