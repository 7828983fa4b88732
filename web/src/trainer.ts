// The training worker: owns the data and the model, so the page's main thread only draws. With
// cross-origin isolation it may use 2 threads (the library's own workers, nested in this one);
// otherwise the library runs on one thread and the page says why. The data is MNIST (10,000
// training digits, 1,000 test digits) or the user's own file(s), read with loadDataset.
import { loadDataset, VAE, type VAEOptions } from "vae-wasm";
import { formatOf, imagesToRows, prepare, unstandardise, type DatasetLike, type Prepared } from "./prepare";
import { EXTENT, GRID, SAMPLES, type DataView, type FromWorker, type Settings, type ToWorker } from "./protocol";

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

/** The data the page trains on, how it is drawn, and its held-out labels (MNIST). */
interface Source {
  prep: Prepared;
  view: DataView;
  labels: Uint8Array | null;
  /** dynamic binarization of the grey levels (MNIST, as the library's demo trains) */
  binarize: boolean;
}

async function mnistSource(base: string): Promise<Source> {
  const [trainBytes, testBytes, testLabels] = await Promise.all([
    inflate(base + "train-images.u8.gz"), inflate(base + "test-images.u8.gz"), inflate(base + "test-labels.u8.gz"),
  ]);
  const D = 784, train = Float32Array.from(trainBytes, (v) => v / 255), test = Float32Array.from(testBytes, (v) => v / 255);
  const prep: Prepared = {
    train, test, D, trainRows: train.length / D, testRows: test.length / D, image: { h: 28, w: 28, c: 1 },
    likelihood: "bernoulli", mean: null, sd: null, lo: 0, hi: 1, note: "",
  };
  return {
    prep, labels: testLabels, binarize: true,
    view: { name: "MNIST", note: "MNIST: 10,000 training digits, 1,000 test digits", D, image: prep.image, range: [0, 1], drawable: true, labelled: true, mnist: true },
  };
}

