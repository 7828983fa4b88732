// Messages between the page (main.ts) and the training worker (trainer.ts).

export type ToWorker =
  | { type: "init"; dataUrl: string }
  | { type: "start" }
  | { type: "pause" }
  | { type: "reset" }
  | { type: "encode"; pixels: Float32Array };

export type FromWorker =
  | { type: "ready"; threads: number; isolated: boolean; build: string; trainSize: number; note: string }
  | { type: "progress"; step: number; epoch: number; loss: number; stepsPerSecond: number; running: boolean }
  | {
    type: "snapshot";
    step: number;
    /** SAMPLES test digits then their reconstructions, 784 values each in [0, 1] */
    recon: Float32Array;
    /** GRID×GRID decoded images over the latent plane, row-major from the top-left (z2 high, z1 low) */
    manifold: Float32Array;
    /** encoder means of the test digits, (z1, z2) pairs, and their labels */
    latents: Float32Array;
    labels: Uint8Array;
  }
  | { type: "drawn"; recon: Float32Array; z: [number, number] }
  | { type: "error"; message: string };

export const SAMPLES = 16;
export const GRID = 15;
/** the latent square the manifold and the map show: [-EXTENT, EXTENT]² */
export const EXTENT = 4;
