// The input check kernel (assembly/check.ts) on every build: the index of the first bad value,
// wherever it sits (vector groups of 16, the scalar tail), against a JavaScript reference.
import { describe, expect, it } from "vitest";
import { BUILDS, kernelEnv } from "../helpers/kernel-check.js";

const firstBad = (v: Float32Array, unit: boolean) => v.findIndex((x) => (unit ? !(x >= 0 && x <= 1) : !Number.isFinite(x)));

describe.each(BUILDS)("firstInvalid, %s build", (build) => {
  it("finds the first value that is not finite (or, for unit data, outside [0, 1]) at every position", async () => {
    const env = await kernelEnv(build);
    const n = 45; // two groups of 16 and a tail of 13
    const good = Float32Array.from({ length: n }, (_, i) => (i % 7) / 6); // in [0, 1], including 0 and 1
    const p = env.zeros(n);
    for (const unit of [true, false]) {
      env.write(p, good);
      expect(env.k.firstInvalid(p, n, unit ? 1 : 0)).toBe(-1);
      const bads = unit ? [NaN, -1e-7, 1.0000001, 255, -Infinity] : [NaN, Infinity, -Infinity];
      for (const bad of bads) {
        for (let at = 0; at < n; at++) {
          const v = good.slice();
          v[at] = bad;
          if (at + 3 < n) v[at + 3] = bad; // a later bad value must not win
          env.write(p, v);
          expect(env.k.firstInvalid(p, n, unit ? 1 : 0), `${bad} at ${at}`).toBe(firstBad(v, unit));
        }
      }
      // large finite values and -0 are fine without unit; -0 is in [0, 1]
      env.write(p, Float32Array.from({ length: n }, (_, i) => (unit ? -0 : (i - 20) * 1e37)));
      expect(env.k.firstInvalid(p, n, unit ? 1 : 0)).toBe(-1);
    }
  });
});