/** PNG images decoded in this worker (createImageBitmap), without colour conversion. */
async function decodePngs(files: { name: string; bytes: Uint8Array<ArrayBuffer> }[]): Promise<DatasetLike> {
  const sorted = [...files].sort((a, b) => new Intl.Collator("en", { numeric: true }).compare(a.name, b.name));
  const images = [];
  for (const f of sorted) {
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(new Blob([f.bytes], { type: "image/png" }), { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    } catch {
      throw new Error(`${f.name} is not a readable PNG image`);
    }
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext("2d")!;
    ctx.drawImage(bmp, 0, 0);
    images.push({ name: f.name, width: bmp.width, height: bmp.height, rgba: ctx.getImageData(0, 0, bmp.width, bmp.height).data });
    bmp.close();
  }
  return imagesToRows(images);
}

async function fileSource(files: { name: string; bytes: Uint8Array<ArrayBuffer> }[]): Promise<Source> {
  if (files.length === 0) throw new Error("no file was given");
  const png = files.every((f) => /\.png$/i.test(f.name));
  if (files.length > 1 && !png) {
    throw new Error(`${files.length} files were given: several files must all be PNG images (one image per row); a table is one CSV/TSV, .npy or IDX file`);
  }
  const name = files.length > 1 ? `${files.length} PNG images` : files[0].name;
  const ds: DatasetLike = png ? await decodePngs(files) : await loadDataset(files[0].bytes, { name, format: formatOf(name) });
  const prep = prepare(ds, name);
  const im = prep.image;
  return {
    prep, labels: null, binarize: false,
    view: {
      name, note: prep.note, D: prep.D, image: im, range: prep.likelihood === "bernoulli" ? [0, 1] : [prep.lo, prep.hi],
      drawable: prep.likelihood === "bernoulli" && im !== null && im.h === 28 && im.w === 28 && im.c === 1, labelled: false, mnist: false,
    },
  };
}

/**
 * The layers: dense D–hidden–Z, or (model 'conv', for images whose sides are multiples of 4)
 * Conv(C→32, k4, s2, p1) → Conv(32→64) → dense `hidden`, and the mirror image — conv-mnist's shape.
 */
function architecture(s: Settings, p: Prepared): VAEOptions {
  if (s.model === "dense") return { inputDim: p.D, hidden: [s.hidden] };
  const im = p.image;
  if (!im || im.h % 4 !== 0 || im.w % 4 !== 0) {
    throw new Error(`the convolutional model needs images whose height and width are multiples of 4; this data is ${im ? `${im.h}×${im.w} images` : "not images"} (choose the dense model)`);
  }
  const [h, w] = [im.h / 4, im.w / 4];
  const conv = (out: number) => ({ type: "conv" as const, out, kernel: 4, stride: 2, padding: 1 });
  const convT = (out: number) => ({ type: "convT" as const, out, kernel: 4, stride: 2, padding: 1 });
  return {
    inputShape: [im.c, im.h, im.w],
    encoder: [conv(32), conv(64), { type: "flatten" }, { type: "dense", units: s.hidden }],
    decoder: [{ type: "dense", units: s.hidden }, { type: "dense", units: 64 * h * w }, { type: "unflatten", shape: [64, h, w] }, convT(32), convT(im.c)],
  };
}

async function main(base: string, initial: Settings) {
  const isolated = self.crossOriginIsolated === true;
  const maxThreads = isolated ? Math.min(2, navigator.hardwareConcurrency || 1) : 1;
  let settings = initial;
  let src = await mnistSource(base);
  const mnist = src;
  const create = () => VAE.create({
    ...architecture(settings, src.prep), latentDim: settings.latentDim, seed: 1, threads: Math.min(settings.threads, maxThreads),
    likelihood: src.prep.likelihood === "bernoulli" ? "bernoulli" : { type: "gaussian", learnVariance: true },
  });
  let vae = await create();
  post({
    type: "ready", threads: vae.threads, maxThreads, isolated, build: vae.build,
    note: isolated ? `${vae.threads} thread${vae.threads > 1 ? "s" : ""} over shared memory` : "1 thread: the page is not cross-origin isolated (no COOP/COEP headers)",
  });
  post({ type: "dataset", view: src.view });

  let running = false;
  let step = 0;
  let smoothed = NaN;
  let order = new Uint32Array(0);
  let cursor = Infinity;
  let lastProgress = 0;
  let lastSnapshot = -Infinity;
  let rate = 0;

  const epoch = () => (step * Math.min(settings.batchSize, src.prep.trainRows)) / src.prep.trainRows;
  const progress = () => post({ type: "progress", step, epoch: epoch(), loss: smoothed, stepsPerSecond: running ? rate : 0, running });

  const shuffle = () => {
    const N = src.prep.trainRows;
    if (order.length !== N) order = Uint32Array.from({ length: N }, (_, i) => i);
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    cursor = 0;
  };

  const snapshot = () => {
    const { prep } = src;
    const D = prep.D, n = Math.min(SAMPLES, prep.testRows);
    const rows = prep.test.subarray(0, n * D);
    const recon = new Float32Array(2 * n * D);
    recon.set(rows);
    recon.set(vae.reconstruct(rows), n * D);
    const Z = settings.latentDim;
    const z = new Float32Array(GRID * GRID * Z);
    for (let r = 0; r < GRID; r++) {
      for (let c = 0; c < GRID; c++) {
        z[Z * (r * GRID + c)] = -EXTENT + (2 * EXTENT * c) / (GRID - 1);
        z[Z * (r * GRID + c) + 1] = EXTENT - (2 * EXTENT * r) / (GRID - 1);
      }
    }
    const manifold = unstandardise(vae.decode(z), prep);
    unstandardise(recon, prep);
    const mu = vae.encode(prep.test).mu;
    const latents = new Float32Array(2 * prep.testRows);
    for (let i = 0; i < prep.testRows; i++) {
      latents[2 * i] = mu[i * Z];
      latents[2 * i + 1] = mu[i * Z + 1];
    }
    const labels = src.labels ? src.labels.slice() : null;
    post({ type: "snapshot", step, recon, manifold, latents, labels }, [recon.buffer, manifold.buffer, latents.buffer, ...(labels ? [labels.buffer] : [])]);
  };

  const loop = async () => {
    // the rate counts every millisecond between slices: the steps, the snapshots, the yields
    let mark = performance.now();
    let batch = new Float32Array(0);
    while (running) {
      const t0 = performance.now();
      // a slice of steps, then yield so messages (pause, a drawn digit, settings) get through
      let n = 0;
      while (performance.now() - t0 < 50) {
        const { prep } = src;
        const D = prep.D, B = Math.min(settings.batchSize, prep.trainRows);
        if (batch.length !== B * D) batch = new Float32Array(B * D);
        if (cursor + B > prep.trainRows) shuffle();
        for (let b = 0; b < B; b++) batch.set(prep.train.subarray(order[cursor + b] * D, (order[cursor + b] + 1) * D), b * D);
        cursor += B;
        const loss = vae.trainStep(batch, {
          binarize: src.binarize, learningRate: settings.learningRate, estimator: settings.estimator, samples: settings.samples,
        });
        smoothed = Number.isNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
        step++;
        n++;
      }
      const now = performance.now();
      rate = 0.8 * rate + 0.2 * ((1000 * n) / (now - mark));
      mark = now;
      if (now - lastProgress > 200) {
        lastProgress = now;
        progress();
      }
      if (now - lastSnapshot > 1000) {
        lastSnapshot = now;
        snapshot();
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  };

  /** A new model for the current data and settings; the run starts again. */
  const restart = async () => {
    const fresh = await create();
    vae.dispose();
    vae = fresh;
    step = 0;
    smoothed = NaN;
    cursor = Infinity;
    progress();
    snapshot();
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
          progress();
          post({ type: "error", message: String((err as Error)?.message ?? err) });
        });
      } else if (m.type === "pause") {
        await stop();
        progress();
      } else if (m.type === "reset") {
        await stop();
        await restart();
      } else if (m.type === "configure") {
        const before = settings, next = m.settings;
        const rebuild = before.hidden !== next.hidden || before.latentDim !== next.latentDim || before.threads !== next.threads || before.model !== next.model;
        if (rebuild) architecture(next, src.prep); // (a model the data cannot take: refused before anything changes)
        settings = next;
        if (rebuild) {
          const was = running;
          await stop();
          await restart();
          if (was) await handle({ type: "start" });
        }
        const shape = settings.model === "conv" ? `conv 32-64-${settings.hidden}` : `${src.prep.D}–${settings.hidden}`;
        post({
          type: "configured", threads: vae.threads,
          note: rebuild ? `new model: ${shape}–${settings.latentDim}, ${vae.threads} thread${vae.threads > 1 ? "s" : ""}` : "settings apply from the next step",
        });
      } else if (m.type === "data" || m.type === "mnist") {
        // (a file that cannot be used leaves the current data and model as they are)
        const next = m.type === "mnist" ? mnist : await fileSource(m.files);
        architecture(settings, next.prep); // (data the model cannot take: refused, the current data stays)
        await stop();
        src = next;
        post({ type: "dataset", view: src.view });
        await restart();
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

// the page sends where the data is (relative to the page, not to this script) and its settings
self.onmessage = (e: MessageEvent<ToWorker>) => {
  if (e.data.type !== "init") return;
  self.onmessage = null;
  main(e.data.dataUrl, e.data.settings).catch((err) => post({ type: "error", message: String((err as Error)?.stack ?? err) }));
};
