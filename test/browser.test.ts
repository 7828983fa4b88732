// Threads in a real browser: Debian's Chromium driven by playwright-core opens a page served on
// 127.0.0.1 (1) with cross-origin isolation headers: 2 workers and 1 thread must give the same
// losses and weights bit for bit; (2) without them: the model falls back to one thread and says
// why, once. `.ci/run` installs chromium (apt); the test needs `npm run build` (dist/) first.
import { createServer, type Server } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ROOT = new URL("..", import.meta.url).pathname;
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

// Without a browser the test cannot run; CI installs one, so there it must not be skipped.
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`browser test: ${CHROMIUM} is missing (apt-get install chromium)`);

describe.skipIf(!haveBrowser)("threads in Chromium (skipped only outside CI when chromium is not installed)", () => {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const [, mode, ...rest] = url.pathname.split("/");
      const file = normalize(join(ROOT, ...rest));
      if (!file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end("not found");
        return;
      }
      const headers: Record<string, string> = { "content-type": TYPES[extname(file)] ?? "application/octet-stream" };
      if (mode === "isolated") {
        headers["cross-origin-opener-policy"] = "same-origin";
        headers["cross-origin-embedder-policy"] = "require-corp";
      }
      res.writeHead(200, headers).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function openPage(mode: "isolated" | "plain") {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"],
    });
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
