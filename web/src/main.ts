// The page: draws what the training worker sends and forwards the user's drawing to it. All
// computation happens in the worker, so this thread stays free for input and painting.
import { placeByCentreOfMass } from "./centre";
import { paintRows } from "./paint";
import { DEFAULT_SETTINGS, EXTENT, GRID, SAMPLES, type DataView, type FromWorker, type Settings, type ToWorker } from "./protocol";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL("./trainer.ts", import.meta.url), { type: "module" });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

const trainButton = $<HTMLButtonElement>("train");
const resetButton = $<HTMLButtonElement>("reset");
const status = $<HTMLSpanElement>("status");
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
let running = false;
const losses: { step: number; loss: number }[] = [];
let latents: { z: Float32Array; labels: Uint8Array | null } | null = null;
let drawnZ: [number, number] | null = null;
/** how the current data's rows are drawn (MNIST until the worker says otherwise) */
let view: DataView = { name: "MNIST", note: "", D: 784, image: { h: 28, w: 28, c: 1 }, range: [0, 1], drawable: true, labelled: true, mnist: true };

function drawLoss(): void {
  const c = $<HTMLCanvasElement>("loss");
  const ctx = c.getContext("2d")!;
  const W = c.width, H = c.height, L = 48, B = 24, T = 10, R = 10;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  ctx.strokeStyle = "#e4e7ec";
  if (losses.length < 2) {
    ctx.fillText("press Train", W / 2 - 30, H / 2);
    return;
  }
  const maxStep = losses[losses.length - 1].step;
  // the first steps (from ~540 nats) would flatten the rest: the axis starts after 5 % of them,
  // and the line leaves the plot at the top until then
  const vals = losses.map((p) => p.loss);
  const top = Math.max(...vals.slice(Math.floor(vals.length / 20))), bottom = Math.min(...vals);
  const tick = [5, 10, 20, 25, 50, 100, 200].find((t) => (top - bottom) / t <= 5) ?? 250;
  const lo = Math.floor(bottom / tick) * tick, hi = Math.max(lo + tick, Math.ceil(top / tick) * tick);
  const x = (s: number) => L + ((W - L - R) * s) / maxStep;
  const y = (v: number) => T + ((H - T - B) * (hi - v)) / (hi - lo);
  for (let v = lo; v <= hi; v += tick) {
    ctx.beginPath();
    ctx.moveTo(L, y(v));
    ctx.lineTo(W - R, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(0), 6, y(v) + 4);
  }
  ctx.fillText(`step ${maxStep}`, W - R - 60, H - 6);
  ctx.save();
  ctx.beginPath();
  ctx.rect(L, T, W - L - R, H - T - B);
  ctx.clip();
  ctx.strokeStyle = "#3b5bdb";
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((p, i) => (i ? ctx.lineTo(x(p.step), y(p.loss)) : ctx.moveTo(x(p.step), y(p.loss))));
  ctx.stroke();
  ctx.restore();
}

const toPlane = (v: number, size: number) => ((v + EXTENT) / (2 * EXTENT)) * size;

