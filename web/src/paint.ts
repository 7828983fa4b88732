// Drawing rows of data into a canvas as a grid of tiles: images (greyscale or RGB, values mapped
// from `range` to black…white) or, for data that is not an image, profiles (one line per row over
// its columns, on a shared vertical scale).
import type { DataView } from "./protocol";

/**
 * Paints `count` rows of `view.D` values as a `cols`-wide grid of tiles `cell` pixels wide, and
 * sizes the canvas to fit (tiles keep the image's aspect ratio; profiles are 2:1 wide).
 */
export function paintRows(canvas: HTMLCanvasElement, rows: Float32Array, count: number, cols: number, cell: number, view: DataView): void {
  const im = view.image;
  const cellH = im ? Math.max(1, Math.round((cell * im.h) / im.w)) : Math.round(cell / 2);
  const lines = Math.ceil(count / cols);
  canvas.width = cols * cell;
  canvas.height = lines * cellH;
  const ctx = canvas.getContext("2d")!;
  if (!im) {
    paintProfiles(ctx, rows, count, cols, cell, cellH, view.D);
    return;
  }
  const [lo, hi] = view.range;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const img = ctx.createImageData(cols * im.w, lines * im.h);
  for (let n = 0; n < count; n++) {
    const ox = (n % cols) * im.w, oy = Math.floor(n / cols) * im.h;
    for (let p = 0; p < im.h * im.w; p++) {
      const o = 4 * ((oy + Math.floor(p / im.w)) * img.width + ox + (p % im.w));
      for (let c = 0; c < 3; c++) {
        const v = rows[n * view.D + p * im.c + (im.c === 3 ? c : 0)];
        img.data[o + c] = Math.round(Math.min(255, Math.max(0, (v - lo) * scale)));
      }
      img.data[o + 3] = 255;
    }
  }
  const tmp = new OffscreenCanvas(img.width, img.height);
  tmp.getContext("2d")!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

function paintProfiles(ctx: CanvasRenderingContext2D, rows: Float32Array, count: number, cols: number, cellW: number, cellH: number, D: number): void {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < count * D; i++) {
    if (rows[i] < lo) lo = rows[i];
    if (rows[i] > hi) hi = rows[i];
  }
  if (!(hi > lo)) hi = lo + 1;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.lineWidth = 1.5;
  for (let n = 0; n < count; n++) {
    const ox = (n % cols) * cellW, oy = Math.floor(n / cols) * cellH, pad = 3;
    ctx.strokeStyle = "#e4e7ec";
    ctx.strokeRect(ox + 0.5, oy + 0.5, cellW - 1, cellH - 1);
    ctx.strokeStyle = "#3b5bdb";
    ctx.beginPath();
    for (let j = 0; j < D; j++) {
      const x = ox + pad + ((cellW - 2 * pad) * j) / Math.max(1, D - 1);
      const y = oy + pad + ((cellH - 2 * pad) * (hi - rows[n * D + j])) / (hi - lo);
      if (j) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
    }
    ctx.stroke();
  }
}
