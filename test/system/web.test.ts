// The browser page (web/, built with Vite) in Debian's Chromium: it loads MNIST, trains in a
// worker with 2 threads when cross-origin isolated, the loss falls, the reconstructions and the
// manifold are drawn (not blank), a digit drawn with the mouse gets a reconstruction and a
// latent position, and the page's main thread keeps painting while training. Without the
// isolation headers it trains on one thread and says why. Screenshots go to test-output/.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { haveBrowser, launchChromium, serveStatic } from "../helpers/browser.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const OUT = new URL("../../test-output/", import.meta.url).pathname;

describe.skipIf(!haveBrowser)("the training page in Chromium (skipped only outside CI when chromium is not installed)", () => {
  let base = "";
  let close = async () => {};
  let browser: Browser;

  beforeAll(async () => {
    execFileSync(process.execPath, [`${ROOT}scripts/prepare-web-data.mjs`], { stdio: "ignore" });
    // the page's TypeScript type-checks against the package's declarations (Vite only strips types)
    execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, "-p", `${ROOT}web/tsconfig.json`], { stdio: "pipe" });
    const { build } = await import("vite");
    await build({ configFile: `${ROOT}web/vite.config.ts`, logLevel: "error" });
    ({ base, close } = await serveStatic(`${ROOT}web/dist`));
    browser = await launchChromium();
    mkdirSync(OUT, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await close();
  });

  /** Standard deviation of a canvas's grey levels: 0 for a blank one. */
  const inkSpread = (page: Page, id: string) => page.evaluate((id) => {
    const c = document.getElementById(id) as HTMLCanvasElement;
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let s = 0, s2 = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      s += d[i];
      s2 += d[i] * d[i];
    }
    return Math.sqrt(s2 / n - (s / n) ** 2);
  }, id);

  /** The isolated page at a viewport size, once its model is ready; page errors collected. */
  async function openIsolated(width: number, height: number): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}/isolated/`);
    await page.waitForFunction(() => (document.getElementById("train") as HTMLButtonElement).textContent === "Train", undefined, { timeout: 60_000 });
    return { page, errors };
  }

  /** n 10×12 PNG files named PREFIX1.png…, pixel p of image i coloured rgb(i, p). */
  async function pngFiles(n: number, prefix: string, rgb: (i: number, p: number) => [number, number, number]) {
    const { PNG } = await import("pngjs");
    return Array.from({ length: n }, (_, i) => {
      const png = new PNG({ width: 10, height: 12 });
      for (let p = 0; p < 120; p++) png.data.set([...rgb(i, p), 255], 4 * p);
      return { name: `${prefix}${i + 1}.png`, mimeType: "image/png", buffer: PNG.sync.write(png) };
    });
  }

  const lossNow = (page: Page) => page.evaluate(() => parseFloat(document.getElementById("loss-now")!.textContent ?? ""));

  it("Pause, Reset and Train in quick succession: training starts again on the new model, no error", async () => {
    const { page, errors } = await openIsolated(1200, 900);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 30, undefined, { timeout: 60_000 });
    // three clicks in one task: the worker sees pause, reset, start in order, each after the last
    await page.evaluate(() => {
      for (const id of ["train", "reset", "train"]) (document.getElementById(id) as HTMLButtonElement).click();
    });
    // the step count went back to 0 (the new model) and climbs again
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) < 30, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 20, undefined, { timeout: 60_000 });
    await page.waitForTimeout(500);
    expect(await page.textContent("#status")).not.toMatch(/error/);
    expect(await page.textContent("#train")).toBe("Pause");
    expect(await page.textContent("#rate")).toMatch(/^\d+ steps\/s$/);
    expect(Number((await page.textContent("#rate"))!.split(" ")[0])).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("fits a phone's width (400 px) and a desktop's without sideways scrolling", async () => {
    for (const [width, height] of [[400, 860], [1440, 1100]]) {
      const { page, errors } = await openIsolated(width, height);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${width} px wide`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: `${OUT}page-${width}.png`, fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 120_000);

  it("isolated: trains on 2 threads, the loss falls, pictures appear, a drawn digit is placed", async () => {
    const { page, errors } = await openIsolated(1440, 1100);
    expect(await page.evaluate(() => document.getElementById("status")!.dataset.threads)).toBe("2");
    expect(await page.textContent("#status")).toMatch(/2 threads over shared memory/);

    // the main thread's longest gap between animation frames while the worker trains
    await page.evaluate(() => {
      const w = window as unknown as { maxGap: number };
      w.maxGap = 0;
      let last = performance.now();
      const tick = (t: number) => {
        w.maxGap = Math.max(w.maxGap, t - last);
        last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 20, undefined, { timeout: 60_000 });
    const early = await lossNow(page);
    expect(Number.isFinite(early)).toBe(true);
    // a 2-D latent VAE on MNIST goes from ~540 nats (random) to below ~170 within a few hundred steps
    await page.waitForFunction((early) => parseFloat(document.getElementById("loss-now")!.textContent ?? "") < Math.min(0.6 * early, 200),
      early, { timeout: 90_000 });
    await page.waitForTimeout(1500); // the next snapshot of pictures
    expect(await inkSpread(page, "recon")).toBeGreaterThan(30);
    expect(await inkSpread(page, "manifold")).toBeGreaterThan(30);
    expect(await inkSpread(page, "loss")).toBeGreaterThan(5);
    // a training loop on the main thread would starve painting for seconds
    expect(await page.evaluate(() => (window as unknown as { maxGap: number }).maxGap)).toBeLessThan(1000);

    // draw a "1": a vertical stroke on the pad
    const pad = (await page.$("#pad"))!.boundingBox();
    const box = (await pad)!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + box.width * (0.5 - 0.01 * i), box.y + box.height * (0.15 + 0.06 * i));
    await page.mouse.up();
    await page.waitForFunction(() => /z = \(-?\d/.test(document.getElementById("z")!.textContent ?? ""), undefined, { timeout: 10_000 });
    expect(await inkSpread(page, "drawn")).toBeGreaterThan(20);
    await page.click("#train"); // pause, so the screenshot is of a settled page
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${OUT}web-page.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it("settings: a new model size and estimator train; your own data (a CSV, PNG images) trains in the tab; a bad file is named", async () => {
    const { page, errors } = await openIsolated(1440, 1100);
    // settings: 128 hidden units, 5 latent dimensions, stl with K = 5 on one thread
    await page.selectOption("select[name=hidden]", "128");
    await page.selectOption("select[name=latentDim]", "5");
    await page.selectOption("select[name=estimator]", "stl");
    await page.selectOption("select[name=samples]", "5");
    await page.selectOption("select[name=threads]", "1");
    await page.click("#apply");
    await page.waitForFunction(() => /new model: 784–128–5, 1 thread/.test(document.getElementById("settings-note")!.textContent ?? ""), undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => document.getElementById("status")!.dataset.threads)).toBe("1");
    expect(await page.textContent("#status")).toMatch(/^1 thread over shared memory/);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 20, undefined, { timeout: 60_000 });
    expect(Number.isFinite(await lossNow(page))).toBe(true);
    // a learning-rate change applies without a new model: the step count keeps climbing
    await page.selectOption("select[name=learningRate]", "0.003");
    await page.click("#apply");
    await page.waitForFunction(() => /from the next step/.test(document.getElementById("settings-note")!.textContent ?? ""), undefined, { timeout: 30_000 });
    expect(Number(await page.textContent("#step"))).toBeGreaterThanOrEqual(20);
    await page.click("#train");

    // a CSV of 8×8 "images" with values 0…255 (Gaussian decoder on standardised columns), picked with the file input
    const rows: string[] = ["p" + Array.from({ length: 64 }, (_, j) => j).join(",p")];
    for (let r = 0; r < 300; r++) {
      const t = (r % 8) / 8;
      rows.push(Array.from({ length: 64 }, (_, j) => Math.round(255 * Math.abs(Math.sin(3 * t + (j % 8) / 3 + Math.floor(j / 8) / 5)))).join(","));
    }
    await page.setInputFiles("#file", { name: "waves.csv", mimeType: "text/csv", buffer: Buffer.from(rows.join("\n")) });
    await page.waitForFunction(() => /^waves\.csv: 300 rows × 64 values \(8×8 images\), values in \[0, 255\]: standardised per column, Gaussian decoder/.test(document.getElementById("data-note")!.textContent ?? ""), undefined, { timeout: 30_000 });
    expect(await page.isHidden("#pad")).toBe(true);
    expect(await page.textContent("#draw-note")).toMatch(/needs 28×28 greyscale data/);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 100, undefined, { timeout: 60_000 });
    expect(Number.isFinite(await lossNow(page))).toBe(true);
    await page.waitForTimeout(1300); // the next snapshot of pictures
    expect(await inkSpread(page, "recon")).toBeGreaterThan(20);
    await page.screenshot({ path: `${OUT}web-own-csv.png`, fullPage: true });
    await page.click("#train");

    // 30 RGB PNG images, 10×12
    await page.setInputFiles("#file", await pngFiles(30, "img", (i, p) => [(p * 7 + i * 11) % 256, (i * 40) % 256, 255 - p]));
    await page.waitForFunction(() => /^30 PNG images: 30 rows × 360 values \(12×10 RGB images\), values in \[0, 1\]: Bernoulli decoder/.test(document.getElementById("data-note")!.textContent ?? ""), undefined, { timeout: 30_000 });
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 50, undefined, { timeout: 60_000 });
    expect(Number.isFinite(await lossNow(page))).toBe(true);
    await page.click("#train");

    // a ragged CSV: the error names the file and the line; the PNG data stays in use
    await page.setInputFiles("#file", { name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("1,2,3\n4,5\n") });
    await page.waitForFunction(() => /error: .*bad\.csv line 2/.test(document.getElementById("status")!.textContent ?? ""), undefined, { timeout: 30_000 });
    expect(await page.textContent("#data-note")).toMatch(/^30 PNG images/);
    // back to MNIST: the pad is back
    await page.click("#use-mnist");
    await page.waitForFunction(() => /^MNIST/.test(document.getElementById("data-note")!.textContent ?? ""), undefined, { timeout: 30_000 });
    expect(await page.isVisible("#pad")).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it("the convolutional model trains on MNIST in the page; data whose images it cannot take is refused, the data staying", async () => {
    const { page, errors } = await openIsolated(1440, 1100);
    await page.selectOption("select[name=model]", "conv");
    await page.selectOption("select[name=hidden]", "128");
    await page.click("#apply");
    await page.waitForFunction(() => /new model: conv 32-64-128–2, 2 threads/.test(document.getElementById("settings-note")!.textContent ?? ""), undefined, { timeout: 30_000 });
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 10, undefined, { timeout: 60_000 });
    const loss = await lossNow(page);
    expect(Number.isFinite(loss)).toBe(true);
    await page.click("#train");
    // 12×10 images: 10 is not a multiple of 4
    await page.setInputFiles("#file", await pngFiles(25, "g", (i, p) => Array(3).fill((p * 9 + i) % 256) as [number, number, number]));
    await page.waitForFunction(() => /error: the convolutional model needs images whose height and width are multiples of 4; this data is 12×10 images/.test(document.getElementById("status")!.textContent ?? ""), undefined, { timeout: 30_000 });
    expect(await page.textContent("#data-note")).toMatch(/^MNIST/);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("a drawn 7 reaches the model centred by its centre of mass, as MNIST's digits are (not by its bounding box)", async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
    // record the pixels the page sends to the worker
    await page.addInitScript(() => {
      const w = window as unknown as { sent: number[][] };
      w.sent = [];
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (this: Worker, m: unknown, t?: unknown) {
        const msg = m as { type?: string; pixels?: Float32Array };
        if (msg?.type === "encode" && msg.pixels) w.sent.push(Array.from(msg.pixels));
        return post.call(this, m, t as Transferable[]);
      } as typeof post;
    });
    await page.goto(`${base}/isolated/`);
    await page.waitForFunction(() => (document.getElementById("train") as HTMLButtonElement).textContent === "Train", undefined, { timeout: 60_000 });
    // a 7: a long top bar and a thin stroke down (its ink is heavy at the top)
    const box = (await (await page.$("#pad"))!.boundingBox())!;
    const at = (fx: number, fy: number) => page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
    await at(0.2, 0.2);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await at(0.2 + 0.06 * i, 0.2);
    for (let i = 1; i <= 10; i++) await at(0.8 - 0.03 * i, 0.2 + 0.065 * i);
    await page.mouse.up();
    await page.waitForFunction(() => (window as unknown as { sent: number[][] }).sent.length > 0, undefined, { timeout: 10_000 });
    const px = await page.evaluate(() => (window as unknown as { sent: number[][] }).sent[0]);
    expect(px.length).toBe(784);
    let m = 0, sx = 0, sy = 0, top = 28, bottom = -1;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = px[y * 28 + x];
        m += v; sx += v * x; sy += v * y;
        if (v > 0.1) { top = Math.min(top, y); bottom = Math.max(bottom, y); }
      }
    }
    // MNIST's rule: the centre of mass on pixel (14, 14), within half a pixel (a whole-pixel shift)
    expect(Math.abs(sx / m - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(sy / m - 14)).toBeLessThanOrEqual(0.5);
    // so the box is not centred (that would put its middle at 13.5): a top-heavy 7's box sits lower
    expect((top + bottom) / 2).toBeGreaterThan(14.5);
    await page.close();
  }, 120_000);

  it("not isolated (and .gz data sent with Content-Encoding: gzip, as Vite's dev server does): trains on one thread and says why", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/encoded/`);
    await page.waitForFunction(() => (document.getElementById("train") as HTMLButtonElement).textContent === "Train", undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => document.getElementById("status")!.dataset.threads)).toBe("1");
    expect(await page.textContent("#status")).toMatch(/not cross-origin isolated/);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("step")!.textContent) >= 20, undefined, { timeout: 60_000 });
    expect(Number.isFinite(await lossNow(page))).toBe(true);
    await page.close();
  }, 120_000);
});
