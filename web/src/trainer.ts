// The training worker: owns the model, so the page's main thread only draws. With cross-origin
// isolation it asks for 2 threads (the library's own workers, nested in this one); otherwise
// the library falls back to one thread and the page says why.
import { VAE } from "vae-wasm";
import { EXTENT, GRID, SAMPLES, type FromWorker, type ToWorker } from "./protocol";

const D = 784;
const BATCH = 100;
const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

/** The bytes of a gzipped file, whether the server sends it as is or with Content-Encoding: gzip (Vite's dev server does). */
async function inflate(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not load ${url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes; // already inflated by the browser
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const toFloats = (bytes: Uint8Array) => Float32Array.from(bytes, (v) => v / 255);

async function main(base: string) {
  const [trainBytes, testBytes, testLabels] = await Promise.all([
    inflate(base + "train-images.u8.gz"), inflate(base + "test-images.u8.gz"), inflate(base + "test-labels.u8.gz"),
  ]);
  const train = toFloats(trainBytes);
  const test = toFloats(testBytes);
  const N = train.length / D;
  const isolated = self.crossOriginIsolated === true;
  const threads = isolated ? Math.min(2, navigator.hardwareConcurrency || 1) : 1;
  const create = () => VAE.create({ inputDim: D, latentDim: 2, hidden: [256], seed: 1, threads });
  let vae = await create();
  post({
    type: "ready", threads: vae.threads, isolated, build: vae.build, trainSize: N,
    note: isolated ? `${vae.threads} threads over shared memory` : "1 thread: the page is not cross-origin isolated (no COOP/COEP headers)",
  });

  let running = false;
  let step = 0;
  let smoothed = NaN;
  let order = Uint32Array.from({ length: N }, (_, i) => i);
  let cursor = N;
  const batch = new Float32Array(BATCH * D);
  let lastProgress = 0;
  let lastSnapshot = -Infinity;
  let rate = 0;

  const shuffle = () => {
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    cursor = 0;
  };

  const snapshot = () => {
    const recon = new Float32Array(2 * SAMPLES * D);
    const digits = test.subarray(0, SAMPLES * D);
    recon.set(digits);
    recon.set(vae.reconstruct(digits), SAMPLES * D);
    const z = new Float32Array(GRID * GRID * 2);
    for (let r = 0; r < GRID; r++) {
      for (let c = 0; c < GRID; c++) {
        z[2 * (r * GRID + c)] = -EXTENT + (2 * EXTENT * c) / (GRID - 1);
        z[2 * (r * GRID + c) + 1] = EXTENT - (2 * EXTENT * r) / (GRID - 1);
      }
    }
    const manifold = vae.decode(z);
    const latents = vae.encode(test).mu;
    const labels = testLabels.slice();
    post({ type: "snapshot", step, recon, manifold, latents, labels }, [recon.buffer, manifold.buffer, latents.buffer, labels.buffer]);
  };

  const loop = async () => {
    // the rate counts every millisecond between slices: the steps, the snapshots, the yields
    let mark = performance.now();
    while (running) {
      const t0 = performance.now();
      // a slice of steps, then yield so messages (pause, a drawn digit) get through
      let n = 0;
      while (performance.now() - t0 < 50) {
        if (cursor + BATCH > N) shuffle();
        for (let b = 0; b < BATCH; b++) batch.set(train.subarray(order[cursor + b] * D, (order[cursor + b] + 1) * D), b * D);
        cursor += BATCH;
        const loss = vae.trainStep(batch, { binarize: true, learningRate: 1e-3 });
        smoothed = Number.isNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
        step++;
        n++;
      }
      const now = performance.now();
      rate = 0.8 * rate + 0.2 * ((1000 * n) / (now - mark));
      mark = now;
      if (now - lastProgress > 200) {
        lastProgress = now;
        post({ type: "progress", step, epoch: (step * BATCH) / N, loss: smoothed, stepsPerSecond: rate, running });
      }
      if (now - lastSnapshot > 1000) {
        lastSnapshot = now;
        snapshot();
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  };

  // Messages are handled one at a time, in order, each after the one before has finished (a
  // reset awaits the new model before a start that follows it is looked at), and stopping waits
  // for the training loop to leave: no step ever runs on a disposed model.
  let loopDone: Promise<void> = Promise.resolve();
  const stop = async () => {
    running = false;
    await loopDone;
  };
  let queue: Promise<void> = Promise.resolve();
  self.onmessage = (e: MessageEvent<ToWorker>) => {
    queue = queue.then(() => handle(e.data));
  };
  const handle = async (m: ToWorker) => {
    try {
      if (m.type === "start" && !running) {
        running = true;
        rate = 0;
        loopDone = loop().catch((err) => {
          running = false;
          post({ type: "error", message: String((err as Error)?.message ?? err) });
        });
      } else if (m.type === "pause") {
        await stop();
        post({ type: "progress", step, epoch: (step * BATCH) / N, loss: smoothed, stepsPerSecond: 0, running });
      } else if (m.type === "reset") {
        await stop();
        vae.dispose();
        vae = await create();
        step = 0;
        smoothed = NaN;
        post({ type: "progress", step, epoch: 0, loss: NaN, stepsPerSecond: 0, running });
        snapshot();
      } else if (m.type === "encode") {
        const { mu } = vae.encode(m.pixels);
        const recon = vae.decode(mu);
        post({ type: "drawn", recon, z: [mu[0], mu[1]] }, [recon.buffer]);
      }
    } catch (err) {
      post({ type: "error", message: String((err as Error)?.message ?? err) });
    }
  };
  snapshot();
}

// the page sends where the data is (relative to the page, not to this script)
self.onmessage = (e: MessageEvent<ToWorker>) => {
  if (e.data.type !== "init") return;
  self.onmessage = null;
  main(e.data.dataUrl).catch((err) => post({ type: "error", message: String((err as Error)?.stack ?? err) }));
};
