// Messages between the page (main.ts) and the training worker (trainer.ts).
import type { ImageShape } from "./prepare";

export type EstimatorChoice = "analytic" | "stl" | "td" | "iwae" | "dreg";

/** The page's settings. Model size and threads make a new model; the rest apply from the next step. */
export interface Settings {
  /** dense: D–hidden–Z; conv: two stride-2 convolutions and a dense layer of `hidden` units (images whose sides are multiples of 4) */
  model: "dense" | "conv";
  threads: number;
  estimator: EstimatorChoice;
  samples: number;
  learningRate: number;
  batchSize: number;
  hidden: number;
  latentDim: number;
}

export const DEFAULT_SETTINGS: Settings = { model: "dense", threads: 2, estimator: "analytic", samples: 1, learningRate: 1e-3, batchSize: 100, hidden: 256, latentDim: 2 };

export type ToWorker =
  | { type: "init"; dataUrl: string; settings: Settings }
  | { type: "start" }
  | { type: "pause" }
  | { type: "reset" }
  | { type: "configure"; settings: Settings }
  /** your own data: one file (CSV/TSV, .npy, IDX) or several PNG images */
  | { type: "data"; files: { name: string; bytes: Uint8Array<ArrayBuffer> }[] }
  /** back to MNIST */
  | { type: "mnist" }
  | { type: "encode"; pixels: Float32Array };

/** What the pictures show: where the data came from and how to draw its rows. */
export interface DataView {
  name: string;
  note: string;
  D: number;
  /** null: rows are drawn as profiles */
  image: ImageShape | null;
  /** grey levels for drawing images: [lo, hi] maps to black…white */
  range: [number, number];
  /** whether the drawing pad applies (28×28 greyscale data with the Bernoulli decoder) */
  drawable: boolean;
  /** whether the latent map has class labels */
  labelled: boolean;
  mnist: boolean;
}

export type FromWorker =
  | { type: "ready"; threads: number; maxThreads: number; isolated: boolean; build: string; note: string }
  | { type: "dataset"; view: DataView }
  | { type: "configured"; note: string; threads: number }
  | { type: "progress"; step: number; epoch: number; loss: number; stepsPerSecond: number; running: boolean }
  | {
    type: "snapshot";
    step: number;
    /** SAMPLES held-out rows then their reconstructions, D values each */
    recon: Float32Array;
    /** GRID×GRID decoded rows over the plane of latent dimensions 1 and 2 (the others 0), row-major from the top-left (z2 high, z1 low) */
    manifold: Float32Array;
    /** encoder means of the held-out rows in dimensions 1 and 2, (z1, z2) pairs, and their labels when the data has them */
    latents: Float32Array;
    labels: Uint8Array | null;
  }
  | { type: "drawn"; recon: Float32Array; z: [number, number] }
  | { type: "error"; message: string };

export const SAMPLES = 16;
export const GRID = 15;
/** the latent square the manifold and the map show: [-EXTENT, EXTENT]² */
export const EXTENT = 4;
