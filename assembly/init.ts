// Parameter initialisation: p[i] = (2u − 1)·bound, u uniform in [0, 1) from the SplitMix32-style
// generator of src/util/random.ts (SeededRandom), continuing from `state`. The same u32 and f64
// arithmetic as the JavaScript, so the numbers are identical; here because 650k draws in cold
// JavaScript took ~50 ms of a model's creation.
export function initUniform(p: usize, n: i32, state: u32, bound: f64): void {
  for (let i = 0; i < n; i++) {
    state += 0x9e3779b9;
    let z = state;
    z = (z ^ (z >>> 16)) * 0x85ebca6b;
    z = (z ^ (z >>> 13)) * 0xc2b2ae35;
    z = z ^ (z >>> 16);
    const u = <f64>z / 4294967296.0;
    store<f32>(p + (<usize>i << 2), <f32>((2 * u - 1) * bound));
  }
}
