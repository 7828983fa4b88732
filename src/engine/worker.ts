// The script of a pool worker (the pool's supervisor starts it by URL; bundlers emit it): the
// worker loop running the engine's share of each command.
import { runShare } from "./step.js";
import { failWorker, serveWorker } from "./worker-loop.js";

serveWorker(runShare).catch(failWorker);
