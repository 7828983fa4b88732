// The page: draws what the training worker sends and forwards the user's drawing to it. All
// computation happens in the worker, so this thread stays free for input and painting.
import { placeByCentreOfMass } from "./centre";
import { EXTENT, GRID, SAMPLES, type FromWorker, type ToWorker } from "./protocol";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL("./trainer.ts", import.meta.url), { type: "module" });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

const trainButton = $<HTMLButtonElement>("train");
const resetButton = $<HTMLButtonElement>("reset");
const status = $<HTMLSpanElement>("status");
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
let running = false;
const losses: { step: number; loss: number }[] = [];
let latents: { z: Float32Array; labels: Uint8Array } | null = null;
let drawnZ: [number, number] | null = null;

/** Paints 28×28 images (values in [0, 1]) into a canvas as a cols-wide grid of `cell`-pixel tiles. */
function paintDigits(canvas: HTMLCanvasElement, pixels: Float32Array, count: number, cols: number, cell: number): void {
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(cols * 28, Math.ceil(count / cols) * 28);
  for (let n = 0; n < count; n++) {
    const ox = (n % cols) * 28, oy = Math.floor(n / cols) * 28;
    for (let p = 0; p < 784; p++) {
      const v = Math.round(255 * Math.min(1, Math.max(0, pixels[n * 784 + p])));
      const o = 4 * ((oy + Math.floor(p / 28)) * img.width + ox + (p % 28));
      img.data[o] = img.data[o + 1] = img.data[o + 2] = v;
      img.data[o + 3] = 255;
    }
  }
  const tmp = new OffscreenCanvas(img.width, img.height);
  tmp.getContext("2d")!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, img.width * (cell / 28), img.height * (cell / 28));
}

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
    for (let i = 0; i < latents.labels.length; i++) {
      ctx.fillStyle = COLORS[latents.labels[i]];
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
  paintDigits(c, manifoldPixels, GRID * GRID, GRID, c.width / GRID);
  if (drawnZ) {
    // the grid's cell centres run from −EXTENT to EXTENT
    const cell = c.width / GRID;
    const at = (v: number) => cell / 2 + ((v + EXTENT) / (2 * EXTENT)) * (c.width - cell);
    drawCross(c.getContext("2d")!, at(drawnZ[0]), c.width - at(drawnZ[1]), "#e03131");
  }
}

$("legend").innerHTML = COLORS.map((c, d) => `<span><i style="background:${c}"></i>${d}</span>`).join("");

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "ready":
      trainButton.disabled = resetButton.disabled = false;
      trainButton.textContent = "Train";
      status.textContent = `${m.note} · ${m.build} build`;
      status.classList.toggle("warn", !m.isolated);
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
    case "snapshot":
      paintDigits($<HTMLCanvasElement>("recon"), m.recon, 2 * SAMPLES, SAMPLES, 56);
      manifoldPixels = m.manifold;
      latents = { z: m.latents, labels: m.labels };
      drawManifold();
      drawLatent();
      if (padDirty) encodeDrawing();
      break;
    case "drawn":
      drawnZ = m.z;
      paintDigits($<HTMLCanvasElement>("drawn"), m.recon, 1, 1, 140);
      $("z").textContent = `z = (${m.z[0].toFixed(2)}, ${m.z[1].toFixed(2)})`;
      drawManifold();
      drawLatent();
      break;
    case "error":
      status.textContent = `error: ${m.message}`;
      status.classList.add("warn");
      break;
  }
};
worker.onerror = (e) => {
  status.textContent = `error: ${e.message}`;
  status.classList.add("warn");
};
send({ type: "init", dataUrl: new URL("mnist/", document.baseURI).href });

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
