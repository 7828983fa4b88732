// The script of a pool worker (the pool starts it by URL; bundlers emit it): the worker loop
// running the engine's share of each command.
import { runShare } from "./step.js";
import { serveWorker } from "./worker-loop.js";

serveWorker(runShare).catch((e) => {
  console.error("vae-wasm worker failed to start:", e);
});
