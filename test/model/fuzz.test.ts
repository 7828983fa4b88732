// Mutated model files through the loaders, deterministically: bit flips in the length, the
// header and the data, header characters edited, truncations, deleted ranges, null entries,
// huge and negative numbers in the header, edited configurations. Every file must either load
// or be refused with an Error whose message starts with the loader's name: no other exception
// (a crash), no hang, and no flipped bit in the data of a checksummed file accepted.
import { describe, expect, it } from "vitest";
import { SemiSupervisedVAE, VAE } from "../../src/index.js";
import { rng } from "../helpers/kernel-check.js";
import { headerLength, joinFile as join } from "../helpers/safetensors-file.js";

type Mutation = "flip length" | "flip header" | "flip data" | "edit header" | "truncate" | "delete" | "null entry" | "number" | "edit config";
const MUTATIONS: Mutation[] = ["flip length", "flip header", "flip data", "edit header", "truncate", "delete", "null entry", "number", "edit config"];

const NUMBERS = ["1e20", "-1", "-0", "0.5", "9007199254740993", "1e308", "-1e308", "2147483648", "4294967296", "1e-300"];
const CHARS = '{}[]":,.-+0123456789eE nulltrf\\';

/** One mutation of `file`, chosen by r. */
function mutate(file: Uint8Array, m: Mutation, r: () => number): Uint8Array {
  const n = headerLength(file);
  const text = new TextDecoder().decode(file.subarray(8, 8 + n));
  const data = file.subarray(8 + n);
  const pick = (k: number) => Math.floor(r() * k);
  switch (m) {
    case "flip length": {
      const b = file.slice();
      b[pick(8)] ^= 1 << pick(8);
      return b;
    }
    case "flip header": {
      const b = file.slice();
      b[8 + pick(n)] ^= 1 << pick(8);
      return b;
    }
    case "flip data": {
      const b = file.slice();
      b[8 + n + pick(data.length)] ^= 1 << pick(8);
      return b;
    }
    case "edit header": {
      const i = pick(text.length);
      return join(text.slice(0, i) + CHARS[pick(CHARS.length)] + text.slice(i + 1), data);
    }
    case "truncate":
      return file.slice(0, pick(file.length));
    case "delete": {
      const at = pick(file.length), len = Math.min(1 + pick(32), file.length - at);
      const b = new Uint8Array(file.length - len);
      b.set(file.subarray(0, at));
      b.set(file.subarray(at + len), at);
      return b;
    }
    case "null entry": {
      const h = JSON.parse(text);
      const keys = Object.keys(h);
      const k = keys[pick(keys.length)];
      if (k !== "__metadata__" && r() < 0.5) {
        // null inside the entry
        const field = ["dtype", "shape", "data_offsets"][pick(3)];
        h[k][field] = null;
      } else {
        h[k] = null;
      }
      return join(JSON.stringify(h), data);
    }
    case "number": {
      const spots = [...text.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)];
      const s = spots[pick(spots.length)];
      return join(text.slice(0, s.index) + NUMBERS[pick(NUMBERS.length)] + text.slice(s.index! + s[0].length), data);
    }
    case "edit config": {
      const h = JSON.parse(text);
      const meta = h.__metadata__ ?? {};
      const keys = Object.keys(meta);
      if (keys.length === 0) return join(JSON.stringify({ ...h, __metadata__: { config: "{" } }), data);
      const k = keys[pick(keys.length)];
      const v: string = meta[k];
      const i = pick(v.length + 1);
      meta[k] = v.slice(0, i) + CHARS[pick(CHARS.length)] + v.slice(i + 1);
      return join(JSON.stringify(h), data);
    }
  }
}

interface Tally {
  files: number;
  loaded: number;
  named: number;
  crashes: string[];
  acceptedDataFlips: number;
  slowestMs: number;
  byMutation: Record<string, number>;
}

