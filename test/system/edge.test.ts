// The package inside Cloudflare's real runtime: workerd (the npm package ships the binary).
// A worker imports "vae-wasm" the way a Workers project does (the bundler picks the `workerd`
// export condition; the .wasm arrives as a precompiled WebAssembly.Module, since workerd refuses
// to compile from bytes), creates a model, encodes, decodes and trains a step; the test checks
// the numbers bit for bit against Node running the same build.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VAE } from "../../dist/src/index.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const WORKERD = join(ROOT, "node_modules/.bin/workerd");

const WORKER = `
import wasm from "vae-wasm/wasm/vae.simd.wasm";
import { VAE, provideModule, supportedBuilds } from "vae-wasm";
provideModule(wasm, { build: "simd" });
export default {
  async fetch(request) {
    try {
      const { D, x, seed } = await request.json();
      const data = Float32Array.from(x);
      const vae = await VAE.create({ inputDim: D, latentDim: 3, hidden: [16], seed });
      const { mu, logvar } = vae.encode(data);
      const decoded = vae.decode(mu);
      const loss = vae.trainStep(data, { estimator: "iwae", samples: 4 });
      const after = vae.encode(data).mu;
      return Response.json({
        build: vae.build, builds: supportedBuilds(), mu: [...mu], logvar: [...logvar], decoded: [...decoded], loss, after: [...after],
      });
    } catch (e) {
      return new Response(String(e && e.stack || e), { status: 500 });
    }
  },
};
`;

const freePort = () => new Promise<number>((resolve, reject) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  });
  s.on("error", reject);
});

describe("edge runtime (Cloudflare workerd)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vae-workerd-"));
  let proc: ChildProcess | null = null;
  let port = 0;
  let log = "";
  let inputs: string[] = [];

  beforeAll(async () => {
    // a project that depends on the package: node_modules/vae-wasm → this repository
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(ROOT, join(dir, "node_modules/vae-wasm"), "dir");
    writeFileSync(join(dir, "src.js"), WORKER);
    const esbuild = await import("esbuild");
    // what wrangler does: bundle for workerd's conditions, keep the .wasm as a module of its own
    const built = await esbuild.build({
      metafile: true,
      entryPoints: [join(dir, "src.js")], outfile: join(dir, "worker.js"), bundle: true, format: "esm", platform: "neutral",
      conditions: ["workerd", "worker", "browser"], mainFields: ["module", "main"], external: ["node:*"], logLevel: "error",
      plugins: [{
        name: "wasm-module",
        setup(b) {
          b.onResolve({ filter: /\.wasm$/ }, (args) => ({ path: "./" + args.path.split("/").pop(), external: true }));
        },
      }],
    });
    inputs = Object.keys(built.metafile!.inputs);
    copyFileSync(join(ROOT, "dist/build/vae.simd.wasm"), join(dir, "vae.simd.wasm"));
    port = await freePort();
    writeFileSync(join(dir, "config.capnp"), `
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .vaeWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const vaeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "vae.simd.wasm", wasm = embed "vae.simd.wasm"),
  ],
  compatibilityDate = "2026-01-01",
);
`);
    proc = spawn(WORKERD, ["serve", join(dir, "config.capnp")], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    proc.stdout!.on("data", (d) => (log += d));
    proc.stderr!.on("data", (d) => (log += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" });
        break;
      } catch {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`workerd did not start:\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 60_000);

  afterAll(() => {
    proc?.kill();
  });

  it("the bundler picked the package's edge entry (the `workerd` export condition)", () => {
    expect(inputs.some((f) => f.endsWith("dist/src/edge.js")), inputs.join("\n")).toBe(true);
    expect(inputs.some((f) => f.endsWith("dist/src/index.js"))).toBe(false);
  });

  it("encodes, decodes and trains a step inside workerd with the same bits as Node", async () => {
    const D = 20, seed = 7;
    const x = Array.from({ length: 6 * D }, (_, i) => ((i * 2654435761) >>> 0) / 4294967296);
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: JSON.stringify({ D, x, seed }) });
    const text = await res.text();
    expect(res.status, text + log).toBe(200);
    const edge = JSON.parse(text);
    expect(edge.build).toBe("simd");

    const vae = await VAE.create({ inputDim: D, latentDim: 3, hidden: [16], seed, build: "simd" });
    const data = Float32Array.from(x);
    const { mu, logvar } = vae.encode(data);
    expect(edge.mu).toEqual([...mu]);
    expect(edge.logvar).toEqual([...logvar]);
    expect(edge.decoded).toEqual([...vae.decode(mu)]);
    expect(edge.loss).toBe(vae.trainStep(data, { estimator: "iwae", samples: 4 }));
    expect(edge.after).toEqual([...vae.encode(data).mu]);
    expect(edge.after).not.toEqual(edge.mu); // the step changed the encoder
    vae.dispose();
  });
});
