import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // test/interop needs python3 with torch: `npm run test:interop` runs it alone
    include: process.env.VAE_INTEROP ? ["test/interop/**/*.test.ts"] : ["test/**/*.test.ts"],
    exclude: process.env.VAE_INTEROP ? [] : ["test/interop/**", "**/node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // the JSON report lets .ci/run print a plain "N passed, N failed" line
    reporters: ["default", ["json", { outputFile: process.env.VAE_INTEROP ? "test-results-interop.json" : "test-results.json" }]],
  },
});
