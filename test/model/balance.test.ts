// The pool's load balancer (src/engine/balance.ts) against simulated threads: the cuts it chooses must
// make the threads finish together, whatever their speeds, start latencies and fixed costs.
import { describe, expect, it } from "vitest";
import { ALPHA, Balancer, evenSplit } from "../../src/engine/balance.js";
import { rng } from "../helpers/kernel-check.js";

interface SimThread {
  /** fraction of the work per ms */
  speed: number;
  /** ms between the dispatch and its start */
  lat: number;
  /** ms of fixed cost whenever it has work */
  fixed: number;
}

/** Runs `rounds` commands; returns the finishing times of the last one. */
function simulate(b: Balancer, threads: SimThread[], rounds: number, noise = 0, seed = 1): number[] {
  const r = rng(seed);
  let finish: number[] = [];
  for (let n = 0; n < rounds; n++) {
    const cut = b.cuts("cmd", threads.length);
    const done = threads.map((_, t) => cut[t + 1] - cut[t]);
    const jitter = () => 1 + noise * (2 * r() - 1);
    const busy = threads.map((th, t) => (done[t] > 0 ? (th.fixed + done[t] / th.speed) * jitter() : 0));
    const lat = threads.map((th) => th.lat * jitter());
    finish = threads.map((_, t) => lat[t] + busy[t]);
    b.update("cmd", done, lat, busy);
  }
  return finish;
}

const spread = (f: number[]) => (Math.max(...f) - Math.min(...f)) / Math.max(...f);