function drawLatent(): void {
  const c = $<HTMLCanvasElement>("latent");
  const ctx = c.getContext("2d")!;
  const S = c.width;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, S, S);
  ctx.strokeStyle = "#e4e7ec";
  ctx.beginPath();
  ctx.moveTo(S / 2, 0); ctx.lineTo(S / 2, S); ctx.moveTo(0, S / 2); ctx.lineTo(S, S / 2);
  ctx.stroke();
  if (latents) {
    for (let i = 0; i < latents.z.length / 2; i++) {
      ctx.fillStyle = latents.labels ? COLORS[latents.labels[i] % COLORS.length] : "#3b5bdb";
      ctx.globalAlpha = 0.75;
      ctx.beginPath();
      ctx.arc(toPlane(latents.z[2 * i], S), S - toPlane(latents.z[2 * i + 1], S), 2.6, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }
  if (drawnZ) drawCross(ctx, toPlane(drawnZ[0], S), S - toPlane(drawnZ[1], S), "#111");
}

function drawCross(ctx: CanvasRenderingContext2D, x: number, y: number, color: string): void {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 6;
  for (const [w, col] of [[6, "#fff"], [3, color]] as const) {
    ctx.lineWidth = w;
    ctx.strokeStyle = col;
    ctx.beginPath();
    ctx.moveTo(x - 9, y - 9); ctx.lineTo(x + 9, y + 9); ctx.moveTo(x + 9, y - 9); ctx.lineTo(x - 9, y + 9);
    ctx.stroke();
  }
  ctx.lineWidth = 1;
}

let manifoldPixels: Float32Array | null = null;
function drawManifold(): void {
  if (!manifoldPixels) return;
  const c = $<HTMLCanvasElement>("manifold");
  paintRows(c, manifoldPixels, GRID * GRID, GRID, 28, view);
  if (drawnZ) {
    // the grid's cell centres run from −EXTENT to EXTENT
    const cell = c.width / GRID;
    const at = (v: number) => cell / 2 + ((v + EXTENT) / (2 * EXTENT)) * (c.width - cell);
    drawCross(c.getContext("2d")!, at(drawnZ[0]), c.width - at(drawnZ[1]), "#e03131");
  }
}

$("legend").innerHTML = COLORS.map((c, d) => `<span><i style="background:${c}"></i>${d}</span>`).join("");

/** The pictures' titles and the drawing pad for the data now in use. */
function showData(v: DataView): void {
  view = v;
  $("data-note").textContent = v.note;
  $<HTMLButtonElement>("use-mnist").disabled = v.mnist;
  const what = v.mnist ? "test digits" : "held-out rows";
  $("recon-title").textContent = `${SAMPLES} ${what} (top) and what the model makes of them (bottom)`;
  $("latent-title").textContent = `encoder means of the ${what} in latent dimensions 1 and 2${v.labelled ? " by label" : ""}${v.drawable ? "; ✕ your drawing" : ""}`;
  $("manifold-title").textContent = `the decoder over latent dimensions 1 and 2 (the others 0), z ∈ [−4, 4]²`;
  $("legend").hidden = !v.labelled;
  $("draw-note").hidden = v.drawable;
  $("draw-note").textContent = v.drawable ? "" : "The drawing pad needs 28×28 greyscale data with values in [0, 1] (like MNIST).";
  $<HTMLElement>("pad").parentElement!.hidden = !v.drawable;
  $("clear").hidden = !v.drawable;
  manifoldPixels = null;
  latents = null;
  drawnZ = null;
  $("z").textContent = "z = –";
}

// ---- settings: read from the form; model size and threads make a new model (the worker decides)
const form = $<HTMLFormElement>("settings");
function readSettings(): Settings {
  const f = new FormData(form);
  const num = (k: keyof Settings) => Number(f.get(k) ?? DEFAULT_SETTINGS[k]);
  return {
    model: String(f.get("model")) as Settings["model"], threads: num("threads"), estimator: String(f.get("estimator")) as Settings["estimator"], samples: num("samples"),
    learningRate: num("learningRate"), batchSize: num("batchSize"), hidden: num("hidden"), latentDim: num("latentDim"),
  };
}
form.onsubmit = (e) => {
  e.preventDefault();
  const s = readSettings();
  $("settings-note").textContent = "applying…";
  send({ type: "configure", settings: s });
};

// ---- your own data: a drop zone and a file picker (the bytes go to the worker)
const drop = $<HTMLLabelElement>("drop");
async function useFiles(list: FileList | null): Promise<void> {
  if (!list || list.length === 0) return;
  const files = await Promise.all(Array.from(list, async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  $("data-note").textContent = `reading ${files.length === 1 ? files[0].name : `${files.length} files`}…`;
  status.classList.remove("warn");
  send({ type: "data", files }, files.map((f) => f.bytes.buffer));
}
$<HTMLInputElement>("file").onchange = (e) => {
  const input = e.target as HTMLInputElement;
  void useFiles(input.files).finally(() => (input.value = ""));
};
drop.ondragover = (e) => {
  e.preventDefault();
  drop.classList.add("over");
};
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  void useFiles(e.dataTransfer?.files ?? null);
};
$("use-mnist").onclick = () => send({ type: "mnist" });

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "ready": {
      trainButton.disabled = resetButton.disabled = false;
      $<HTMLButtonElement>("apply").disabled = false;
      trainButton.textContent = "Train";
      status.textContent = `${m.note} · ${m.build} build`;
      status.classList.toggle("warn", !m.isolated);
      status.dataset.threads = String(m.threads);
      status.dataset.isolated = m.isolated ? "1" : "0";
      status.dataset.build = m.build;
      // (without isolation one thread is all there is)
      const threads = form.elements.namedItem("threads") as HTMLSelectElement;
      for (const o of Array.from(threads.options)) o.disabled = Number(o.value) > m.maxThreads;
      threads.value = String(m.threads);
      break;
    }
    case "dataset":
      showData(m.view);
      drawLatent();
      break;
    case "configured":
      $("settings-note").textContent = m.note;
      if (status.dataset.isolated === "1") status.textContent = `${m.threads} thread${m.threads > 1 ? "s" : ""} over shared memory · ${status.dataset.build} build`;
      status.dataset.threads = String(m.threads);
      break;
    case "progress":
      running = m.running;
      trainButton.textContent = running ? "Pause" : m.step ? "Resume" : "Train";
      if (Number.isFinite(m.loss)) {
        losses.push({ step: m.step, loss: m.loss });
        $("loss-now").textContent = `${m.loss.toFixed(1)} nats`;
      } else {
        losses.length = 0;
        $("loss-now").textContent = "–";
      }
      $("step").textContent = String(m.step);
      $("epoch").textContent = m.epoch.toFixed(2);
      $("rate").textContent = running ? `${m.stepsPerSecond.toFixed(0)} steps/s` : "paused";
      drawLoss();
      break;
    case "snapshot": {
      const n = m.recon.length / (2 * view.D);
      paintRows($<HTMLCanvasElement>("recon"), m.recon, 2 * n, n, 56, view);
      manifoldPixels = m.manifold;
      latents = { z: m.latents, labels: m.labels };
      drawManifold();
      drawLatent();
      if (padDirty && view.drawable) encodeDrawing();
      break;
    }
    case "drawn":
      drawnZ = m.z;
      paintRows($<HTMLCanvasElement>("drawn"), m.recon, 1, 1, 140, view);
      $("z").textContent = `z = (${m.z[0].toFixed(2)}, ${m.z[1].toFixed(2)})`;
      drawManifold();
      drawLatent();
      break;
    case "error":
      $("data-note").textContent = view.note; // (a file that could not be used: the data stays)
      status.textContent = `error: ${m.message}`;
      status.classList.add("warn");
      break;
  }
};
worker.onerror = (e) => {
  status.textContent = `error: ${e.message}`;
  status.classList.add("warn");
};
send({ type: "init", dataUrl: new URL("mnist/", document.baseURI).href, settings: readSettings() });