async function fuzz(name: string, base: Uint8Array, count: number, seed: number, load: (b: Uint8Array) => Promise<{ dispose(): void }>,
  checksummed: boolean): Promise<Tally> {
  const r = rng(seed);
  const t: Tally = { files: 0, loaded: 0, named: 0, crashes: [], acceptedDataFlips: 0, slowestMs: 0, byMutation: {} };
  for (let i = 0; i < count; i++) {
    const m = MUTATIONS[i % MUTATIONS.length];
    const bytes = mutate(base, m, r);
    const t0 = performance.now();
    try {
      const model = await load(bytes);
      t.loaded++;
      if (m === "flip data" && checksummed) t.acceptedDataFlips++;
      model.dispose();
    } catch (e) {
      if (e instanceof Error && e.message.startsWith(`${name}:`)) t.named++;
      else t.crashes.push(`${m}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`.slice(0, 300));
    }
    t.slowestMs = Math.max(t.slowestMs, performance.now() - t0);
    t.files++;
    t.byMutation[m] = (t.byMutation[m] ?? 0) + 1;
  }
  return t;
}

describe("fuzzing the model loaders", () => {
  it("2,400 mutated VAE files (plain, IAF flow, categorical; with and without checksum): 0 crashes, 0 hangs, 0 accepted data flips where checksummed", async () => {
    const x = new Float32Array(4 * 6).map((_, i) => (i % 7) / 7);
    const files: { file: Uint8Array; checksummed: boolean; config?: object }[] = [];
    for (const opts of [{}, { flow: { type: "iaf" as const, length: 2 } }, { latent: { type: "categorical" as const, variables: 2, categories: 3 } }]) {
      const v = await VAE.create({ inputDim: 6, hidden: [4], seed: 1, ...("latent" in opts ? {} : { latentDim: 2 }), ...opts });
      v.trainStep(x);
      files.push({ file: v.save(), checksummed: true });
      v.dispose();
    }
    // a foreign file: no metadata, no checksum, loaded with the configuration given
    const { encodeSafetensors } = await import("../../src/index.js");
    const v = await VAE.create({ inputDim: 6, latentDim: 2, hidden: [4], seed: 2 });
    const config = { inputDim: 6, latentDim: 2, hidden: [4] };
    files.push({ file: encodeSafetensors(Object.entries(v.stateDict()).map(([name, d]) => ({ name, shape: v.parameterShapes[name], data: d })), {}, { checksum: false }), checksummed: false, config });
    const totals: Tally[] = [];
    for (const [i, f] of files.entries()) {
      totals.push(await fuzz("VAE.load", f.file, 600, 1000 + i, (b) => VAE.load(b, f.config ? { config: f.config } : {}), f.checksummed));
    }
    const sum = (k: "files" | "loaded" | "named" | "acceptedDataFlips") => totals.reduce((a, t) => a + t[k], 0);
    const crashes = totals.flatMap((t) => t.crashes);
    console.log(`VAE.load fuzz: ${sum("files")} files, ${sum("named")} refused with a named error, ${sum("loaded")} loaded, ` +
      `${crashes.length} crashes, ${sum("acceptedDataFlips")} accepted data flips in checksummed files, slowest ${Math.max(...totals.map((t) => t.slowestMs)).toFixed(0)} ms`);
    expect(sum("files")).toBeGreaterThanOrEqual(2000);
    expect(crashes.slice(0, 5)).toEqual([]);
    expect(sum("acceptedDataFlips")).toBe(0);
    expect(Math.max(...totals.map((t) => t.slowestMs))).toBeLessThan(10_000); // (a hang would time out the test)
    // the files that loaded after a mutation are those whose change does not matter (whitespace, metadata the
    // loader does not read, a foreign file's data); most are refused
    expect(sum("named")).toBeGreaterThan(sum("loaded"));
  }, 300_000);

  it("600 mutated M2 files: 0 crashes, 0 hangs, 0 accepted data flips", async () => {
    const m = await SemiSupervisedVAE.create({ inputDim: 6, classes: 3, latentDim: 2, hidden: [4], seed: 1 });
    const t = await fuzz("SemiSupervisedVAE.load", m.save(), 600, 7, (b) => SemiSupervisedVAE.load(b), true);
    console.log(`SemiSupervisedVAE.load fuzz: ${t.files} files, ${t.named} refused with a named error, ${t.loaded} loaded, ${t.crashes.length} crashes, ` +
      `${t.acceptedDataFlips} accepted data flips, slowest ${t.slowestMs.toFixed(0)} ms`);
    expect(t.crashes.slice(0, 5)).toEqual([]);
    expect(t.acceptedDataFlips).toBe(0);
    expect(t.slowestMs).toBeLessThan(10_000);
  }, 120_000);
});
