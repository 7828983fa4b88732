// Threads in a real browser: Debian's Chromium driven by playwright-core opens a page served on
// 127.0.0.1 (1) with cross-origin isolation headers: 2 workers and 1 thread must give the same
// losses and weights bit for bit; (2) without them: the model falls back to one thread and says
// why, once. `.ci/run` installs chromium (apt); the test needs `npm run build` (dist/) first.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveBrowser, launchChromium, serveStatic } from "../helpers/browser.js";

const ROOT = new URL("../..", import.meta.url).pathname;

describe.skipIf(!haveBrowser)("threads in Chromium (skipped only outside CI when chromium is not installed)", () => {
  let base = "";
  let close = async () => {};
  beforeAll(async () => {
    ({ base, close } = await serveStatic(ROOT));
  });
  afterAll(() => close());

  async function openPage(mode: "isolated" | "plain") {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/${mode}/test/browser/threads.html`);
      await page.waitForFunction(() => (window as { result?: unknown }).result !== undefined, undefined, { timeout: 60_000 });
      return await page.evaluate(() => (window as unknown as { result: Record<string, unknown> }).result) as {
        error?: string; crossOriginIsolated: boolean; warnings: string[];
        two: { threads: number; build: string; poolRuns: number; losses: number[]; weights: number[] };
        one: { threads: number; losses: number[]; weights: number[] };
      };
    } finally {
      await browser.close();
    }
  }

  it("cross-origin isolated: 2 workers and 1 thread train to bitwise identical results", async () => {
    const r = await openPage("isolated");
    expect(r.error).toBeUndefined();
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.two.threads).toBe(2);
    expect(r.two.poolRuns).toBeGreaterThanOrEqual(3 * 40); // the workers did take part in every step
    expect(r.one.threads).toBe(1);
    expect(r.two.losses.every(Number.isFinite)).toBe(true);
    expect(r.two.losses).toEqual(r.one.losses);
    expect(r.two.weights).toEqual(r.one.weights);
    expect(r.warnings).toEqual([]);
  }, 120_000);

  it("without the headers: falls back to one thread with a message, same numbers", async () => {
    const r = await openPage("plain");
    expect(r.error).toBeUndefined();
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.two.threads).toBe(1);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/2 threads were asked for, but this runtime has no shared memory \(a page needs cross-origin isolation.*running on one thread/);
    expect(r.two.losses).toEqual(r.one.losses);
  }, 120_000);
});