trainButton.onclick = () => {
  // (the worker's progress messages confirm it; a quick second click must already see the change)
  running = !running;
  trainButton.textContent = running ? "Pause" : "Resume";
  send({ type: running ? "start" : "pause" });
};
resetButton.addEventListener("click", () => {
  running = false;
  trainButton.textContent = "Train";
});
resetButton.onclick = () => send({ type: "reset" });

// ---- the drawing pad: white strokes on black, like MNIST
const pad = $<HTMLCanvasElement>("pad");
const pctx = pad.getContext("2d")!;
let drawing = false;
let padDirty = false;
const clearPad = () => {
  pctx.fillStyle = "#000";
  pctx.fillRect(0, 0, pad.width, pad.height);
  padDirty = false;
};
clearPad();
const point = (e: PointerEvent) => {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
};
pad.onpointerdown = (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  const [x, y] = point(e);
  pctx.beginPath();
  pctx.moveTo(x, y);
};
pad.onpointermove = (e) => {
  if (!drawing) return;
  const [x, y] = point(e);
  pctx.strokeStyle = "#fff";
  pctx.lineWidth = 22;
  pctx.lineCap = pctx.lineJoin = "round";
  pctx.lineTo(x, y);
  pctx.stroke();
  padDirty = true;
};
pad.onpointerup = () => {
  drawing = false;
  if (padDirty) encodeDrawing();
};
$("clear").onclick = () => {
  clearPad();
  drawnZ = null;
  $("z").textContent = "z = –";
  $<HTMLCanvasElement>("drawn").getContext("2d")!.clearRect(0, 0, 140, 140);
  drawManifold();
  drawLatent();
};

/** MNIST's preprocessing: the ink's bounding box scaled into 20×20, then placed by its centre of mass (centre.ts). */
function encodeDrawing(): void {
  const { data } = pctx.getImageData(0, 0, pad.width, pad.height);
  let x0 = pad.width, y0 = pad.height, x1 = -1, y1 = -1;
  for (let y = 0; y < pad.height; y++) {
    for (let x = 0; x < pad.width; x++) {
      if (data[4 * (y * pad.width + x)] > 20) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return;
  const w = x1 - x0 + 1, h = y1 - y0 + 1, s = 20 / Math.max(w, h);
  const sw = Math.max(1, Math.round(w * s)), sh = Math.max(1, Math.round(h * s));
  const small = new OffscreenCanvas(sw, sh);
  const sctx = small.getContext("2d")!;
  sctx.fillStyle = "#000";
  sctx.fillRect(0, 0, sw, sh);
  sctx.imageSmoothingQuality = "high";
  sctx.drawImage(pad, x0, y0, w, h, 0, 0, sw, sh);
  const px = sctx.getImageData(0, 0, sw, sh).data;
  const grey = new Float32Array(sw * sh);
  for (let i = 0; i < grey.length; i++) grey[i] = px[4 * i] / 255;
  const pixels = placeByCentreOfMass(grey, sw, sh);
  send({ type: "encode", pixels }, [pixels.buffer]);
}

drawLoss();
drawLatent();