describe("load balancer", () => {
  it("splits evenly before it has measured anything", () => {
    expect(new Balancer().cuts("new", 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(evenSplit(2)).toEqual([0, 0.5, 1]);
  });

  it("makes threads of different speeds and start latencies finish together", () => {
    const threads = [{ speed: 1, lat: 0, fixed: 0 }, { speed: 0.7, lat: 0.05, fixed: 0 }, { speed: 1.2, lat: 0.1, fixed: 0 }];
    const b = new Balancer();
    const even = simulate(new Balancer(), threads, 1); // first run: even cuts
    const balanced = simulate(b, threads, 40);
    expect(spread(even)).toBeGreaterThan(0.3);
    expect(spread(balanced)).toBeLessThan(0.01);
    expect(Math.max(...balanced)).toBeLessThan(0.8 * Math.max(...even));
    // and the shares follow the speeds: the slow thread does the least
    const cut = b.cuts("cmd", 3);
    const share = [cut[1] - cut[0], cut[2] - cut[1], cut[3] - cut[2]];
    expect(share[1]).toBeLessThan(share[0]);
    expect(cut[0]).toBe(0);
    expect(cut[3]).toBe(1);
  });

  it("converges with a fixed cost per share (time not proportional to the work)", () => {
    const threads = [{ speed: 1, lat: 0, fixed: 0.3 }, { speed: 0.6, lat: 0.02, fixed: 0.1 }];
    expect(spread(simulate(new Balancer(), threads, 60))).toBeLessThan(0.01);
  });

  it("stays close to balanced under measurement noise", () => {
    const threads = [{ speed: 1, lat: 0, fixed: 0 }, { speed: 0.8, lat: 0.03, fixed: 0 }];
    // ±10 % uniform noise per measurement (sd 5.8 %); the moving average (weight 0.1) leaves
    // each speed estimate with sd 5.8 %·√(0.1/1.9) = 1.3 %, their ratio 1.9 %: the finishing
    // times the cuts give (without noise) differ by 1.5 % on average; allowed: 3 %
    let sum = 0;
    const seeds = 20;
    for (let seed = 1; seed <= seeds; seed++) {
      const b = new Balancer();
      simulate(b, threads, 200, 0.1, seed);
      const cut = b.cuts("cmd", 2);
      sum += spread(threads.map((th, t) => th.lat + (cut[t + 1] - cut[t]) / th.speed));
    }
    expect(sum / seeds).toBeLessThan(0.03);
  });

  it("never starves a thread, and ignores shares too small to time", () => {
    const b = new Balancer();
    simulate(b, [{ speed: 1, lat: 0, fixed: 0 }, { speed: 1e-4, lat: 0, fixed: 0 }], 30);
    const cut = b.cuts("cmd", 2);
    expect(1 - cut[1]).toBeGreaterThanOrEqual(0.25 / 2 - 1e-12);
    const c = new Balancer();
    c.update("c", [0.5, 0.5], [0, 0], [1, 1]); // speeds 0.5 and 0.5
    c.update("c", [1, 0], [0, 0], [1, 0]); // thread 1 did nothing: its speed is kept; thread 0's moves toward 1
    const s0 = 0.5 + ALPHA * (1 - 0.5);
    expect(c.cuts("c", 2)[1]).toBeCloseTo(s0 / (s0 + 0.5), 12);
  });

  it("splits whole examples: earliest predicted finish, no flip-flopping on small changes", () => {
    const counts = (cut: number[], n: number) => cut.slice(1).map((c, t) => Math.round(c * n) - Math.round(cut[t] * n));
    // 1.5 : 1 (ideal 12 / 8)
    const c = new Balancer();
    c.update("f", [0.5, 0.5], [0, 0], [1, 1.5]);
    expect(counts(c.split("f", 2, 20), 20)).toEqual([12, 8]);
    // a thread that starts late gets fewer, and the split's predicted finish is the best of all
    // splits of 30 (brute force): equal speeds (10 items per ms), the third thread 0.25 ms late
    const d = new Balancer();
    d.update("f", [1 / 3, 1 / 3, 1 / 3], [0, 0, 0.25], [1, 1, 1]);
    const n = counts(d.split("f", 3, 30), 30);
    const span = (q: number[]) => Math.max(...q.map((c, t) => (c > 0 ? [0, 0, 0.25][t] + c / 10 : 0)));
    let best = Infinity;
    for (let a = 0; a <= 30; a++) for (let b = 0; a + b <= 30; b++) best = Math.min(best, span([a, b, 30 - a - b]));
    expect(n.reduce((a, q) => a + q, 0)).toBe(30);
    expect(span(n)).toBeCloseTo(best, 12);
    expect(n[2]).toBeLessThan(n[0]);
    // the estimates wobbling around an even split (ideal 10.6 / 9.4, then 9.4 / 10.6 of 20): the
    // first split stays, since neither change is predicted to gain 3 %
    const w = new Balancer();
    w.update("f", [0.5, 0.5], [0, 0], [0.5, 0.5]);
    expect(counts(w.split("f", 2, 20), 20)).toEqual([10, 10]);
    // thread 0 looks 12 % faster: ideal 10.6 / 9.4, where 11 / 9 is predicted only 2 % earlier
    for (let r = 0; r < 60; r++) w.update("f", [0.5, 0.5], [0, 0], [0.5 / 1.12, 0.5]);
    expect(w.cuts("f", 2)[1]).toBeGreaterThan(0.525);
    expect(counts(w.split("f", 2, 20), 20)).toEqual([10, 10]);
    // a real difference moves it: thread 0 twice as fast for a while
    for (let r = 0; r < 60; r++) w.update("f", [0.5, 0.5], [0, 0], [0.25, 0.5]);
    expect(counts(w.split("f", 2, 20), 20)[0]).toBeGreaterThanOrEqual(13);
    expect(new Balancer().split("none", 2, 7)).toEqual([0, 0.5, 1]);
  });

  it("splits in groups of `grain` items: whole groups per thread, the remainder with the last, as close to the ideal as groups allow", () => {
    const counts = (cut: number[], n: number) => cut.slice(1).map((c, t) => Math.round(c * n) - Math.round(cut[t] * n));
    for (const [n, grain] of [[100, 2], [101, 2], [20, 4], [30, 4], [7, 2]]) {
      const c = new Balancer();
      // thread 0 1.3× as fast: ideal 56.5 % of the items
      c.update("f", [0.5, 0.5], [0, 0], [1, 1.3]);
      const q = counts(c.split("f", 2, n, grain), n);
      expect(q.reduce((a, v) => a + v, 0), `n ${n} grain ${grain}`).toBe(n);
      expect(q[0] % grain, `n ${n} grain ${grain}: ${q}`).toBe(0);
      // the best split into whole groups (brute force over thread 0's groups)
      const span = (a: number) => Math.max(a / 1, (n - a) / (1 / 1.3));
      let best = Infinity;
      for (let a = 0; a <= n; a += grain) best = Math.min(best, span(a));
      expect(span(q[0]), `n ${n} grain ${grain}: ${q}`).toBeCloseTo(best, 9);
    }
  });

  it("keeps one estimate per command and shape", () => {
    const b = new Balancer();
    b.update("a", [0.5, 0.5], [0, 0], [1, 2]); // thread 1 twice as slow on a
    b.update("b", [0.5, 0.5], [0, 0], [2, 1]); // thread 0 twice as slow on b
    expect(b.cuts("a", 2)[1]).toBeCloseTo(2 / 3, 12);
    expect(b.cuts("b", 2)[1]).toBeCloseTo(1 / 3, 12);
    b.reset();
    expect(b.cuts("a", 2)).toEqual([0, 0.5, 1]);
  });
});
