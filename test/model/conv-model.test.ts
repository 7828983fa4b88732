// Convolutional VAEs through the public API: the conv-mnist preset's tensors carry PyTorch's
// names-by-index and layouts (nn.Conv2d [out, in, kh, kw], nn.ConvTranspose2d [in, out, kh, kw])
// and its initialisation bounds; files round-trip without a config; bad layer lists are refused
// with the layer, what was expected and what was found. (Gradients: estimators.test.ts; threads:
// threads.test.ts.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VAE, PRESETS, type VAEOptions } from "../../src/index.js";
import { rng, uniform } from "../helpers/kernel-check.js";

const convMnist = PRESETS["conv-mnist"]().model;

describe("convolutional VAEs", () => {
  it("conv-mnist: tensors named by layer index in PyTorch's shapes, nn.Conv2d/ConvTranspose2d/Linear initialisation bounds", async () => {
    const vae = await VAE.create({ ...convMnist, seed: 2 });
    const shapes = Object.fromEntries(Object.entries(vae.stateDict()).map(([k, v]) => [k, v.length]));
    expect(shapes).toEqual({
      "encoder.layers.0.weight": 32 * 16, "encoder.layers.0.bias": 32,
      "encoder.layers.1.weight": 64 * 32 * 16, "encoder.layers.1.bias": 64,
      "encoder.layers.3.weight": 256 * 3136, "encoder.layers.3.bias": 256,
      "encoder.mu.weight": 20 * 256, "encoder.mu.bias": 20, "encoder.logvar.weight": 20 * 256, "encoder.logvar.bias": 20,
      "decoder.layers.0.weight": 256 * 20, "decoder.layers.0.bias": 256,
      "decoder.layers.1.weight": 3136 * 256, "decoder.layers.1.bias": 3136,
      "decoder.layers.3.weight": 64 * 32 * 16, "decoder.layers.3.bias": 32,
      "decoder.layers.4.weight": 32 * 1 * 16, "decoder.layers.4.bias": 1,
    });
    const dims = vae.parameterShapes;
    expect(dims["encoder.layers.0.weight"]).toEqual([32, 1, 4, 4]);
    expect(dims["encoder.layers.1.weight"]).toEqual([64, 32, 4, 4]);
    expect(dims["decoder.layers.3.weight"]).toEqual([64, 32, 4, 4]); // ConvTranspose2d(64→32): [in, out, kh, kw]
    expect(dims["decoder.layers.4.weight"]).toEqual([32, 1, 4, 4]);
    // U(−1/√fan_in, 1/√fan_in), fan_in = in·kh·kw (Conv2d), out·kh·kw (ConvTranspose2d: PyTorch reads dim 1)
    const sd = vae.stateDict();
    const bound: Record<string, number> = { "encoder.layers.0": 16, "encoder.layers.1": 32 * 16, "decoder.layers.3": 32 * 16, "decoder.layers.4": 16 };
    for (const [name, fanIn] of Object.entries(bound)) {
      for (const part of ["weight", "bias"]) {
        const t = sd[`${name}.${part}`];
        const max = Math.max(...Array.from(t, Math.abs));
        expect(max, `${name}.${part}`).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
        expect(max, `${name}.${part}`).toBeGreaterThan(0.8 / Math.sqrt(fanIn));
      }
    }
    vae.dispose();
  });

  it("a saved conv model loads without a config and computes the same loss; its config keeps the layer lists", async () => {
    const vae = await VAE.create({ ...convMnist, seed: 4 });
    const x = Float32Array.from(uniform(6 * 784, 0, 1, rng(3)));
    vae.trainStep(x, { learningRate: 1e-3 });
    const back = await VAE.load(vae.save());
    expect(back.config.encoder).toEqual(vae.config.encoder);
    expect(back.config.inputShape).toEqual([1, 28, 28]);
    expect(back.lossAndGrads(x, { seed: 9 }).loss).toBe(vae.lossAndGrads(x, { seed: 9 }).loss);
    expect(back.reconstruct(x.subarray(0, 784))).toEqual(vae.reconstruct(x.subarray(0, 784)));
    vae.dispose();
    back.dispose();
  });

  it("the README's convolutional example runs as written and builds the conv-mnist preset's model", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const code = /## Convolutional models[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1];
    const dist = new URL("../../dist/src/index.js", import.meta.url).href;
    const file = join(mkdtempSync(join(tmpdir(), "vae-readme-")), "conv.mjs");
    writeFileSync(file, code.replace(/from "vae-wasm"/, `from "${dist}"`) +
      "\nconst preset = await VAE.create(PRESETS['conv-mnist']().model);\nconsole.log(JSON.stringify([vae.parameterCount, preset.parameterCount, vae.parameterShapes['decoder.layers.3.weight']]));\n");
    const [own, preset, shape] = JSON.parse(execFileSync(process.execPath, [file], { encoding: "utf8" }).trim().split("\n").pop()!);
    expect(own).toBe(preset);
    expect(own).toBe(1_691_369);
    expect(shape).toEqual([64, 32, 4, 4]);
  });

  it("bad layer lists are refused, naming the layer, what was expected and what was found", async () => {
    const enc = convMnist.encoder!, dec = convMnist.decoder!;
    const bad: [Partial<VAEOptions>, RegExp][] = [
      [{ encoder: [{ type: "conv", out: 8, kernel: 4, stride: 3, padding: 1 }, { type: "flatten" }] },
        /^VAE\.create: options\.encoder\[0\]: stride 3 does not tile the input height: \(28 \+ 2·1 − 4\) = 26 is not a multiple of 3/],
      [{ encoder: [{ type: "conv", out: 8, kernel: 4, stride: 2, padding: 1 }, { type: "dense", units: 10 }] },
        /^VAE\.create: options\.encoder\[1\] must be a flat input \(put \{type: 'flatten'\} before a dense layer that follows an image\); got a 8×14×14 image \[C, H, W\] from options\.encoder\[0\]/],
      [{ encoder: [{ type: "conv", out: 8, kernel: 4, stride: 2, padding: 1 }] },
        /^VAE\.create: options\.encoder must be a list that ends flat \(the latent head is a dense layer: end with \{type: 'flatten'\} or a dense layer\); got one that ends with a 8×14×14 image/],
      [{ decoder: [...dec.slice(0, 4)] }, /^VAE\.create: options\.decoder must be a list whose last layer outputs the input's shape \[1,28,28\]; got one that outputs \[32,14,14\]/],
      [{ decoder: [...dec.slice(0, 4), { type: "convT", out: 1, kernel: 4, stride: 2, padding: 1, activation: "relu" }] },
        /^VAE\.create: options\.decoder\[4\]\.activation must be left out or 'identity' \(the last layer outputs logits or means\); got "relu"/],
      [{ decoder: [{ type: "dense", units: 100 }, { type: "unflatten", shape: [64, 7, 7] }] }, /^VAE\.create: options\.decoder\[1\]\.shape must be C·H·W = 100 \(the width of options\.decoder\[0\]\)/],
      [{ hidden: [400] }, /^VAE\.create: options\.hidden must be left out with options\.encoder and options\.decoder/],
      [{ encoder: undefined }, /^VAE\.create: options\.encoder must be a layer list/],
      [{ inputDim: 100 }, /^VAE\.create: options\.inputDim must be C·H·W = 784 \(options\.inputShape\), or left out; got 100/],
      [{ encoder: [{ type: "pool" }, ...enc] as never }, /^VAE\.create: options\.encoder\[0\]\.type must be one of/],
    ];
    for (const [change, re] of bad) await expect(VAE.create({ ...convMnist, ...change })).rejects.toThrow(re);
  });
});
