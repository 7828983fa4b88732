// The command line as a user runs it (the built dist/src/cli.js; `npm test` builds first):
// train → model file → eval, the demo's pictures, and usage errors with exit code 2.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LatentFeatures, SemiSupervisedVAE, VAE, loadMnist, takeRows } from "../../dist/src/index.js";
import { decodePng } from "../../dist/src/pictures/image.js";

const CLI = new URL("../../dist/src/cli.js", import.meta.url).pathname;
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });

describe("vae-wasm CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "vae-cli-"));
  const model = join(dir, "m.safetensors");

  it("is built (run `npm run build` before vitest alone)", () => {
    expect(existsSync(CLI), `${CLI} missing`).toBe(true);
  });

  it("train --json trains, reports the test loss and writes a loadable model", async () => {
    const r = cli("train", "--train-size", "300", "--test-size", "100", "--epochs", "2", "--batch-size", "50", "--hidden", "32", "--latent", "4", "--json", "--quiet", "--out", model);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.history).toHaveLength(2);
    expect(out.steps).toBe(12);
    expect(Number.isFinite(out.test.loss)).toBe(true);
    expect(out.test.loss).toBeGreaterThan(0);
    const vae = await VAE.load(readFileSync(model));
    expect(vae.config.hidden).toEqual([32]);
    expect(vae.stepCount).toBe(12);
    expect(vae.config.latentDim).toBe(4);
    // the reported test loss is the saved model's negative ELBO on those 100 test images
    const { test } = await loadMnist();
    expect(-vae.elbo(takeRows(test, 100), { seed: 1 })).toBe(out.test.loss);
  });

  it("train --lr-end: the learning rate falls geometrically over the epochs, as fit() with that schedule", async () => {
    const file = join(dir, "lr-end.safetensors");
    const r = cli("train", "--train-size", "300", "--test-size", "100", "--epochs", "3", "--batch-size", "50", "--hidden", "32", "--latent", "4",
      "--lr", "2e-3", "--lr-end", "2e-5", "--json", "--quiet", "--out", file);
    expect(r.status, r.stderr).toBe(0);
    const { train, test } = await loadMnist();
    const vae = await VAE.create({ inputDim: 784, hidden: [32], latentDim: 4, seed: 1 });
    await vae.fit(takeRows(train, 300), { epochs: 3, batchSize: 50, learningRate: (e) => 2e-3 * 0.01 ** (e / 3), validationData: takeRows(test, 100) });
    const cliModel = await VAE.load(readFileSync(file));
    expect(cliModel.stateDict()).toEqual(vae.stateDict());
    // (and not the constant rate's model)
    const constant = await VAE.create({ inputDim: 784, hidden: [32], latentDim: 4, seed: 1 });
    await constant.fit(takeRows(train, 300), { epochs: 3, batchSize: 50, learningRate: 2e-3 });
    expect(constant.stateDict()["encoder.mu.bias"]).not.toEqual(vae.stateDict()["encoder.mu.bias"]);
    for (const m of [vae, cliModel, constant]) m.dispose();
    expect(cli("train", "--preset", "iwae-mnist", "--lr-end", "1e-5").stderr).toMatch(/--lr-end is set by --preset iwae-mnist/);
    expect(cli("train", "--lr-end", "0").stderr).toMatch(/--lr-end must be a number ≥ 1e-12; got '0'/);
  });

  it("train --build relaxed runs the relaxed (FMA) build, on Node 20 too (the CLI switches V8's flag on)", () => {
    const r = cli("train", "--train-size", "200", "--test-size", "50", "--epochs", "1", "--batch-size", "50", "--hidden", "16", "--latent", "2",
      "--build", "relaxed", "--threads", "2", "--json", "--quiet", "--out", join(dir, "relaxed.safetensors"));
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.build).toBe("relaxed");
    expect(Number.isFinite(out.test.loss)).toBe(true);
  });

  it("train --categorical trains a Gumbel-softmax model (annealed, straight-through); its options need it", async () => {
    const file = join(dir, "cat.safetensors");
    const r = cli("train", "--categorical", "5x4", "--temperature", "0.8", "--anneal", "1e-3", "--straight-through", "--train-size", "200",
      "--test-size", "50", "--epochs", "2", "--batch-size", "50", "--hidden", "32", "--binarize", "--json", "--quiet", "--out", file);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.config.latent).toEqual({ type: "categorical", variables: 5, categories: 4 });
    expect(out.config.latentDim).toBe(20);
    expect(Number.isFinite(out.test.loss)).toBe(true);
    expect((await VAE.load(readFileSync(file))).config.latent.type).toBe("categorical");
    const bad = cli("train", "--temperature", "0.5", "--epochs", "1");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--temperature applies to a categorical latent only \(add --categorical NxC\)/);
    const shape = cli("train", "--categorical", "30", "--epochs", "1");
    expect(shape.status).toBe(2);
    expect(shape.stderr).toMatch(/--categorical must be VARIABLESxCATEGORIES/);
  });

  it("train --input-shape/--encoder/--decoder trains a convolutional model, eval reads it; bad layer lists are refused", async () => {
    const file = join(dir, "conv.safetensors");
    const r = cli("train", "--input-shape", "1x28x28", "--encoder", "conv:4:4:2:1,conv:8:4:2:1,flatten", "--decoder", "dense:392,unflatten:8x7x7,convT:4:4:2:1,convT:1:4:2:1",
      "--latent", "4", "--train-size", "200", "--test-size", "50", "--epochs", "1", "--batch-size", "50", "--eval-samples", "8", "--json", "--quiet", "--out", file);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.config.inputShape).toEqual([1, 28, 28]);
    expect(out.config.encoder[1]).toEqual({ type: "conv", out: 8, kernel: [4, 4], stride: [2, 2], padding: [1, 1], activation: "relu" });
    expect(Number.isFinite(out.test.loss)).toBe(true);
    const ev = cli("eval", file, "--test-size", "20", "--samples", "8", "--bounds", "1,4", "--json", "--quiet");
    expect(ev.status, ev.stderr).toBe(0);
    expect(Number.isFinite(JSON.parse(ev.stdout).nll)).toBe(true);
    const bad: [string[], RegExp][] = [
      [["--encoder", "conv:4:4:2:1,flatten"], /--encoder and --decoder go together/],
      [["--encoder", "pool:2", "--decoder", "dense:784"], /--encoder: unknown layer 'pool:2' \(layers: conv:OUT:K\[:S\[:P\]\]/],
      [["--encoder", "conv:4:x", "--decoder", "dense:784"], /--encoder: 'conv:4:x' needs integers ≥ 1 where it has 'x'/],
      [["--input-shape", "28x28", "--encoder", "flatten", "--decoder", "dense:784"], /--input-shape must be CxHxW/],
      [["--input-shape", "1x28x28", "--encoder", "conv:4:4:3:1,flatten", "--decoder", "dense:784,unflatten:1x28x28"], /options\.encoder\[0\]: stride 3 does not tile the input height/],
    ];
    for (const [args, re] of bad) {
      const b = cli("train", ...args, "--epochs", "1", "--train-size", "100", "--test-size", "10", "--quiet");
      expect(b.status, args.join(" ")).not.toBe(0);
      expect(b.stderr).toMatch(re);
    }
  });

  it("train --flow trains a model with a normalizing flow (td by default), eval reads it; bad --flow is refused", async () => {
    const file = join(dir, "flow.safetensors");
    const r = cli("train", "--flow", "iaf:2", "--latent", "4", "--train-size", "200", "--test-size", "50", "--epochs", "2", "--batch-size", "50",
      "--hidden", "32", "--binarize", "--eval-samples", "16", "--json", "--quiet", "--out", file);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.config.flow).toEqual({ type: "iaf", length: 2, hidden: 16 });
    expect(out.training.estimator).toBe("td");
    expect(Number.isFinite(out.test.loss)).toBe(true);
    const ev = cli("eval", file, "--test-size", "20", "--samples", "16", "--bounds", "1,4", "--json", "--quiet");
    expect(ev.status, ev.stderr).toBe(0);
    expect(Number.isFinite(JSON.parse(ev.stdout).nll)).toBe(true);
    const bad = cli("train", "--flow", "planar", "--epochs", "1");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--flow must be TYPE:LENGTH/);
    const est = cli("train", "--flow", "radial:2", "--estimator", "stl", "--train-size", "100", "--test-size", "10", "--epochs", "1", "--quiet");
    expect(est.status).not.toBe(0);
    expect(est.stderr).toMatch(/'td' or 'iwae' for a model with a radial flow/);
  });

  it("semi trains M2 with N labels, reports test accuracy, writes the conditional generation picture and the model", async () => {
    const file = join(dir, "m2.safetensors");
    const r = cli("semi", "--labels", "50", "--train-size", "1000", "--test-size", "200", "--epochs", "2", "--hidden", "64", "--latent", "8",
      "--beta", "2", "--json", "--quiet", "--out", file, "--out-dir", dir);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.labels).toBe(50);
    expect(out.unlabelled).toBe(950);
    expect(out.beta).toBe(2);
    expect(out.testAccuracy).toBeGreaterThan(0.1); // above chance after 2 short epochs
    const png = decodePng(readFileSync(join(dir, "m2-generation.png")));
    const tile = (28 + 2) * 2;
    expect([png.width, png.height]).toEqual([10 * tile + 4, 8 * tile + 4]); // 10 classes × 8 draws of z
    const m = await SemiSupervisedVAE.load(readFileSync(file));
    expect(m.config.latentDim).toBe(8);
    m.dispose();
    // on two threads: the same run, bit for bit (history, accuracy, the model file), β included
    const file2 = join(dir, "m2-2t.safetensors");
    const r2 = cli("semi", "--labels", "50", "--train-size", "1000", "--test-size", "200", "--epochs", "2", "--hidden", "64", "--latent", "8",
      "--beta", "2", "--json", "--quiet", "--out", file2, "--out-dir", dir, "--threads", "2");
    expect(r2.status, r2.stderr).toBe(0);
    const out2 = JSON.parse(r2.stdout);
    const noTime = (h: { seconds: number }[]) => h.map((e) => ({ ...e, seconds: 0 }));
    expect(noTime(out2.history)).toEqual(noTime(out.history));
    expect(out2.testAccuracy).toBe(out.testAccuracy);
    expect(readFileSync(file2).equals(readFileSync(file))).toBe(true);
    const bad = cli("semi", "--labels", "55", "--epochs", "1");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--labels must be a multiple of the 10 classes and at most half the 60000 training rows; got 55/);
    expect(cli("train", "--alpha", "3").stderr).toMatch(/--alpha is not an option of train \(it is one of semi\)/);
  }, 60_000);

  it("semi --features trains M1+M2: a Gaussian M2 on the VAE's standardised active units, its picture decoded by the VAE", async () => {
    const file = join(dir, "m1m2.safetensors");
    const r = cli("semi", "--features", model, "--labels", "50", "--train-size", "1000", "--test-size", "200", "--epochs", "2", "--hidden", "32",
      "--latent", "4", "--lr-end", "1e-4", "--json", "--quiet", "--out", file, "--out-dir", dir);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.features).toBe(model);
    expect(out.learningRateEnd).toBe(1e-4);
    const vae = await VAE.load(readFileSync(model));
    const { train } = await loadMnist();
    expect(out.activeUnits).toEqual(Array.from(LatentFeatures.fit(vae, takeRows(train, 1000)).units));
    vae.dispose();
    expect(out.testAccuracy).toBeGreaterThan(0.1);
    const m = await SemiSupervisedVAE.load(readFileSync(file));
    expect(m.config.likelihood).toEqual({ type: "gaussian", variance: 1, learnVariance: true });
    expect(m.config.inputDim).toBe(out.activeUnits.length);
    m.dispose();
    // the picture: 10 classes × 8 draws, images from the VAE's decoder
    const png = decodePng(readFileSync(join(dir, "m2-generation.png")));
    expect([png.width, png.height]).toEqual([10 * 60 + 4, 8 * 60 + 4]);
    const bad = cli("semi", "--features", model, "--binarize", "--epochs", "1");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--binarize applies to M2 on pixels; with --features M2 learns from real-valued features/);
    const missing = cli("semi", "--features", join(dir, "nothing.safetensors"), "--epochs", "1");
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/cannot read model '.*nothing.safetensors'/);
  }, 60_000);

  it("eval --json reports NLL, ELBO, IWAE bounds and active units for that model", () => {
    const r = cli("eval", model, "--test-size", "50", "--samples", "64", "--bounds", "1,8", "--json", "--quiet");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.images).toBe(50);
    expect(out.samples).toBe(64);
    for (const v of [out.nll, out.elbo, out.iwaeBounds["1"], out.iwaeBounds["8"]]) expect(Number.isFinite(v)).toBe(true);
    expect(out.activeUnits).toBeGreaterThanOrEqual(0);
    expect(out.activeUnits).toBeLessThanOrEqual(4);
  });

  it("eval --test-from/--test-size evaluates exactly that slice of the test rows", () => {
    // rows 3..6 of a CSV, by slicing and as a file of their own: the same numbers, bit for bit
    const rows = Array.from({ length: 10 }, (_, r) => Array.from({ length: 784 }, (_, c) => ((r * 7919 + c * 104729) % 1000) / 999).join(","));
    writeFileSync(join(dir, "all.csv"), rows.join("\n") + "\n");
    writeFileSync(join(dir, "part.csv"), rows.slice(3, 7).join("\n") + "\n");
    const flags = ["--samples", "16", "--bounds", "1", "--json", "--quiet"];
    const slice = cli("eval", model, "--data", join(dir, "all.csv"), "--test-from", "3", "--test-size", "4", ...flags);
    const part = cli("eval", model, "--data", join(dir, "part.csv"), ...flags);
    const whole = cli("eval", model, "--data", join(dir, "all.csv"), ...flags);
    for (const r of [slice, part, whole]) expect(r.status, r.stderr).toBe(0);
    const [a, b, c] = [slice, part, whole].map((r) => JSON.parse(r.stdout));
    expect(a.images).toBe(4);
    expect(c.images).toBe(10);
    for (const key of ["nll", "nllStandardError", "elbo", "activeUnits"]) expect(a[key], key).toBe(b[key]);
    expect(a.nll).not.toBe(c.nll);
    const past = cli("eval", model, "--data", join(dir, "all.csv"), "--test-from", "10");
    expect(past.status).toBe(2);
    expect(past.stderr).toMatch(/--test-from 10 skips all 10 test rows/);
  });

  it("variance --json compares estimators' gradient statistics on the model", () => {
    const r = cli("variance", model, "--test-size", "20", "--draws", "6", "--samples", "2", "--estimators", "td,stl,dreg", "--json", "--quiet");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.reference).toBe("td");
    expect(Object.keys(out.estimators)).toEqual(["td", "stl", "dreg"]);
    for (const e of ["td", "stl", "dreg"]) expect(out.estimators[e].encoder.varianceTrace).toBeGreaterThan(0);
    const text = cli("variance", model, "--test-size", "20", "--draws", "6", "--quiet");
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/encoder variance stl\/td: \d+\.\d{4}/);
  });

  it("sample and reconstruct write PNG grids from a saved model", () => {
    const s = cli("sample", model, "--count", "16", "--out", join(dir, "s.png"));
    expect(s.status, s.stderr).toBe(0);
    const tile = (28 + 2) * 2;
    const img = decodePng(readFileSync(join(dir, "s.png")));
    expect([img.width, img.height]).toEqual([8 * tile + 4, 2 * tile + 4]);
    const r = cli("reconstruct", model, "--count", "8", "--out", join(dir, "r.png"));
    expect(r.status, r.stderr).toBe(0);
    const rec = decodePng(readFileSync(join(dir, "r.png")));
    expect([rec.width, rec.height]).toEqual([8 * tile + 4, 2 * tile + 4]);
  });

  it("demo writes samples and reconstructions as 8-column PNG grids", () => {
    const outDir = join(dir, "demo");
    const r = cli("demo", "--train-size", "200", "--test-size", "50", "--epochs", "1", "--hidden", "16", "--latent", "2", "--out-dir", outDir, "--quiet");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/test loss \(negative ELBO per image, nats\): \d+\.\d\d/);
    const tile = (28 + 2) * 2;
    const samples = decodePng(readFileSync(join(outDir, "samples.png")));
    expect([samples.width, samples.height]).toEqual([8 * tile + 4, 8 * tile + 4]);
    const rec = decodePng(readFileSync(join(outDir, "reconstructions.png")));
    expect([rec.width, rec.height]).toEqual([8 * tile + 4, 8 * tile + 4]);
    expect(existsSync(join(outDir, "model.safetensors"))).toBe(true);
  });

  it.each([
    [["train", "--lr", "abc"], /--lr must be a number ≥ 0; got 'abc'/],
    [["train", "--estimator", "iwea"], /--estimator must be one of analytic, td, stl, iwae, iwae-stl, dreg, score; got 'iwea'/],
    [["train", "--preset", "iwae-mnist", "--epochs", "3"], /--epochs is set by --preset iwae-mnist; use --stages/],
    [["train", "--preset", "mnist-2000"], /--preset must be one of iwae-mnist, conv-mnist; got 'mnist-2000'/],
    [["train", "--preset", "conv-mnist", "--hidden", "400"], /--hidden is set by --preset conv-mnist\n/],
    [["train", "--preset", "conv-mnist", "--stages", "2"], /--stages applies to a preset with a schedule \(iwae-mnist\); --preset conv-mnist takes --epochs/],
    [["train", "--bogus"], /unknown flag --bogus\n/],
    [["train", "--epoch", "3"], /unknown flag --epoch; did you mean --epochs\?/],
    [["sample", "m.safetensors", "--epochs", "3"], /--epochs is not an option of sample \(it is one of train, demo, semi, figures\); see vae-wasm sample --help/],
    [["frobnicate"], /unknown command 'frobnicate'; the commands are demo, train, eval/],
    [["eval"], /eval needs the model file/],
    [["variance", "m.safetensors", "--estimators", "td,reinforce"], /--estimators must list names from analytic, td/],
    [["fly"], /unknown command 'fly'/],
  ])("usage error %j exits 2 with a message", (args, message) => {
    const r = cli(...(args as string[]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
  });

  it("every command explains itself: COMMAND --help lists its flags with defaults and an example; --version", () => {
    for (const command of ["demo", "train", "eval", "variance", "figures", "semi", "sample", "reconstruct"]) {
      const r = cli(command, "--help");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^vae-wasm ${command}`));
      expect(r.stdout).toMatch(new RegExp(`Example:\\n  vae-wasm ${command} `));
      expect(r.stdout).toMatch(/--seed N +seed for initialisation, shuffling and noise \(default 1\)/);
      // only its own flags
      if (command !== "semi") expect(r.stdout).not.toMatch(/--labels/);
    }
    expect(cli("train", "--help").stdout).toMatch(/--epochs N +passes over the training data \(default 10\)/);
    expect(cli("help", "eval").stdout).toBe(cli("eval", "--help").stdout);
    const v = cli("--version");
    expect(v.stdout).toBe(`vae-wasm ${JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version}\n`);
  });

  it("every flag the README shows exists, for the command it is shown with", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const help = cli("help").stdout;
    const flags = new Set([...readme.matchAll(/(?<![\w-])--([a-z][a-z-]+)/g)].map((m) => m[1]));
    // (npm's own flags, in the install lines)
    for (const npmFlag of ["no-audit", "no-fund"]) flags.delete(npmFlag);
    const missing = [...flags].filter((f) => !new RegExp(`\\n  --${f}\\b`).test(help));
    expect(missing).toEqual([]);
    // each command line in the README parses (run with --help appended: nothing trains)
    const lines = [...readme.matchAll(/^(?:node dist\/src\/cli\.js|vae-wasm) (\w+)([^\n#]*)/gm)];
    expect(lines.length).toBeGreaterThan(15);
    for (const [line, command, rest] of lines) {
      if (command === "help") continue;
      const r = cli(command, ...rest.trim().split(/\s+/).filter((t) => t !== ""), "--help");
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
    }
  });

  it("a missing model file is reported, exit 1", () => {
    const r = cli("eval", join(dir, "nope.safetensors"));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot read model '.*nope\.safetensors': ENOENT/);
  });
});
