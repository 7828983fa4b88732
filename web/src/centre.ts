// MNIST's centring of a digit (LeCun et al.): the ink's bounding box is scaled into 20×20 (the
// caller draws that), then the image is placed in the 28×28 frame so that its centre of mass
// falls on pixel (14, 14) — where MNIST's training digits have theirs (mean 14.00, 13.99 over
// 5,000 of them). Centring the bounding box instead puts a 7 (heavy at the top) too high.

/** The centre of mass (x, y) of w×h grey levels, in pixel-index coordinates; null without ink. */
export function centreOfMass(g: ArrayLike<number>, w: number, h: number): [number, number] | null {
  let m = 0, x = 0, y = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const v = g[r * w + c];
      m += v;
      x += v * c;
      y += v * r;
    }
  }
  return m > 0 ? [x / m, y / m] : null;
}

/** w×h grey levels placed in a 28×28 frame with their centre of mass on pixel (14, 14) (a whole-pixel shift; ink beyond the frame is cut). */
export function placeByCentreOfMass(g: ArrayLike<number>, w: number, h: number): Float32Array {
  const out = new Float32Array(28 * 28);
  const com = centreOfMass(g, w, h);
  if (!com) return out;
  const dx = Math.round(14 - com[0]), dy = Math.round(14 - com[1]);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const x = c + dx, y = r + dy;
      if (x >= 0 && x < 28 && y >= 0 && y < 28) out[y * 28 + x] = g[r * w + c];
    }
  }
  return out;
}
