// A bump allocator of byte offsets in linear memory, above the module's static data. Regions
// are 16-byte aligned (one v128). Nothing is ever freed individually: a model lays out its
// parameters once, then its workspace, and re-lays the workspace only when a batch outgrows it.

export class Arena {
  private top: number;
  constructor(base: number) {
    this.top = align16(base);
  }
  /** Reserves `floats` f32 and returns the byte offset. */
  floats(floats: number): number {
    const p = this.top;
    this.top = align16(p + 4 * floats);
    return p;
  }
  get end(): number {
    return this.top;
  }
  /** Forgets everything above `mark` (an earlier `end`). */
  reset(mark: number): void {
    this.top = align16(mark);
  }
}

function align16(n: number): number {
  return (n + 15) & ~15;
}
