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
 */
export function tfjsConvStep(x: Float32Array, B: number): () => void {
  const Z = 20;
  const u = (shape: number[], fanIn: number) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
  const c1 = { w: u([4, 4, 1, 32], 16), b: u([32], 16) }, c2 = { w: u([4, 4, 32, 64], 512), b: u([64], 512) };
  const f1 = { w: u([3136, 256], 3136), b: u([256], 3136) }, head = { w: u([256, 2 * Z], 256), b: u([2 * Z], 256) };
  const d1 = { w: u([Z, 256], Z), b: u([256], Z) }, d2 = { w: u([256, 3136], 256), b: u([3136], 256) };
  // conv2dTranspose filters are [kh, kw, out, in]
  const t1 = { w: u([4, 4, 32, 64], 512), b: u([32], 512) }, t2 = { w: u([4, 4, 1, 32], 16), b: u([1], 16) };
  const xs = tf.tensor4d(x, [B, 28, 28, 1]);
  const opt = tf.train.adam(1e-3);
  return () => {
    tf.tidy(() => {
      opt.minimize(() => {
        let h = tf.relu(tf.add(tf.conv2d(xs, c1.w as tf.Tensor4D, 2, "same"), c1.b)) as tf.Tensor4D;
        h = tf.relu(tf.add(tf.conv2d(h, c2.w as tf.Tensor4D, 2, "same"), c2.b)) as tf.Tensor4D;
        const flat = tf.relu(tf.add(tf.matMul(tf.reshape(h, [B, 3136]), f1.w), f1.b));
        const [mu, lv] = tf.split(tf.add(tf.matMul(flat, head.w), head.b), 2, 1);
        const z = tf.add(mu, tf.mul(tf.exp(tf.mul(lv, 0.5)), tf.randomNormal([B, Z])));
        const g = tf.relu(tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(z, d1.w), d1.b)), d2.w), d2.b));
        let y = tf.reshape(g, [B, 7, 7, 64]) as tf.Tensor4D;
        y = tf.relu(tf.add(tf.conv2dTranspose(y, t1.w as tf.Tensor4D, [B, 14, 14, 32], 2, "same"), t1.b)) as tf.Tensor4D;
        const logits = tf.add(tf.conv2dTranspose(y, t2.w as tf.Tensor4D, [B, 28, 28, 1], 2, "same"), t2.b);
        const logpx = tf.sum(tf.sub(tf.mul(xs, logits), tf.softplus(logits)));
        const kl = tf.mul(-0.5, tf.sum(tf.sub(tf.sub(tf.add(1, lv), tf.square(mu)), tf.exp(lv))));
        return tf.div(tf.sub(kl, logpx), B) as tf.Scalar;
      });
    });
  };
}
