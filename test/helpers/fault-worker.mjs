// A pool worker that can be made to fail, for the tests of worker failures (the built engine in
// dist/). It runs the engine's share of every command as the library's own worker does, except
// where the test armed a fault in FAULT_SLOT (faults.mjs), for worker 1 only:
//   on a command of the armed kind, it first runs its real share (so its part of an Adam update
//   is written), then fails the way the fault says, without acknowledging: mid-command;
//   on FAULT.idle, it acknowledges the command at once, sleeps 30 ms, then fails: the caller is
//   idle by then.
// How it fails: 'throw' (an error in the share, during the command; the worker lives on), 'exit'
// (process.exit(3) in Node, close() in a browser), 'uncaught' (the worker loop itself fails: its
// next atomic store throws, as a bug in the loop would), 'oom' (allocates until the heap limit;
// Node, with resourceLimits); 'stall' is no failure: the share takes 5 s longer.
import { CTRL } from "../../dist/src/engine/ctrl.js";
import { runProgramShare } from "../../dist/src/engine/programs.js";
import { failWorker, serveWorker } from "../../dist/src/engine/worker-loop.js";
import { FAULT, FAULT_KINDS, FAULT_SLOT } from "./faults.mjs";

const isNode = typeof process !== "undefined" && process.versions?.node !== undefined;

/** The loop's next atomic store throws `e`: the loop itself fails (no acknowledgement), as a bug in it would. */
function breakLoop(e) {
  const store = Atomics.store;
  Atomics.store = () => {
    Atomics.store = store;
    throw e;
  };
}

/** Fails as `kind`; returns only where the loop is to fail at its next step. */
function die(kind, index) {
  switch (kind) {
    case "throw":
      throw new Error(`injected fault in worker ${index}`);
    case "exit":
      if (isNode) process.exit(3);
      // a browser worker ends after close() only once its task ends: the loop is made to end
      close();
      return breakLoop(Object.assign(new Error("closed"), { closing: true }));
    case "uncaught":
      return breakLoop(new Error(`injected uncaught error in worker ${index}`));
    case "stall": {
      // (not a death: a share that computes for 5 s longer, for a test to kill the worker in the
      // middle of; busy, as a worker in the middle of its share is)
      const end = performance.now() + 5000;
      while (performance.now() < end);
      return;
    }
    case "oom": {
      const hold = [];
      for (;;) hold.push(new Array(1e5).fill(index + 0.5));
    }
  }
}

serveWorker((k, plan, ws, ctrl, index, active, memory) => {
  const cmd = ctrl.i[CTRL.cmd];
  const armed = Atomics.load(ctrl.i, FAULT_SLOT);
  const kind = FAULT_KINDS[armed >> 8];
  if (index === 1 && kind && cmd === FAULT.idle) {
    Atomics.store(ctrl.i, FAULT_SLOT, 0);
    if (kind !== "throw") {
      // acknowledge now (as the loop would), then fail while the caller is idle
      Atomics.store(ctrl.ack, index, Atomics.load(ctrl.i, CTRL.gen));
      Atomics.add(ctrl.i, CTRL.done, 1);
      Atomics.notify(ctrl.i, CTRL.done);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30);
    }
    return die(kind, index);
  }
  if (cmd === FAULT.idle) return;
  runProgramShare(k, plan, ws, ctrl, index, active, memory);
  if (index === 1 && kind && (armed & 255) === cmd) {
    Atomics.store(ctrl.i, FAULT_SLOT, 0);
    die(kind, index);
  }
}).catch((e) => (e?.closing ? undefined : failWorker(e)));
