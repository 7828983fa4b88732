// The peer a JavaScript user would try after TensorFlow.js: jax-js (npm @jax-js/jax, JAX's API in
// JavaScript, a wasm backend with SIMD; one thread in Node). The same Bernoulli VAE training steps
// as tfjs.ts, written the JAX way: a pure loss of (params, x, eps), and ONE jit-compiled step
// doing valueAndGrad and Adam (PyTorch's form) on parameter trees, called again and again. jax-js
// counts references: every array passed to a function is consumed, `.ref` keeps one alive, so
// the step returns the new trees and the old ones are gone (memory stays flat).
import { jit, nn, numpy as np, random, tree, valueAndGrad, type Array as JaxArray } from "@jax-js/jax";

type Linear = { w: JaxArray; b: JaxArray };
type Params = { enc: Linear[]; mu: Linear; logvar: Linear; dec: Linear[]; out: Linear };

/** PyTorch's nn.Linear initialisation, U(±1/√in), weights [in, out] (x·W). */
function linear(key: number, inDim: number, outDim: number): Linear {
  const bound = 1 / Math.sqrt(inDim);
  const [kw, kb] = [random.key(2 * key), random.key(2 * key + 1)];
  return {
    w: random.uniform(kw, [inDim, outDim], { minval: -bound, maxval: bound }),
    b: random.uniform(kb, [outDim], { minval: -bound, maxval: bound }),
  };
}

/**
 * A Bernoulli VAE D-hidden-Z with `act` (analytic KL, or the IWAE bound with K samples); returns
 * `step()` doing one Adam step (lr 1e-3, β 0.9/0.999, ε `adamEps`) on x [B, D] and returning the
 * loss, and `dispose()`.
 */
export function jaxVaeStep(D: number, hidden: number[], Z: number, act: "relu" | "tanh", x: Float32Array, B: number, K = 1, iwae = false,
  adamEps = iwae ? 1e-4 : 1e-8): { step: (batch?: Float32Array) => number; dispose: () => void } {
  let n = 0;
  const enc: Linear[] = [];
  let prev = D;
  for (const h of hidden) { enc.push(linear(++n, prev, h)); prev = h; }
  const mu = linear(++n, prev, Z), logvar = linear(++n, prev, Z);
  const dec: Linear[] = [];
  prev = Z;
  for (const h of [...hidden].reverse()) { dec.push(linear(++n, prev, h)); prev = h; }
  const out = linear(++n, prev, D);
  let params: Params = { enc, mu, logvar, dec, out };
  let m = tree.map((p: JaxArray) => np.zerosLike(p), tree.ref(params)) as Params;
  let v = tree.map((p: JaxArray) => np.zerosLike(p), tree.ref(params)) as Params;
  const f = act === "relu" ? nn.relu : np.tanh;
  const dense = (h: JaxArray, l: Linear) => np.matmul(h, l.w).add(l.b);

  // the negative ELBO (analytic KL) or IWAE bound per example; eps [K, B, Z]
  const loss = (p: Params, xs: JaxArray, eps: JaxArray): JaxArray => {
    let h = xs.ref;
    for (const l of p.enc) h = f(dense(h, l));
    const m_ = dense(h.ref, p.mu), lv = dense(h, p.logvar);
    const z = m_.ref.add(np.exp(lv.ref.mul(0.5)).mul(eps.ref)); // [K, B, Z]
    let g = z.ref;
    for (const l of p.dec) g = f(dense(g, l));
    const logits = dense(g, p.out); // [K, B, D]
    const logpx = xs.mul(logits.ref).sub(nn.softplus(logits)).sum(2); // [K, B]
    if (!iwae) {
      z.dispose();
      eps.dispose();
      const kl = np.sum(lv.ref.add(1).sub(np.square(m_)).sub(np.exp(lv))).mul(-0.5);
      return kl.sub(logpx.sum().div(K)).div(B);
    }
    m_.dispose();
    // log w = log p(x|z) + log p(z) − log q(z|x) (the 2π terms cancel)
    const logpz = np.square(z).sum(2).mul(-0.5);
    const logqz = np.square(eps).sum(2).mul(-0.5).sub(lv.sum(1).mul(0.5));
    return nn.logsumexp(logpx.add(logpz).sub(logqz), 0).sub(Math.log(K)).mean().neg();
  };
  const vg = valueAndGrad(loss);
  const [b1, b2] = [0.9, 0.999];
  const update = jit((p: Params, m0: Params, v0: Params, xs: JaxArray, eps: JaxArray, c1: JaxArray, c2: JaxArray) => {
    const [value, g] = vg(tree.ref(p), xs, eps);
    const m1 = tree.map((mi: JaxArray, gi: JaxArray) => mi.mul(b1).add(gi.mul(1 - b1)), m0, tree.ref(g)) as Params;
    const v1 = tree.map((vi: JaxArray, gi: JaxArray) => vi.mul(b2).add(np.square(gi).mul(1 - b2)), v0, g) as Params;
    // p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε): c1 = lr/(1 − β1^t), c2 = 1/√(1 − β2^t)
    const p1 = tree.map((pi: JaxArray, mi: JaxArray, vi: JaxArray) => pi.sub(mi.mul(c1.ref).div(np.sqrt(vi).mul(c2.ref).add(adamEps))),
      p, tree.ref(m1), tree.ref(v1)) as Params;
    c1.dispose();
    c2.dispose();
    return [value, p1, m1, v1] as const;
  });
  const xs = np.array(x).reshape([B, D]);
  let t = 0, key = 1000;
  return {
    /** one step on x, or on `batch` ([B, D]) when given; returns the loss */
    step: (batch?: Float32Array) => {
      t++;
      const eps = random.normal(random.key(key++), [K, B, Z]);
      const input = batch ? np.array(batch).reshape([B, D]) : xs.ref;
      const [value, p1, m1, v1] = update(params, m, v, input, eps, np.array(1e-3 / (1 - b1 ** t)), np.array(1 / Math.sqrt(1 - b2 ** t)));
      [params, m, v] = [p1, m1, v1];
      return value.item(); // (item() consumes the array)
    },
    dispose: () => {
      tree.dispose([params, m, v]);
      xs.dispose();
      update.dispose();
    },
  };
}

/**
 * Whether the jax-js step learns like the library's: both train the same 784-400-20 model (each
 * its own initialisation) on the same MNIST batches; the mean loss over steps [a, b) for each
 * window.
 */
export async function jaxLearns(train: Float32Array, B: number, windows: [number, number][],
  libraryStep: (x: Float32Array) => number): Promise<{ jax: number[]; library: number[] }> {
  const D = 784, steps = Math.max(...windows.map((w) => w[1]));
  const jax = jaxVaeStep(D, [400], 20, "relu", train.subarray(0, B * D), B);
  const lj: number[] = [], ll: number[] = [];
  const batches = Math.floor(train.length / (B * D));
  for (let i = 0; i < steps; i++) {
    const x = train.subarray((i % batches) * B * D, ((i % batches) + 1) * B * D);
    lj.push(jax.step(Float32Array.from(x)));
    ll.push(libraryStep(x));
  }
  jax.dispose();
  const mean = (a: number[], [s, e]: [number, number]) => a.slice(s, e).reduce((x, y) => x + y, 0) / (e - s);
  return { jax: windows.map((w) => mean(lj, w)), library: windows.map((w) => mean(ll, w)) };
}
