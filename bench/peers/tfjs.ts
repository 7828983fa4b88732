// The peer: the same VAE training step in @tensorflow/tfjs-core on @tensorflow/tfjs-backend-wasm
// (its SIMD binary in Node), written the way a tfjs user would: variables, autodiff, tf.train.adam.
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's Node bundle registers no gradients and its ESM register_all_gradients uses
// extensionless imports Node rejects; the union package's CJS bundle registers them all on the
// same tfjs-core instance (kernels still run on the wasm backend chosen below).
import "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { dirname } from "node:path";

export async function tfjsReady(): Promise<string> {
  const require = createRequire(import.meta.url);
  setWasmPaths(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")) + "/");
  await tf.setBackend("wasm");
  await tf.ready();
  return `tfjs-core ${tf.version_core} on backend '${tf.getBackend()}'`;
}

/** A Bernoulli VAE (analytic KL) with `hidden` layers of `act`; returns a function doing one Adam step on x. */
export function tfjsVaeStep(D: number, hidden: number[], Z: number, act: "relu" | "tanh", x: Float32Array, B: number, K = 1, iwae = false): () => void {
  const lin = (i: number, o: number) => {
    const bound = 1 / Math.sqrt(i);
    return { w: tf.variable(tf.randomUniform([i, o], -bound, bound)), b: tf.variable(tf.randomUniform([o], -bound, bound)) };
  };
  const enc: { w: tf.Variable; b: tf.Variable }[] = [];
  let prev = D;
  for (const h of hidden) { enc.push(lin(prev, h)); prev = h; }
  const head = lin(prev, 2 * Z);
  const dec: { w: tf.Variable; b: tf.Variable }[] = [];
  prev = Z;
  for (const h of [...hidden].reverse()) { dec.push(lin(prev, h)); prev = h; }
  const out = lin(prev, D);
  const f = act === "relu" ? tf.relu : tf.tanh;
  const xs = tf.tensor2d(x, [B, D]);
  const opt = tf.train.adam(1e-3);
  return () => {
    tf.tidy(() => {
      opt.minimize(() => {
        let h: tf.Tensor = xs;
        for (const l of enc) h = f(tf.add(tf.matMul(h, l.w), l.b));
        const hz = tf.add(tf.matMul(h, head.w), head.b);
        const [mu, lv] = tf.split(hz, 2, 1);
        const eps = tf.randomNormal([K, B, Z]);
        const z = tf.reshape(tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), eps)), [K * B, Z]);
        let g: tf.Tensor = z;
        for (const l of dec) g = f(tf.add(tf.matMul(g, l.w), l.b));
        const logits = tf.add(tf.matMul(g, out.w), out.b);
        const xr = tf.tile(xs, [K, 1]);
        // log p(x|z) per row = Σ x·l - softplus(l)
        const logpx = tf.reshape(tf.sum(tf.sub(tf.mul(xr, logits), tf.softplus(logits)), 1), [K, B]);
        if (!iwae) {
          const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, lv), tf.square(mu)), tf.exp(lv))));
          return tf.div(tf.sub(kl, tf.div(tf.sum(logpx), K)), B) as tf.Scalar;
        }
        // IWAE bound: log mean_k w with log w = log p(x|z) + log p(z) - log q(z|x)
        const zz = tf.reshape(z, [K, B, Z]);
        const logpz = tf.mul(-0.5, tf.sum(tf.square(zz), 2));
        const logqz = tf.sub(tf.mul(-0.5, tf.sum(tf.square(eps), 2)), tf.mul(0.5, tf.sum(lv, 1)));
        const logw = tf.sub(tf.add(logpx, logpz), logqz);
        return tf.neg(tf.mean(tf.logSumExp(logw, 0))) as tf.Scalar;
      });
    });
  };
}

/**
 * The conv-mnist VAE (bench/conv.ts) in tfjs: conv2d / conv2dTranspose on NHWC images ('same'
 * padding is p1 for k4 s2 here), Bernoulli logits on grey levels, analytic KL; one Adam step on x.
 * tfjs-backend-wasm has no Conv2DBackpropFilter kernel, so the layers' filter gradients are
 * written out (tfConv, tfConvT: patches of the input as strided slices, times the output
 * gradient); everything else is tfjs's own kernels and autodiff. `native`: tf.conv2d's own
 * gradients (backends that have them) — the check that the written-out ones are the same.
 */
