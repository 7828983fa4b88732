// A folder of PNG images as a dataset (Node): every *.png in it, in natural name order (2 before
// 10), decoded by pngjs, all the same size. Greyscale when every image is (one value per pixel),
// else RGB (grey images repeated into three channels); alpha is dropped. A row is the image's
// pixels row by row, each pixel's channels together (height × width × channels, as NumPy and
// PIL hold images), scaled by 1/255.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pngjs from "pngjs";
import type { Dataset } from "./dataset.js";

export function readPngFolder(fn: string, dir: string): Dataset {
  const names = readdirSync(dir).filter((n) => /\.png$/i.test(n)).sort(new Intl.Collator("en", { numeric: true }).compare);
  if (names.length === 0) throw new Error(`${fn}: the folder ${dir} has no .png images`);
  const images = names.map((name) => {
    try {
      return pngjs.PNG.sync.read(readFileSync(join(dir, name)));
    } catch (e) {
      throw new Error(`${fn}: ${join(dir, name)} is not a readable PNG image (${(e as Error).message})`);
    }
  });
  const { width, height } = images[0];
  images.forEach((im, i) => {
    if (im.width !== width || im.height !== height) {
      throw new Error(`${fn}: ${join(dir, names[i])} is ${im.width}×${im.height}; ${names[0]} (the first image) is ${width}×${height}. All images must be the same size.`);
    }
  });
  // (pngjs decodes every image to 8-bit RGBA; its colorType says what the file held: 0 and 4 are grey)
  const grey = images.every((im) => (im as unknown as { colorType: number }).colorType === 0 || (im as unknown as { colorType: number }).colorType === 4);
  const C = grey ? 1 : 3, cols = width * height * C;
  const data = new Float32Array(images.length * cols);
  images.forEach((im, r) => {
    const px = im.data;
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < C; c++) data[r * cols + p * C + c] = px[4 * p + c] / 255;
    }
  });
  return { data, rows: images.length, cols, shape: grey ? [height, width] : [height, width, 3], format: "png", scaled: true };
}
