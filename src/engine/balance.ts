// Load balancing between the pool's threads. The VMs this runs on often give one vCPU 20–30 %
// less speed than the other for seconds at a time, and a worker starts a command later than the
// coordinator (it has to wake). With an even split the step then waits for the slowest thread.
// Since any split of a command gives the same bits (engine/step.ts: rows are independent,
// outputs are computed alone), the pool may split each command by measured speed instead:
//
//   thread t, given the share σ_t, started λ_t after the dispatch and ran for β_t;
//   speed s_t = σ_t / β_t and latency λ_t are kept as moving averages per command;
//   the next shares make the predicted finishing times equal: λ_t + σ_t / s_t = F for every t,
//   i.e. σ_t = s_t (F − λ_t) with F = (1 + Σ s_t λ_t) / Σ s_t (Σ σ_t = 1).
//
// At a fixed point every thread finishes at F, whatever the shape of its cost curve; the
// moving average damps the noise of single measurements.

/** Weight of the newest measurement in the moving averages. */
export const ALPHA = 0.1;
/** No thread gets less than this fraction of an even share (so it keeps being measured). */
const MIN_SHARE = 0.25;
/** Commands (with their shapes) remembered; more, and the oldest is forgotten. */
const MAX_KEYS = 64;

/** A new split of whole items must be predicted to finish this much earlier than the last one. */
const HYSTERESIS = 0.03;

interface Estimate {
  speed: number[];
  lat: number[];
  /** the last split per item count and grain (split), in groups */
  last?: Map<string, number[]>;
}

export class Balancer {
  private readonly est = new Map<string, Estimate>();

  /** Cumulative cuts (cut[0] = 0, cut[T] = 1) for the next run of `key` on T threads. */
  cuts(key: string, T: number): number[] {
    const e = this.est.get(key);
    if (!e) return evenSplit(T);
    let sumS = 0, sumSL = 0;
    for (let t = 0; t < T; t++) {
      sumS += e.speed[t];
      sumSL += e.speed[t] * e.lat[t];
    }
    const F = (1 + sumSL) / sumS;
    const sigma = e.speed.slice(0, T).map((s, t) => s * (F - e.lat[t]));
    // shares below the floor are raised to it, the others scaled down to keep the sum 1
    const floor = MIN_SHARE / T;
    const low = new Set<number>();
    for (let pass = 0; pass < T; pass++) {
      const free = sigma.reduce((a, v, t) => (low.has(t) ? a : a + v), 0);
      const scale = (1 - low.size * floor) / free;
      let changed = false;
      sigma.forEach((v, t) => {
        if (low.has(t)) return;
        if (v * scale < floor) {
          low.add(t);
          changed = true;
        }
      });
      if (!changed) {
        sigma.forEach((v, t) => (sigma[t] = low.has(t) ? floor : v * scale));
        break;
      }
    }
    const cut = [0];
    for (let t = 0; t < T; t++) cut.push(cut[t] + sigma[t]);
    cut[T] = 1;
    return cut;
  }

  /**
   * Cuts for `key` when the work is n whole items (examples): each thread gets a whole number of
   * them, chosen so that the predicted last finish is earliest. Rounding the ideal fractions
   * instead would flip a batch of 20 between 10/10 and 11/9 whenever the estimates wobble around
   * an even split, each flip costing a tenth of a thread's share. With `grain`, shares are whole
   * groups of that many items (the last thread's may hold the remainder of n).
   */
  split(key: string, T: number, n: number, grain = 1): number[] {
    const e = this.est.get(key);
    if (!e || n <= 0) return evenSplit(T);
    const groups = Math.ceil(n / grain);
    // when thread t would finish with the c groups that follow the first `before` groups (the
    // last group, which may be partial, counts as the items it holds)
    const finish = (t: number, before: number, c: number) => {
      const m = Math.min(n, (before + c) * grain) - Math.min(n, before * grain);
      return m > 0 ? e.lat[t] + m / (n * e.speed[t]) : 0;
    };
    const before = (c: number[], t: number) => {
      let b = 0;
      for (let s = 0; s < t; s++) b += c[s];
      return b;
    };
    const ideal = this.cuts(key, T);
    let count = Array.from({ length: T }, (_, t) => Math.floor((ideal[t + 1] - ideal[t]) * groups));
    // the groups left by the floors, one at a time, to the thread that would finish first with it
    const withOne = (t: number) => finish(t, before(count, t), count[t] + 1);
    for (let left = groups - count.reduce((a, b) => a + b, 0); left > 0; left--) {
      let best = 0;
      for (let t = 1; t < T; t++) if (withOne(t) < withOne(best)) best = t;
      count[best]++;
    }
    // hysteresis: keep the last split unless the new one is predicted to finish HYSTERESIS
    // earlier (the estimates wobble by a few per cent from step to step)
    const makespan = (c: number[]) => Math.max(...c.map((ct, t) => finish(t, before(c, t), ct)));
    const memo = `${n}:${grain}`;
    const last = e.last?.get(memo);
    if (last && last.length === T && makespan(count) > (1 - HYSTERESIS) * makespan(last)) count = last;
    (e.last ??= new Map()).set(memo, count);
    const cut = [0];
    let sum = 0;
    for (let t = 0; t < T; t++) cut.push(Math.min(n, (sum += count[t]) * grain) / n);
    cut[T] = 1;
    return cut;
  }

  /**
   * What a run of `key` measured: thread t did the fraction done[t] of the work, started lat[t]
   * ms after the dispatch and was busy for busy[t] ms.
   */
  update(key: string, done: number[], lat: number[], busy: number[]): void {
    const T = done.length;
    let e = this.est.get(key);
    if (!e) {
      if (this.est.size >= MAX_KEYS) this.est.delete(this.est.keys().next().value!);
      // first measurement: taken as is
      e = { speed: done.map((d, t) => (d > 0 && busy[t] > 0 ? d / busy[t] : NaN)), lat: lat.map((l) => Math.max(0, l)) };
      const known = e.speed.filter((s) => Number.isFinite(s));
      const fill = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
      e.speed = e.speed.map((s) => (Number.isFinite(s) ? s : fill));
      this.est.set(key, e);
      return;
    }
    for (let t = 0; t < T; t++) {
      // a share too small to time says little about the thread's speed
      if (done[t] > 0 && busy[t] > 0.002) e.speed[t] += ALPHA * (done[t] / busy[t] - e.speed[t]);
      e.lat[t] += ALPHA * (Math.max(0, lat[t]) - e.lat[t]);
    }
  }

  /** Forgets every estimate. */
  reset(): void {
    this.est.clear();
  }
}

/** cut[s] = s/T. */
export function evenSplit(T: number): number[] {
  return Array.from({ length: T + 1 }, (_, s) => s / T);
}

/**
 * Thread t's share [a, b) of n items between T threads: `cuts` are the cumulative fractions
 * cut[0] = 0 ≤ cut[1] ≤ … ≤ cut[T] = 1 (Balancer.split chooses them by measured thread speed;
 * any cuts give the same bits).
 */
export function share(t: number, n: number, T: number, cuts: ArrayLike<number>): [number, number] {
  const cut = (s: number) => (s <= 0 ? 0 : s >= T ? n : Math.min(n, Math.max(0, Math.round(cuts[s] * n))));
  return [cut(t), cut(t + 1)];
}
