// The command line on your own data, as a new user runs it: the README's "Your own data" commands
// on a CSV the test writes; a run stopped with Ctrl-C and resumed from its checkpoint ends with
// the uninterrupted run's weights; a folder of PNG images trains and reconstructs as pictures of
// its own size; data a Bernoulli decoder cannot model is refused with what to do.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pngjs from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSafetensors, VAE } from "../../dist/src/index.js";
import { decodePng } from "../../dist/src/pictures/image.js";

const CLI = new URL("../../dist/src/cli.js", import.meta.url).pathname;
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const dir = mkdtempSync(join(tmpdir(), "vae-own-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, cwd: dir });

/** A CSV of 600 rows × 16 values in [0, 1] with a header: four noisy prototypes. */
function writeCsv(file: string): void {
  const lines = [Array.from({ length: 16 }, (_, j) => `p${j}`).join(",")];
  for (let i = 0; i < 600; i++) lines.push(Array.from({ length: 16 }, (_, j) => (j % 4 === i % 4 ? 0.9 : 0.1) + ((i * 7 + j * 3) % 10) / 100).map((v) => v.toFixed(3)).join(","));
  writeFileSync(file, lines.join("\n") + "\n");
}

/** Every tensor of two model files equal, bit for bit. */
function sameWeights(a: string, b: string): boolean {
  const [x, y] = [a, b].map((f) => decodeSafetensors(readFileSync(join(dir, f))).tensors);
  return x.size === y.size && [...x].every(([k, t]) => Buffer.compare(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    Buffer.from(y.get(k)!.data.buffer, y.get(k)!.data.byteOffset, y.get(k)!.data.byteLength)) === 0);
}

describe("vae-wasm on your own data", () => {
  writeCsv(join(dir, "my.csv"));

  it("the README's commands run as written on a CSV", () => {
    const block = /## Your own data[\s\S]*?```sh\n([\s\S]*?)```/.exec(README)![1];
    const commands = block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l.startsWith("vae-wasm "));
    expect(commands.length).toBe(3);
    for (const c of commands) {
      const r = cli(...c.split(/\s+/).slice(1));
      expect(r.status, `${c}\n${r.stderr}`).toBe(0);
    }
    const ck = decodeSafetensors(readFileSync(join(dir, "run.ckpt")));
    expect(JSON.parse(ck.metadata.checkpoint).run.position.epoch).toBe(60);
    expect(Number(ck.metadata.steps)).toBe(60 * Math.ceil(540 / 32));
  }, 120_000);

  it("traverse and interpolate draw the model's latent space as pictures of its rows, with a legend", () => {
    // (the README's model: 16 values per row, drawn as 4×4; 2 latent dimensions)
    const t = cli("traverse", "model.safetensors", "--data", "my.csv", "--steps", "5", "--out", "t.png");
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/rows: latent dimensions by KL, most used first[\s\S]*z[01]: KL \d+\.\d+ nats, activity[\s\S]*columns: z = -1\.64, -0\.60, 0\.00, 0\.60, 1\.64/);
    const tp = decodePng(readFileSync(join(dir, "t.png")));
    expect([tp.width, tp.height]).toEqual([(6 * 6 + 2) * 2, (2 * 6 + 2) * 2]);
    const i = cli("interpolate", "model.safetensors", "--data", "my.csv", "--count", "2", "--steps", "4", "--out", "i.png");
    expect(i.status, i.stderr).toBe(0);
    const ip = decodePng(readFileSync(join(dir, "i.png")));
    expect([ip.width, ip.height]).toEqual([(6 * 6 + 2) * 2, (4 * 6 + 2) * 2]);
    const flow = cli("train", "--data", "my.csv", "--epochs", "1", "--hidden", "8", "--latent", "2", "--flow", "planar:1", "--out", "f.safetensors", "--quiet");
    expect(flow.status, flow.stderr).toBe(0);
    expect(cli("traverse", "f.safetensors", "--data", "my.csv").stderr).toMatch(/VAE\.traversal: this model has a planar flow on q\(z\|x\); VAE\.traversal needs a Gaussian latent without one/);
  }, 60_000);

  it("Ctrl-C writes a checkpoint; --resume in a new process ends with the uninterrupted run's weights", async () => {
    const flags = ["--data", "my.csv", "--epochs", "150", "--batch-size", "8", "--hidden", "128", "--latent", "2"];
    expect(cli("train", ...flags, "--out", "full.safetensors", "--quiet").status).toBe(0);
    const child = spawn(process.execPath, [CLI, "train", ...flags, "--out", "part.safetensors"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let err = "", out = "", sent = false;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      err += d;
      if (!sent && /epoch\s+5\s/.test(err)) {
        sent = true; // (once: a second Ctrl-C ends the process at once, as in a shell)
        child.kill("SIGINT");
      }
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code, err).toBe(130);
    expect(out).toMatch(/continue the run with: vae-wasm train --resume part\.checkpoint\.safetensors/);
    const epochsDone = JSON.parse(decodeSafetensors(readFileSync(join(dir, "part.checkpoint.safetensors"))).metadata.checkpoint).run.position.epoch;
    expect(epochsDone).toBeGreaterThanOrEqual(5);
    expect(epochsDone).toBeLessThan(150); // (it did stop part-way)
    expect(sameWeights("full.safetensors", "part.safetensors")).toBe(false);
    const r = cli("train", "--resume", "part.checkpoint.safetensors", "--out", "resumed.safetensors", "--quiet");
    expect(r.status, r.stderr).toBe(0);
    expect(sameWeights("full.safetensors", "resumed.safetensors")).toBe(true);
    // a plain model file is not a checkpoint
    const bad = cli("train", "--resume", "full.safetensors");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--resume: 'full\.safetensors' is a model file, not a checkpoint/);
  }, 120_000);

  it("a folder of RGB PNG images trains, and reconstruct draws pictures of their size and colours", async () => {
    const folder = join(dir, "faces");
    mkdirSync(folder);
    for (let i = 0; i < 40; i++) {
      const png = new pngjs.PNG({ width: 6, height: 4 });
      for (let p = 0; p < 24; p++) png.data.set([(i * 9 + p * 5) % 256, (p * 10) % 256, 200, 255], 4 * p);
      writeFileSync(join(folder, `${i}.png`), pngjs.PNG.sync.write(png, { colorType: 2 }));
    }
    const t = cli("train", "--data", "faces", "--epochs", "2", "--batch-size", "8", "--hidden", "16", "--latent", "2", "--out", "faces.safetensors", "--quiet");
    expect(t.status, t.stderr).toBe(0);
    expect((await VAE.load(readFileSync(join(dir, "faces.safetensors")))).config.inputDim).toBe(72);
    const r = cli("reconstruct", "faces.safetensors", "--data", "faces", "--count", "8", "--out", "faces.png");
    expect(r.status, r.stderr).toBe(0);
    const png = decodePng(readFileSync(join(dir, "faces.png")));
    // 8 columns × 2 rows (inputs, reconstructions) of 6×4 tiles with 2-pixel gaps, doubled
    expect([png.width, png.height]).toEqual([(8 * 8 + 2) * 2, (2 * 6 + 2) * 2]);
    // the first input tile's first pixel, in colour
    const o = (2 * 2 * png.width + 2 * 2) * 4;
    expect(Array.from(png.rgba.subarray(o, o + 3))).toEqual([0, 0, 200]);
  }, 120_000);

  it("semi trains M2 on a CSV with a label column: --label-column names it, --labels N picks N/C per class", () => {
    const lines = ["label," + Array.from({ length: 16 }, (_, j) => `p${j}`).join(",")];
    for (let i = 0; i < 400; i++) lines.push(`${i % 4},` + Array.from({ length: 16 }, (_, j) => (j % 4 === i % 4 ? 0.9 : 0.1) + ((i * 7 + j * 3) % 10) / 100).map((v) => v.toFixed(3)).join(","));
    writeFileSync(join(dir, "labelled.csv"), lines.join("\n") + "\n");
    const r = cli("semi", "--data", "labelled.csv", "--label-column", "label", "--labels", "8", "--epochs", "3", "--hidden", "16", "--latent", "2",
      "--batch-size", "20", "--json", "--quiet", "--out", "semi.safetensors", "--out-dir", "semi-out");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect([out.labels, out.unlabelled, out.testImages, out.config.classes]).toEqual([8, 352, 40, 4]);
    expect(out.testAccuracy).toBeGreaterThan(0.5); // (four well-separated prototypes; chance is 0.25)
    expect(decodePng(readFileSync(join(dir, "semi-out", "m2-generation.png"))).width).toBe((4 * 6 + 2) * 2);
    const none = cli("semi", "--data", "my.csv", "--epochs", "1");
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/semi needs class labels: give the CSV column that holds them with --label-column C/);
  }, 60_000);

  it("data a Bernoulli decoder cannot model is refused with what to do; --likelihood gaussian trains on it", () => {
    writeFileSync(join(dir, "wide.csv"), "1,2,3\n4,5,6\n7,8,9\n10,11,12\n");
    const r = cli("train", "--data", "wide.csv", "--epochs", "1", "--hidden", "4", "--latent", "1");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/wide\.csv row 1, column 2 holds 2, outside \[0, 1\], which a Bernoulli decoder \(the default\) cannot model: train with --likelihood gaussian, or scale/);
    const g = cli("train", "--data", "wide.csv", "--epochs", "1", "--hidden", "4", "--latent", "1", "--likelihood", "gaussian", "--batch-size", "2", "--out", "g.safetensors", "--quiet");
    expect(g.status, g.stderr).toBe(0);
    const bad = cli("train", "--data", "missing.csv");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/loadDataset: cannot read 'missing\.csv': no such file or folder/);
  }, 60_000);
});
