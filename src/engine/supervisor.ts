// The script of a pool's supervisor thread (the pool starts it by URL; bundlers emit it): starts
// and watches the compute workers (engine/supervise.ts).
import { supervise } from "./supervise.js";

supervise().catch((e) => {
  console.error("vae-wasm pool supervisor failed:", e);
  throw e;
});
