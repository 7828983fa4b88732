// The pictures people look at: the 2-D latent manifold, the seed's trajectory figure, gradient
// variance over training, training curves. Plots are drawn with vega-lite (a maintained
// grammar-of-graphics library that renders SVG headless in Node, axes and legends included);
// image grids are PNG (image.ts).
import type { VAE, EpochRecord } from "../vae.js";
import { linearGaussian, linearGaussianVAE } from "../toy/linear-gaussian.js";

/** Renders a vega-lite spec to an SVG string. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vl = await import("vega-lite");
  const vega = await import("vega");
  const compiled = vl.compile({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", ...spec } as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/**
 * Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
 * see: https://web.archive.org/web/20151030215612/http://home.online.no/~pjacklam/notes/invnorm/
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1); got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * The learned 2-D manifold (Kingma & Welling 2014, fig. 4): decoder outputs for an n×n grid of
 * z placed at Gaussian quantiles Φ⁻¹(p), p evenly spaced in (0.05, 0.95); row 0 is the top
 * (largest z₂). Returns n·n images (probabilities or means), row-major.
 */
export function manifold(vae: VAE, n = 20): Float32Array {
  if (vae.config.latentDim !== 2) throw new Error(`manifold: the model needs a 2-D latent space; it has ${vae.config.latentDim}`);
  const q = Array.from({ length: n }, (_, i) => normalQuantile(0.05 + (0.9 * i) / (n - 1)));
  const z = new Float32Array(n * n * 2);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      z[(row * n + col) * 2] = q[col];
      z[(row * n + col) * 2 + 1] = q[n - 1 - row];
    }
  }
  return vae.decode(z);
}

/**
 * The seed's last figure, on the linear-Gaussian model with a known posterior: variational
 * parameters φ(α) = φ* + α·Δ on a line through the exact posterior φ*. Top: log p(x,z) − log q(z|x)
 * along a line of samples z = μ + σ·ε, ε = t·(1,1)/√2: flat (= log p(x)) exactly at α = 0.
 * Bottom: the spread (√ tr Var) of the encoder gradient of the total derivative and of the path
 * derivative (STL) along the same trajectory; STL's vanishes at α = 0.
 */
export async function trajectoryFigure(opts: { draws?: number } = {}): Promise<string> {
  const m = linearGaussian();
  const x = Float32Array.from([1.2, -0.7, 0.4, 2.0]);
  const curves: { t: number; logw: number; alpha: string }[] = [];
  for (const alpha of [-1, -0.5, 0, 0.5, 1]) {
    const vae = await linearGaussianVAE(m, alpha);
    for (let i = 0; i <= 60; i++) {
      const t = -3 + (6 * i) / 60;
      const e = t / Math.SQRT2;
      const r = vae.lossAndGrads(x, { estimator: "td", eps: Float32Array.from([e, e]) });
      curves.push({ t, logw: -r.loss, alpha: `α = ${alpha}` });
    }
    vae.dispose();
  }
  const spread: { alpha: number; std: number; estimator: string }[] = [];
  for (let i = 0; i <= 20; i++) {
    const alpha = -1 + i / 10;
    const vae = await linearGaussianVAE(m, alpha);
    const s = vae.gradientStats(x, { estimators: ["td", "stl"], draws: opts.draws ?? 300 });
    spread.push({ alpha, std: Math.sqrt(s.estimators.td.encoder.varianceTrace), estimator: "total derivative (TD)" });
    spread.push({ alpha, std: Math.sqrt(s.estimators.stl.encoder.varianceTrace), estimator: "path derivative (STL)" });
    vae.dispose();
  }
  return renderSvg({
    title: "Linear-Gaussian model: trajectory through the true posterior φ*",
    resolve: { scale: { color: "independent" } },
    vconcat: [
      {
        width: 520, height: 240, data: { values: curves }, mark: { type: "line" },
        encoding: {
          x: { field: "t", type: "quantitative", title: "sample position t  (ε = t·(1,1)/√2)" },
          y: { field: "logw", type: "quantitative", title: "log p(x,z) − log q(z|x)", scale: { zero: false } },
          color: { field: "alpha", type: "nominal", title: "φ = φ* + α·Δ", sort: ["α = -1", "α = -0.5", "α = 0", "α = 0.5", "α = 1"] },
        },
      },
      {
        width: 520, height: 200, data: { values: spread }, mark: { type: "line", point: true },
        encoding: {
          x: { field: "alpha", type: "quantitative", title: "position on the trajectory α (0 = true posterior)" },
          y: { field: "std", type: "quantitative", title: "encoder gradient spread √tr Var" },
          color: { field: "estimator", type: "nominal", title: "estimator", legend: { labelLimit: 300 } },
        },
      },
    ],
  });
}

/** Gradient variance (and SNR) of several estimators against the training step, from gradientStats records. */
export async function varianceFigure(records: { step: number; estimator: string; varianceTrace: number; snr: number }[], title: string): Promise<string> {
  return renderSvg({
    title,
    hconcat: [
      {
        width: 340, height: 240, data: { values: records }, mark: { type: "line", point: true },
        encoding: {
          x: { field: "step", type: "quantitative", title: "training step" },
          y: { field: "varianceTrace", type: "quantitative", scale: { type: "log" }, title: "encoder gradient variance tr Var g (log)" },
          color: { field: "estimator", type: "nominal", legend: { labelLimit: 300 } },
        },
      },
      {
        width: 340, height: 240, data: { values: records }, mark: { type: "line", point: true },
        encoding: {
          x: { field: "step", type: "quantitative", title: "training step" },
          y: { field: "snr", type: "quantitative", scale: { type: "log" }, title: "encoder SNR ‖E g‖/√tr Var g (log)" },
          color: { field: "estimator", type: "nominal", legend: { labelLimit: 300 } },
        },
      },
    ],
  });
}

/** Train and test ELBO (and an NLL estimate where given) per epoch. */
export async function curvesFigure(history: (EpochRecord & { nll?: number })[], title: string): Promise<string> {
  const values = history.flatMap((h) => [
    { epoch: h.epoch, nats: -h.loss, series: "train ELBO" },
    ...(h.validationLoss !== undefined ? [{ epoch: h.epoch, nats: -h.validationLoss, series: "test ELBO" }] : []),
    ...(h.nll !== undefined ? [{ epoch: h.epoch, nats: -h.nll, series: "test log p(x) (importance sampled)" }] : []),
  ]);
  return renderSvg({
    title, width: 520, height: 280, data: { values }, mark: { type: "line", point: true },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1, format: "d" } },
      y: { field: "nats", type: "quantitative", title: "nats per image (higher is better)", scale: { zero: false } },
      color: { field: "series", type: "nominal", title: null, legend: { labelLimit: 300 } },
    },
  });
}
