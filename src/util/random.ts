// Small deterministic JS-side generators for parameter initialisation and epoch shuffles (not
// hot paths). Training noise comes from the counter-based RNG in WebAssembly (assembly/rng.ts).

/** SplitMix32-style generator: uniform floats in [0, 1) from a 32-bit seed and a stream id. */
export class SeededRandom {
  private state: number;
  constructor(seed: number, stream = 0) {
    this.state = (Math.imul(seed >>> 0, 0x9e3779b9) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  }
  nextU32(): number {
    let z = (this.state = (this.state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** The generator's state (initUniform in WebAssembly continues from it). */
  get state32(): number {
    return this.state;
  }
  /** Skips n draws. */
  advance(n: number): void {
    this.state = (this.state + Math.imul(n, 0x9e3779b9)) >>> 0;
  }
  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  /** A standard normal draw (Box–Muller, two uniforms). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }
  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
