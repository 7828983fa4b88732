// The page's drawing pad centres a drawn digit as MNIST centres its digits: by the centre of mass
// (web/src/centre.ts), not by the bounding box — MNIST's digits have their centre of mass on
// pixel (14, 14), and a 7, heavy at the top, centred by its box sits ~3 px too high.
import { describe, expect, it } from "vitest";
import { centreOfMass, placeByCentreOfMass } from "../../web/src/centre.js";
import { loadMnist } from "../../dist/src/index.js";

describe("the drawing pad's centring", () => {
  it("MNIST's own digits are already where it puts them: centre of mass on (14, 14), 9 in 10 unmoved", async () => {
    const { train } = await loadMnist();
    let unmoved = 0;
    for (let n = 0; n < 500; n++) {
      const digit = train.data.subarray(n * 784, (n + 1) * 784);
      const placed = placeByCentreOfMass(digit, 28, 28);
      const [x, y] = centreOfMass(placed, 28, 28)!;
      expect(Math.abs(x - 14)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(y - 14)).toBeLessThanOrEqual(0.5);
      if (placed.every((v, i) => v === digit[i])) unmoved++;
    }
    expect(unmoved).toBeGreaterThan(450);
  });

  it("a 7 drawn in a 20×20 box: by its box its centre of mass sits 3 px high; by its mass it sits on (14, 14)", () => {
    // a thick top bar and a thin stroke down to the bottom left
    const w = 20, h = 20, seven = new Float32Array(w * h);
    for (let r = 0; r < 4; r++) for (let c = 0; c < w; c++) seven[r * w + c] = 1;
    for (let r = 4; r < h; r++) seven[r * w + Math.round(19 - (r - 4) * 0.8)] = 1;
    const boxed = new Float32Array(784);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) boxed[(r + 4) * 28 + c + 4] = seven[r * w + c];
    expect(14 - centreOfMass(boxed, 28, 28)![1]).toBeGreaterThan(3);
    const [x, y] = centreOfMass(placeByCentreOfMass(seven, w, h), 28, 28)!;
    expect(Math.abs(x - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(y - 14)).toBeLessThanOrEqual(0.5);
    expect(placeByCentreOfMass(new Float32Array(4), 2, 2).every((v) => v === 0)).toBe(true);
  });
});
