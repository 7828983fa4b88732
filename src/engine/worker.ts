// The script of a pool worker (the pool's supervisor starts it by URL; bundlers emit it): the
// worker loop running its share of each command, for the program of the plan it was given.
import { runProgramShare } from "./programs.js";
import { failWorker, serveWorker } from "./worker-loop.js";

serveWorker(runProgramShare).catch(failWorker);