export function tfjsConvStep(x: Float32Array, B: number, native = false): { step: () => number; filterGrads: () => Float32Array[] } {
  const Z = 20;
  let seed = 7;
  const u = (shape: number[], fanIn: number) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), "float32", seed++));
  const c1 = { w: u([4, 4, 1, 32], 16), b: u([32], 16) }, c2 = { w: u([4, 4, 32, 64], 512), b: u([64], 512) };
  const f1 = { w: u([3136, 256], 3136), b: u([256], 3136) }, head = { w: u([256, 2 * Z], 256), b: u([2 * Z], 256) };
  const d1 = { w: u([Z, 256], Z), b: u([256], Z) }, d2 = { w: u([256, 3136], 256), b: u([3136], 256) };
  // conv2dTranspose filters are [kh, kw, out, in]
  const t1 = { w: u([4, 4, 32, 64], 512), b: u([32], 512) }, t2 = { w: u([4, 4, 1, 32], 16), b: u([1], 16) };
  const xs = tf.tensor4d(x, [B, 28, 28, 1]);
  const eps = tf.randomNormal([B, Z], 0, 1, "float32", 3);
  const opt = tf.train.adam(1e-3);
  const conv = native ? (h: tf.Tensor4D, w: tf.Variable) => tf.conv2d(h, w as tf.Tensor4D, 2, "same") : tfConv;
  const convT = native ? (h: tf.Tensor4D, w: tf.Variable, shape: [number, number, number, number]) => tf.conv2dTranspose(h, w as tf.Tensor4D, shape, 2, "same") : tfConvT;
  const lossFn = (): tf.Scalar => {
    let h = tf.relu(tf.add(conv(xs, c1.w), c1.b)) as tf.Tensor4D;
    h = tf.relu(tf.add(conv(h, c2.w), c2.b)) as tf.Tensor4D;
    const flat = tf.relu(tf.add(tf.matMul(tf.reshape(h, [B, 3136]), f1.w), f1.b));
    const [mu, lv] = tf.split(tf.add(tf.matMul(flat, head.w), head.b), 2, 1);
    const z = tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), eps));
    const g = tf.relu(tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(z, d1.w), d1.b)), d2.w), d2.b));
    let y = tf.reshape(g, [B, 7, 7, 64]) as tf.Tensor4D;
    y = tf.relu(tf.add(convT(y, t1.w, [B, 14, 14, 32]), t1.b)) as tf.Tensor4D;
    const logits = tf.add(convT(y, t2.w, [B, 28, 28, 1]), t2.b);
    const logpx = tf.sum(tf.sub(tf.mul(xs, logits), tf.softplus(logits)));
    const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, lv), tf.square(mu)), tf.exp(lv))));
    return tf.div(tf.sub(kl, logpx), B) as tf.Scalar;
  };
  const convWeights = [c1.w, c2.w, t1.w, t2.w];
  return {
    step: () => tf.tidy(() => opt.minimize(lossFn, true)!.dataSync()[0]),
    /** the conv layers' filter gradients at the current weights */
    filterGrads: () => {
      let out: Float32Array[] = [];
      tf.tidy(() => {
        const { grads } = tf.variableGrads(lossFn, convWeights);
        out = convWeights.map((w) => grads[w.name].dataSync() as Float32Array);
      });
      return out;
    },
  };
}

/** The k4 s2 p1 patches of x [B, H, W, C] for an Ho×Wo grid: [B·Ho·Wo, 16·C], taps in (kh, kw, c) order. */
function patches(x: tf.Tensor4D, Ho: number, Wo: number): tf.Tensor2D {
  const [B, , , C] = x.shape;
  const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const taps: tf.Tensor4D[] = [];
  for (let kh = 0; kh < 4; kh++) {
    for (let kw = 0; kw < 4; kw++) taps.push(tf.stridedSlice(xp, [0, kh, kw, 0], [B, kh + 2 * Ho - 1, kw + 2 * Wo - 1, C], [1, 2, 2, 1]) as tf.Tensor4D);
  }
  return tf.reshape(tf.concat(taps, 3), [B * Ho * Wo, 16 * C]);
}

/** tf.conv2d(x, w, 2, 'same') (k4), its filter gradient written as patches(x)ᵀ·dY. */
const tfConv = (x: tf.Tensor4D, w: tf.Variable): tf.Tensor4D => tf.customGrad((...a: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [xi, wi, save] = a as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([xi, wi]);
  const value = tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 2, "same");
  const [, Ho, Wo, O] = value.shape;
  return {
    value,
    gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]): tf.Tensor[] => [
      tf.conv2dTranspose(dy as tf.Tensor4D, ws as tf.Tensor4D, (xs as tf.Tensor4D).shape, 2, "same"),
      tf.reshape(tf.matMul(patches(xs as tf.Tensor4D, Ho, Wo), tf.reshape(dy, [-1, O]), true, false), ws.shape),
    ],
  };
})(x, w) as tf.Tensor4D;

/** tf.conv2dTranspose(x, w, shape, 2, 'same') (k4, w [4, 4, out, in]), its filter gradient patches(dY)ᵀ·X. */
const tfConvT = (x: tf.Tensor4D, w: tf.Variable, shape: [number, number, number, number]): tf.Tensor4D => tf.customGrad((...a: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [xi, wi, save] = a as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([xi, wi]);
  const [, H, W, Cin] = (xi as tf.Tensor4D).shape;
  return {
    value: tf.conv2dTranspose(xi as tf.Tensor4D, wi as tf.Tensor4D, shape, 2, "same"),
    gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]): tf.Tensor[] => [
      tf.conv2d(dy as tf.Tensor4D, ws as tf.Tensor4D, 2, "same"),
      tf.reshape(tf.matMul(patches(dy as tf.Tensor4D, H, W), tf.reshape(xs, [-1, Cin]), true, false), ws.shape),
    ],
  };
})(x, w) as tf.Tensor4D;

/**
 * The written-out filter gradients against tf.conv2d's own, on the cpu backend (which has every
 * gradient kernel): the same model both ways after two Adam steps, the largest difference of any
 * conv filter's gradient relative to that filter's largest gradient. Call before tfjsReady (it
 * switches the backend to cpu).
 */
export async function tfjsConvCheck(x: Float32Array, B: number): Promise<number> {
  await tf.setBackend("cpu");
  const [a, b] = [true, false].map((native) => {
    const s = tfjsConvStep(x, B, native);
    s.step();
    s.step();
    return s.filterGrads();
  });
  return Math.max(...a.map((g, i) => {
    const scale = Math.max(...g.map(Math.abs));
    return Math.max(...g.map((v, j) => Math.abs(v - b[i][j]))) / scale;
  }));
}
