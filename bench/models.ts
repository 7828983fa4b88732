// The benchmark's inputs and the two reference models of the thread section.
export const D = 784;

/** 100 rows of fixed grey levels. */
export function benchInput(): Float32Array {
  const x = new Float32Array(100 * D);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) >>> 0) / 4294967296;
  return x;
}

export function threadModels(x: Float32Array) {
  return [
    { name: "784-400-20 VAE, batch 100", opts: { hidden: [400], latentDim: 20 }, x, step: {} },
    {
      name: "784-200-200-50 IWAE k=5, batch 20",
      opts: { hidden: [200, 200], latentDim: 50, activation: "tanh" as const },
      x: x.subarray(0, 20 * D),
      step: { estimator: "iwae" as const, samples: 5 },
    },
  ];
}
