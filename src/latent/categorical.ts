// A categorical latent: N variables of C categories with a uniform prior, trained through the
// Gumbel-softmax / Concrete relaxation (Jang, Gu & Poole 2017; Maddison, Mnih & Teh 2017). The
// head gives the N·C logits (variable n's C categories contiguous); training feeds the decoder
// softmax((l + g)/τ), g standard Gumbel noise, or with straight-through the hard one-hot
// argmax(l + g) with gradients through the relaxed sample. The KL to the uniform prior is in
// closed form; log q at a relaxed sample is not provided, so only the analytic-KL estimator
// applies. Evaluation uses exact categorical samples (the hard one-hot, Gumbel-max).
import { ACT, STREAM } from "../../bindings/abi.js";
import type { StaticPlan } from "../nn/plan.js";
import { SeededRandom } from "../util/random.js";
import { checkInt, fail, type Matrix } from "../util/validate.js";
import type { LatentKind, LatentModel } from "./kind.js";

export interface CategoricalPlan {
  kind: "categorical";
  /** variables and categories */
  N: number;
  C: number;
}

const plan = (p: StaticPlan) => p.latent as CategoricalPlan;

/** q(y|x) for every row of x, [rows, N·C], each variable's categories summing to 1 (softmax of the logits). */
function probs(m: LatentModel, x: Matrix, C: number): Float32Array {
  const Z = m.Z;
  const out = new Float32Array(x.rows * Z);
  m.heads(x, (h, s, B) => {
    for (let g = 0; g < B * Z; g += C) {
      let mx = -Infinity, sum = 0;
      for (let c = 0; c < C; c++) mx = Math.max(mx, h[g + c]);
      for (let c = 0; c < C; c++) sum += Math.exp(h[g + c] - mx);
      for (let c = 0; c < C; c++) out[s * Z + g + c] = Math.exp(h[g + c] - mx) / sum;
    }
  });
  return out;
}

/** One-hot codes [n, N·C] from category indices. */
function oneHot(pick: (row: number, variable: number) => number, n: number, N: number, C: number): Float32Array {
  const z = new Float32Array(n * N * C);
  for (let r = 0; r < n; r++) for (let v = 0; v < N; v++) z[(r * N + v) * C + pick(r, v)] = 1;
  return z;
}

export const categorical: LatentKind = {
  describe: "categorical (Gumbel-softmax)",
  option: {
    key: "latent",
    keys: ["variables", "categories"],
    form: "{type: 'categorical', variables, categories}",
    resolve(fn, o, latentDim, given, arg) {
      const variables = checkInt(fn, `${arg}.latent.variables`, o.variables, 1, 1 << 16);
      const categories = checkInt(fn, `${arg}.latent.categories`, o.categories, 2, 1 << 16);
      if (given && latentDim !== variables * categories) {
        fail(fn, `${arg}.latentDim`, `${variables * categories} (variables × categories) or nothing for a categorical latent`, latentDim);
      }
      return { resolved: { type: "categorical", variables, categories }, latentDim: variables * categories };
    },
  },
  provides: ["analyticKL"],
  refuse: () => "'analytic' for a categorical latent (the relaxed ELBO with the closed-form KL to the uniform prior, as in " +
    "Jang et al. 2017); the other estimators need log q at the relaxed sample, which this library does not provide",
  defaultEstimator: "analytic",
  noise: "gumbel",
  relaxed: true,
  slots: {
    /** the relaxed sample y_soft [R, Z] (the decoder may see the hard one in z) */
    zs: { floats: (d) => d.R * d.p.Z },
  },

  build(L, c) {
    const head = L.dense(c.top, c.Z, ACT.identity);
    L.tensor("encoder.logits.weight", [c.Z, c.top], head.w);
    L.tensor("encoder.logits.bias", [c.Z], head.b);
    const lat = c.latent as { variables: number; categories: number };
    return { head, plan: { kind: "categorical", N: lat.variables, C: lat.categories } satisfies CategoricalPlan };
  },

  sample(k, p, ws, a, b0, b1) {
    const { N, C } = plan(p);
    k.gumbelSoftmax(ws.z, ws.zs as number, ws.eps, ws.h, a.K, N, C, a.relax.tau, a.relax.hard ? 1 : 0, b0, b1);
  },
  kl(k, p, ws, b0, b1) {
    const { N, C } = plan(p);
    k.categoricalKL(ws.kl, ws.h, N, C, b0, b1);
  },
  backward(k, p, ws, a, b0, b1) {
    const { N, C } = plan(p);
    k.categoricalBackward(ws.dh, ws.dz, ws.zs as number, ws.h, a.K, N, C, a.relax.tau, a.klScale, b0, b1);
  },

  latentProbs: (m, x) => probs(m, x, plan(m.plan).C),
  /** the mode of q(y|x), or an exact sample by the Gumbel-max trick (noise keyed by seed, prior stream, example) */
  reconstruct(m, x, sample, seed) {
    const { N, C } = plan(m.plan);
    const q = probs(m, x, C);
    const rows = q.length / m.Z;
    const g = sample ? m.noise("gumbel", rows, seed, STREAM.prior) : null;
    return m.decode(oneHot((r, v) => {
      let best = 0, arg = 0;
      for (let c = 0; c < C; c++) {
        const i = (r * N + v) * C + c;
        const score = g ? Math.log(q[i]) + g[i] : q[i];
        if (c === 0 || score > best) [best, arg] = [score, c];
      }
      return arg;
    }, rows, N, C));
  },
  /** y ~ the uniform prior: each variable's category uniformly at random */
  samplePrior(m, n, seed) {
    const { N, C } = plan(m.plan);
    const rng = new SeededRandom(seed, STREAM.prior);
    return oneHot(() => Math.floor(rng.next() * C), n, N, C);
  },
};
