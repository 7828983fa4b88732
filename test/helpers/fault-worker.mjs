// A pool worker that can be made to fail, for the tests of worker failures (the built engine in
// dist/): command FAULT.throw makes worker 1 throw, FAULT.exit makes it exit with code 3; every
// other command runs the engine's share as the library's own worker does.
import { CTRL } from "../../dist/src/engine/ctrl.js";
import { runShare } from "../../dist/src/engine/step.js";
import { serveWorker } from "../../dist/src/engine/worker-loop.js";
import { FAULT } from "./faults.mjs";

serveWorker((k, plan, ws, ctrl, index, active) => {
  const cmd = ctrl.i[CTRL.cmd];
  if (cmd === FAULT.throw) {
    if (index === 1) throw new Error(`injected fault in worker ${index}`);
    return;
  }
  if (cmd === FAULT.exit) {
    if (index === 1) process.exit(3);
    return;
  }
  runShare(k, plan, ws, ctrl, index, active);
});
