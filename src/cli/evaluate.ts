// `eval` and `variance`: a saved model's test NLL, bounds and active units; its estimators'
// gradient variance.
import { binarize as binarizeOnce } from "../data/rows.js";
import { cliData } from "./data.js";
import { decodeSafetensors } from "../files/safetensors.js";
import { VAE } from "../vae.js";
import { log, progressLine, readModel, type Args } from "./args.js";

export async function evaluate(args: Args): Promise<void> {
  const t0 = performance.now();
  const bytes = readModel(args.model!);
  const vae = await VAE.load(bytes, { build: args.build, threads: args.threads });
  const training = JSON.parse(decodeSafetensors(bytes).metadata.training ?? "{}") as { binarize?: boolean };
  const binarize = args.binarizeGiven ? args.binarize : training.binarize ?? false;
  const data = await cliData(args, true);
  const grey = data.test;
  const test = binarize ? binarizeOnce(grey, args.seed) : grey;
  log(args, `vae-wasm eval: ${args.model} (${vae.parameterCount.toLocaleString("en")} parameters, ${vae.stepCount} steps), ${test.rows} test ${data.mnist ? "images" : `rows of ${data.name}`}${binarize ? " (binarized, seed " + args.seed + ")" : ""}`);
  const elbo = vae.elbo(test, { seed: args.seed });
  const bounds: Record<string, number> = {};
  for (const K of args.bounds) bounds[K] = vae.iwaeBound(test, { samples: K, seed: args.seed });
  const t1 = performance.now();
  const ll = vae.logLikelihood(test, { samples: args.samples, seed: args.seed, onProgress: progressLine(args, "test NLL") });
  const nllSeconds = (performance.now() - t1) / 1000;
  const active = vae.activeUnits(test);
  const se = Math.sqrt(ll.perExample.reduce((a, v) => a + (v - ll.mean) ** 2, 0) / (ll.perExample.length - 1) / ll.perExample.length);
  const result = {
    model: args.model, images: test.rows, binarized: binarize,
    nll: -ll.mean, nllStandardError: se, samples: args.samples, elbo,
    iwaeBounds: bounds, activeUnits: active.count, latentDim: vae.config.latentDim,
    seconds: (performance.now() - t0) / 1000, nllSeconds,
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + "\n");
  } else {
    process.stdout.write(`test NLL (K=${args.samples}):  ${result.nll.toFixed(2)} nats  (± ${se.toFixed(2)} over images)\n`);
    process.stdout.write(`test ELBO:            ${elbo.toFixed(2)} nats\n`);
    for (const [K, v] of Object.entries(bounds)) process.stdout.write(`IWAE bound (K=${K}):`.padEnd(22) + `${v.toFixed(2)} nats\n`);
    process.stdout.write(`active units:         ${active.count} of ${vae.config.latentDim}\n`);
    process.stdout.write(`(${result.seconds.toFixed(1)} s)\n`);
  }
  vae.dispose();
}

export async function variance(args: Args): Promise<void> {
  const t0 = performance.now();
  const vae = await VAE.load(readModel(args.model!), { build: args.build, threads: args.threads });
  const grey = (await cliData({ ...args, testSize: args.testSize ?? 100 }, true)).test;
  const x = args.binarize ? binarizeOnce(grey, args.seed) : grey;
  log(args, `vae-wasm variance: ${args.model}, ${x.rows} test rows, ${args.draws} draws, K=${args.samples}, estimators ${args.estimators.join(", ")}`);
  const stats = vae.gradientStats(x, { estimators: args.estimators as never, draws: args.draws, samples: args.samples, seed: args.seed });
  if (args.json) {
    process.stdout.write(JSON.stringify({ model: args.model, images: x.rows, ...stats, seconds: (performance.now() - t0) / 1000 }) + "\n");
  } else {
    process.stdout.write(`${"estimator".padEnd(10)}${"group".padEnd(10)}${"tr Var g".padStart(12)}${"‖E g‖".padStart(12)}${"SNR".padStart(10)}${"t vs " + stats.reference}\n`.replace(/t vs/, "   t vs"));
    for (const [name, groups] of Object.entries(stats.estimators)) {
      for (const group of ["encoder", "decoder"]) {
        const g = groups[group];
        process.stdout.write(`${name.padEnd(10)}${group.padEnd(10)}${g.varianceTrace.toExponential(3).padStart(12)}${g.meanNorm.toExponential(3).padStart(12)}` +
          `${g.snr.toFixed(3).padStart(10)}${(name === stats.reference ? "-" : g.t.toFixed(2)).padStart(10)}\n`);
      }
    }
    const ref = stats.estimators[stats.reference].encoder.varianceTrace;
    for (const name of Object.keys(stats.estimators)) {
      if (name !== stats.reference) process.stdout.write(`encoder variance ${name}/${stats.reference}: ${(stats.estimators[name].encoder.varianceTrace / ref).toFixed(4)}\n`);
    }
  }
  vae.dispose();
}
