// Published training protocols as presets: the model options and fit options a paper used.
import type { VAEOptions } from "./config.js";
import type { FitOptions } from "./options.js";

export interface Preset {
  name: string;
  model: VAEOptions;
  fit: FitOptions & { epochs: number };
  /** importance samples for the reported test NLL */
  evalSamples: number;
  /** train and test data are binarized (train dynamically, test once with a fixed seed) */
  binarize: boolean;
  /** initialise the decoder's output bias from the training mean */
  initOutputBias: boolean;
  /** the protocol fixes the epochs, batch size and learning rate (a schedule); else they are defaults the user may change */
  schedule: boolean;
}

/**
 * Burda, Grosse & Salakhutdinov (2016), "Importance Weighted Autoencoders", MNIST, one
 * stochastic layer: 784-200-200 tanh encoder, 50 latent units, 200-200 tanh decoder, Bernoulli;
 * batch 20; Adam (β1 0.9, β2 0.999, ε 1e-4); stage i = 0…7 runs 3^i epochs at learning rate
 * 1e-3·10^(−i/7) (3,280 epochs in all); output bias from the training mean; dynamic
 * binarization; test NLL with K = 5000. `stages` < 8 runs a prefix of the schedule
 * (4 stages = 40 epochs). Published test NLL (Table 1): VAE k=1 86.76, IWAE k=5 85.54, k=50 84.78.
 */
export function iwaeMnist(stages = 8): Preset {
  if (!Number.isInteger(stages) || stages < 1 || stages > 8) {
    throw new Error(`iwaeMnist: stages must be an integer in [1, 8] (the paper's schedule has 8); got ${stages}`);
  }
  const starts: number[] = [];
  let epochs = 0;
  for (let i = 0; i < stages; i++) {
    starts.push(epochs);
    epochs += 3 ** i;
  }
  const stageOf = (epoch: number) => {
    let i = 0;
    while (i + 1 < starts.length && epoch >= starts[i + 1]) i++;
    return i;
  };
  return {
    name: "iwae-mnist",
    model: { inputDim: 784, latentDim: 50, hidden: [200, 200], decoderHidden: [200, 200], activation: "tanh", likelihood: "bernoulli" },
    fit: {
      epochs, batchSize: 20, betas: [0.9, 0.999], adamEps: 1e-4, binarize: true,
      learningRate: (epoch: number) => 1e-3 * 10 ** (-stageOf(epoch) / 7),
    },
    evalSamples: 5000,
    binarize: true,
    initOutputBias: true,
    schedule: true,
  };
}

/**
 * A convolutional VAE for 28×28 greyscale images, the shape of the VAE collections' conv models:
 * encoder Conv(1→32, k4, s2, p1) → Conv(32→64, k4, s2, p1) → flatten → dense 256 → μ, log σ²
 * (20 latent units); decoder dense 256 → dense 64·7·7 → unflatten → ConvT(64→32, k4, s2, p1) →
 * ConvT(32→1, k4, s2, p1) → Bernoulli logits; ReLU between layers. Trained with the PyTorch
 * example's protocol: grey-level targets, Adam 1e-3, batch 128, 10 epochs.
 */
export function convMnist(): Preset {
  return {
    name: "conv-mnist",
    model: {
      inputShape: [1, 28, 28], latentDim: 20, activation: "relu", likelihood: "bernoulli",
      encoder: [
        { type: "conv", out: 32, kernel: 4, stride: 2, padding: 1 }, { type: "conv", out: 64, kernel: 4, stride: 2, padding: 1 },
        { type: "flatten" }, { type: "dense", units: 256 },
      ],
      decoder: [
        { type: "dense", units: 256 }, { type: "dense", units: 64 * 7 * 7 }, { type: "unflatten", shape: [64, 7, 7] },
        { type: "convT", out: 32, kernel: 4, stride: 2, padding: 1 }, { type: "convT", out: 1, kernel: 4, stride: 2, padding: 1 },
      ],
    },
    fit: { epochs: 10, batchSize: 128, learningRate: 1e-3 },
    evalSamples: 5000,
    binarize: false,
    initOutputBias: false,
    schedule: false,
  };
}

export const PRESETS: Record<string, (stages?: number) => Preset> = { "iwae-mnist": iwaeMnist, "conv-mnist": convMnist };
