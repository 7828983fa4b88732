// The browser page: `npm run web` (dev server) or `npm run web:build` (static files in
// web/dist). It imports the library as a user would, from the built package (dist/), so run
// `npm run build` first. The headers make the page cross-origin isolated (shared memory, 2 threads).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  resolve: { alias: { "vae-wasm": fileURLToPath(new URL("../dist/src/index.js", import.meta.url)) } },
  worker: { format: "es" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: { headers: isolation },
  preview: { headers: isolation },
});
