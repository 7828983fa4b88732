// Shared by the browser tests: a static file server on 127.0.0.1 whose first path segment picks
// cross-origin isolation ("/isolated/…" sends COOP/COEP, "/plain/…" does not; "/encoded/…" does
// not either and serves .gz files with Content-Encoding: gzip, as Vite's dev server does), and Debian's
// Chromium launched through playwright-core. Without a browser the tests cannot run; CI
// installs one (.ci/run), so there a missing browser is an error, not a skip.
import { createServer, type Server } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import type { Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`browser tests: ${CHROMIUM} is missing (apt-get install chromium)`);

const TYPES: Record<string, string> = {
  ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".css": "text/css",
  ".svg": "image/svg+xml", ".png": "image/png",
};

/** Serves files under `root`; resolves to the base URL and a close function. */
export async function serveStatic(root: string): Promise<{ base: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const [, mode, ...rest] = url.pathname.split("/");
    let file = normalize(join(root, ...rest.map(decodeURIComponent)));
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    const headers: Record<string, string> = { "content-type": TYPES[extname(file)] ?? "application/octet-stream" };
    if (mode === "encoded" && file.endsWith(".gz")) headers["content-encoding"] = "gzip";
    if (mode === "isolated") {
      headers["cross-origin-opener-policy"] = "same-origin";
      headers["cross-origin-embedder-policy"] = "require-corp";
    }
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}
