// Normalizing flows on the reparameterized sample z0 ~ q0(z|x) = N(mu, diag σ²):
//   z_T = f_T ∘ … ∘ f_1(z0),   log q(z_T|x) = log q0(z0|x) − Σ_t log|det ∂f_t/∂z_{t−1}|.
// Rows r = b·K + k as everywhere. z_t for t = 0…T−1 lives in slabs `zt + t·stride` (floats), the
// last one z_T in `zOut` (the decoder's input). Per-row arithmetic is f64; stored values f32,
// and every layer reads its input back from memory, so forward and backward see the same z_t.
//
// Amortized flows (Rezende & Mohamed 2015): the encoder's flow head gives every example its own
// flow parameters hf[b, T·L] (L per layer):
//   planar (L = 2Z+1: u, w, b):  f(z) = z + û·tanh(wᵀz + b),
//     û = u + (m(wᵀu) − wᵀu)·w/‖w‖², m(x) = −1 + softplus(x)   (appendix A: wᵀû = m(wᵀu) ≥ −1,
//     so f is invertible),  log|det| = log|1 + (1 − tanh²)·wᵀû|;
//   radial (L = Z+2: z_ref, α̂, β̂):  α = softplus(α̂), β = −α + softplus(β̂)  (β ≥ −α: invertible),
//     f(z) = z + β·h·(z − z_ref), h = 1/(α + r), r = ‖z − z_ref‖,
//     log|det| = (Z−1)·log(1 + βh) + log(1 + βh + βh′r) = (Z−1)·log(1 + βh) + log(1 + βαh²).
// Inverse autoregressive flow (Kingma et al. 2016): the masked networks are dense layers of the
// engine (their masks applied to weights and gradients by maskMul); iafGate is the gated update
//   σ = sigmoid(s), z_t = σ⊙z_{t−1} + (1 − σ)⊙m,  log|det| = Σ log σ.

export const FLOW_PLANAR: i32 = 0;
export const FLOW_RADIAL: i32 = 1;

// @ts-ignore: decorator
@inline function softplus(x: f64): f64 {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

// @ts-ignore: decorator
@inline function sigmoid(x: f64): f64 {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

// @ts-ignore: decorator
@inline function ld(p: usize, j: i32): f64 {
  return <f64>load<f32>(p + (<usize>j << 2));
}

// @ts-ignore: decorator
@inline function st(p: usize, j: i32, v: f64): void {
  store<f32>(p + (<usize>j << 2), <f32>v);
}

/** s0 + Σ_j a_j·b_j over Z floats, in f64. */
// @ts-ignore: decorator
@inline function dot(s0: f64, a: usize, b: usize, Z: i32): f64 {
  let s = s0;
  for (let j = 0; j < Z; j++) s += ld(a, j) * ld(b, j);
  return s;
}

/** Floats of one layer's amortized parameters. */
export function flowParamsPerLayer(kind: i32, Z: i32): i32 {
  return kind == FLOW_PLANAR ? 2 * Z + 1 : Z + 2;
}

/** Input of layer t (1-based): z_{t−1}. */
// @ts-ignore: decorator
@inline function layerIn(zt: usize, stride: i32, t: i32, o: usize): usize {
  return zt + (<usize>((t - 1) * stride) << 2) + o;
}

// @ts-ignore: decorator
@inline function layerOut(zt: usize, stride: i32, zOut: usize, t: i32, T: i32, o: usize): usize {
  return t == T ? zOut + o : zt + (<usize>(t * stride) << 2) + o;
}

/**
 * Forward of T amortized layers for examples [b0, b1), K rows each: z_1 … z_T from z0 (slab 0),
 * logdet[r] = Σ_t log|det J_t| (written).
 */
export function flowForward(
  kind: i32, zt: usize, stride: i32, zOut: usize, logdet: usize, hf: usize,
  T: i32, K: i32, Z: i32, b0: i32, b1: i32,
): void {
  const L = flowParamsPerLayer(kind, Z);
  for (let b = b0; b < b1; b++) {
    for (let k = 0; k < K; k++) {
      const r = b * K + k;
      const o = <usize>(r * Z) << 2;
      let sum: f64 = 0;
      for (let t = 1; t <= T; t++) {
        const zin = layerIn(zt, stride, t, o);
        const zo = layerOut(zt, stride, zOut, t, T, o);
        const p = hf + (<usize>(b * T * L + (t - 1) * L) << 2);
        if (kind == FLOW_PLANAR) {
          const u = p, w = p + (<usize>Z << 2);
          const wu = dot(0, w, u, Z), n2 = dot(0, w, w, Z), a = dot(ld(p, 2 * Z), w, zin, Z);
          const m = softplus(wu) - 1;
          const coef = n2 > 0 ? (m - wu) / n2 : 0;
          const h = Math.tanh(a);
          for (let j = 0; j < Z; j++) st(zo, j, ld(zin, j) + (ld(u, j) + coef * ld(w, j)) * h);
          sum += Math.log(Math.abs(1 + (1 - h * h) * m));
        } else {
          const zr = p;
          const alpha = softplus(ld(p, Z));
          const beta = softplus(ld(p, Z + 1)) - alpha;
          let r2: f64 = 0;
          for (let j = 0; j < Z; j++) {
            const d = ld(zin, j) - ld(zr, j);
            r2 += d * d;
          }
          const h = 1 / (alpha + Math.sqrt(r2));
          const bh = beta * h;
          for (let j = 0; j < Z; j++) {
            const zj = ld(zin, j);
            st(zo, j, zj + bh * (zj - ld(zr, j)));
          }
          sum += <f64>(Z - 1) * Math.log1p(bh) + Math.log1p(beta * alpha * h * h);
        }
      }
      store<f32>(logdet + (<usize>r << 2), <f32>sum);
    }
  }
}

/**
 * Backward of T amortized layers for examples [b0, b1). The loss is
 *   L = … − Σ_r c_r·(log p(z_T) + Σ_t log|det J_t|) + (terms through z_T given by dz),
 * so on entry dz[r] = ∂L/∂z_T through the decoder only; the prior's c_r·z_T is added here. On
 * return dz[r] = ∂L/∂z0 (for latentBackward's GRAD_BASE mode) and dhf[b] = ∂L/∂(flow parameters)
 * summed over the example's K rows (written).
 */
export function flowBackward(
  kind: i32, dz: usize, zt: usize, stride: i32, zOut: usize, c: usize, dhf: usize, hf: usize,
  T: i32, K: i32, Z: i32, b0: i32, b1: i32,
): void {
  const L = flowParamsPerLayer(kind, Z);
  for (let b = b0; b < b1; b++) {
    const pd0 = dhf + (<usize>(b * T * L) << 2);
    for (let i = 0; i < T * L; i++) st(pd0, i, 0);
    for (let k = 0; k < K; k++) {
      const r = b * K + k;
      const o = <usize>(r * Z) << 2;
      const g = dz + o;
      const cr = <f64>load<f32>(c + (<usize>r << 2));
      const gld = -cr; // ∂L/∂log|det J_t|
      for (let j = 0; j < Z; j++) st(g, j, ld(g, j) + cr * ld(zOut + o, j));
      for (let t = T; t >= 1; t--) {
        const zin = layerIn(zt, stride, t, o);
        const p = hf + (<usize>(b * T * L + (t - 1) * L) << 2);
        const pd = dhf + (<usize>(b * T * L + (t - 1) * L) << 2);
        if (kind == FLOW_PLANAR) {
          const u = p, w = p + (<usize>Z << 2);
          const du = pd, dw = pd + (<usize>Z << 2);
          const wu = dot(0, w, u, Z), n2 = dot(0, w, w, Z), a = dot(ld(p, 2 * Z), w, zin, Z);
          const m = softplus(wu) - 1;
          const coef = n2 > 0 ? (m - wu) / n2 : 0;
          const h = Math.tanh(a);
          const h1 = 1 - h * h;
          const det = 1 + h1 * m;
          let s: f64 = 0, gw: f64 = 0;
          for (let j = 0; j < Z; j++) {
            const gj = ld(g, j), wj = ld(w, j);
            s += gj * (ld(u, j) + coef * wj);
            gw += gj * wj;
          }
          const da = (s - gld * 2 * h * m / det) * h1;      // through tanh(a) in z' and in the det
          const guw = h * gw;                                 // (∂L/∂û)·w
          const invN2 = n2 > 0 ? 1 / n2 : 0;
          const dm = gld * h1 / det + guw * invN2;            // m enters the det and û
          const dwu = dm * sigmoid(wu) - guw * invN2;         // wᵀu enters m and û
          const dn2 = -guw * (m - wu) * invN2 * invN2;        // ‖w‖² enters û
          for (let j = 0; j < Z; j++) {
            const gj = ld(g, j), wj = ld(w, j), uj = ld(u, j);
            st(du, j, ld(du, j) + h * gj + dwu * wj);
            st(dw, j, ld(dw, j) + coef * h * gj + dwu * uj + 2 * dn2 * wj + da * ld(zin, j));
            st(g, j, gj + da * wj);
          }
          st(pd, 2 * Z, ld(pd, 2 * Z) + da);
        } else {
          const zr = p;
          const ar = ld(p, Z), br = ld(p, Z + 1);
          const alpha = softplus(ar);
          const beta = softplus(br) - alpha;
          let r2: f64 = 0, gd: f64 = 0;
          for (let j = 0; j < Z; j++) {
            const d = ld(zin, j) - ld(zr, j);
            r2 += d * d;
            gd += ld(g, j) * d;
          }
          const rad = Math.sqrt(r2);
          const h = 1 / (alpha + rad);
          const A = 1 + beta * h, Bq = 1 + beta * alpha * h * h;
          const dA = gld * <f64>(Z - 1) / A, dB = gld / Bq;
          const dbeta = h * gd + dA * h + dB * alpha * h * h;
          const dh = beta * gd + dA * beta + dB * 2 * beta * alpha * h;
          const dalpha = dB * beta * h * h - h * h * dh;
          const dr = -h * h * dh;
          const bh = beta * h;
          const dOverR = rad > 0 ? dr / rad : 0;
          for (let j = 0; j < Z; j++) {
            const gj = ld(g, j);
            const dd = bh * gj + dOverR * (ld(zin, j) - ld(zr, j));
            st(pd, j, ld(pd, j) - dd);
            st(g, j, gj + dd);
          }
          st(pd, Z, ld(pd, Z) + (dalpha - dbeta) * sigmoid(ar));
          st(pd, Z + 1, ld(pd, Z + 1) + dbeta * sigmoid(br));
        }
      }
    }
  }
}

/**
 * IAF gate for rows [r0, r1): mo[r] = (m[0:Z], s[0:Z]) from the masked network,
 * σ = sigmoid(s), zo = σ⊙zin + (1 − σ)⊙m, and logdet[r] (+= when accumulate, else =) Σ log σ.
 */
export function iafGate(zo: usize, zin: usize, mo: usize, logdet: usize, Z: i32, r0: i32, r1: i32, accumulate: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = <usize>(r * Z) << 2;
    const pm = mo + (<usize>(2 * r * Z) << 2), ps = pm + (<usize>Z << 2);
    let sum: f64 = 0;
    for (let j = 0; j < Z; j++) {
      const s = ld(ps, j);
      const sg = sigmoid(s);
      st(zo + o, j, sg * ld(zin + o, j) + (1 - sg) * ld(pm, j));
      sum -= softplus(-s); // log σ(s)
    }
    const lo = logdet + (<usize>r << 2);
    store<f32>(lo, <f32>((accumulate ? <f64>load<f32>(lo) : 0) + sum));
  }
}

/**
 * Backward of iafGate for rows [r0, r1): on entry g[r] = ∂L/∂z_t; writes dmo[r] = (∂L/∂m, ∂L/∂s)
 * including the log-determinant's −c_r·Σ log σ, and leaves g[r] = the direct part of ∂L/∂z_{t−1}
 * (σ⊙g; the masked network's part is added by the caller's GEMM).
 */
export function iafGateBackward(dmo: usize, g: usize, zin: usize, mo: usize, c: usize, Z: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = <usize>(r * Z) << 2;
    const pm = mo + (<usize>(2 * r * Z) << 2), ps = pm + (<usize>Z << 2);
    const dm = dmo + (<usize>(2 * r * Z) << 2), ds = dm + (<usize>Z << 2);
    const gld = -<f64>load<f32>(c + (<usize>r << 2));
    for (let j = 0; j < Z; j++) {
      const sg = sigmoid(ld(ps, j));
      const gj = ld(g + o, j);
      const mj = ld(pm, j);
      st(dm, j, gj * (1 - sg));
      // ∂/∂s of g·(σ z + (1−σ) m) + gld·log σ = g(z − m)σ(1 − σ) + gld(1 − σ)
      st(ds, j, (gj * (ld(zin + o, j) - mj) * sg + gld) * (1 - sg));
      st(g + o, j, gj * sg);
    }
  }
}

/**
 * y[r, 0:H] = act(y[r] + ctx[b]) for rows [r0, r1), b = ⌊r/K⌋, ctx rows `ldc` floats apart:
 * the encoder's per-example context added to the masked network's hidden pre-activation.
 * act: 0 identity, 1 relu, 2 tanh.
 */
export function addContext(y: usize, ctx: usize, ldc: i32, K: i32, H: i32, r0: i32, r1: i32, act: i32): void {
  for (let r = r0; r < r1; r++) {
    const py = y + (<usize>(r * H) << 2);
    const pc = ctx + (<usize>((r / K) * ldc) << 2);
    for (let j = 0; j < H; j++) {
      const v = load<f32>(py + (<usize>j << 2)) + load<f32>(pc + (<usize>j << 2));
      store<f32>(py + (<usize>j << 2), act == 1 ? max<f32>(v, 0) : act == 2 ? Mathf.tanh(v) : v);
    }
  }
}

/** dst[b, 0:H] = Σ_k src[b·K + k, 0:H] for examples [b0, b1), dst rows `ldd` floats apart (in row order). */
export function sumOverSamples(dst: usize, ldd: i32, src: usize, K: i32, H: i32, b0: i32, b1: i32): void {
  for (let b = b0; b < b1; b++) {
    const pd = dst + (<usize>(b * ldd) << 2);
    for (let j = 0; j < H; j++) {
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += load<f32>(src + (<usize>((b * K + k) * H + j) << 2));
      store<f32>(pd + (<usize>j << 2), s);
    }
  }
}

/** x[i] *= mask[i] for i in [i0, i1) (the autoregressive masks on weights and their gradients). */
export function maskMul(x: usize, mask: usize, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * load<f32>(mask + o));
  }
}

/** g[r] += c_r·z[r] for rows [r0, r1): the prior's −c·log N(z; 0, I) gradient at z_T (IAF). */
export function addPrior(g: usize, z: usize, c: usize, Z: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = <usize>(r * Z) << 2;
    const cr = load<f32>(c + (<usize>r << 2));
    for (let j = 0; j < Z; j++) {
      const jo = o + (<usize>j << 2);
      store<f32>(g + jo, load<f32>(g + jo) + cr * load<f32>(z + jo));
    }
  }
}

// ---------------------------------------------------------------- IAF path derivative
// Sticking the landing / DReG with an IAF need ∂log q(z_T; φ′)/∂z_T with the parameters φ′
// held fixed, i.e. through the flow's inverse: with a(z0) = log q0(z0) − Σ_t Σ_j log σ_t,j,
//   ∂log q/∂z_T = (∂a/∂z0)·J⁻¹,  J = ∂z_T/∂z0 = J_T ⋯ J_1,
// so v = u0·J_1⁻¹·J_2⁻¹ ⋯ J_T⁻¹: one triangular solve per step (each J_t is triangular in the
// step's variable order, with diagonal σ).

/** u[r] += −eps[r]/σ_b (∂log q0(z0|x)/∂z0 on the sample path) for examples [b0, b1), K rows each. */
export function addBaseScore(u: usize, eps: usize, h: usize, K: i32, Z: i32, b0: i32, b1: i32): void {
  for (let b = b0; b < b1; b++) {
    const plv = h + (<usize>(b * 2 * Z + Z) << 2);
    for (let k = 0; k < K; k++) {
      const o = <usize>((b * K + k) * Z) << 2;
      for (let j = 0; j < Z; j++) {
        const lv = min(max(ld(plv, j), -30), 30);
        st(u + o, j, ld(u + o, j) - ld(eps + o, j) * Math.exp(-0.5 * lv));
      }
    }
  }
}

/**
 * u[r] ← u[r]·J_t⁻¹ for rows [r0, r1): solves Σ_j u′_j·J[j, i] = u_i with
 *   J[j, i] = σ_j·δ_ij + Σ_k a_jk·[hid_k > 0]·W1[k, i],  a_jk = (1 − σ_j)·W2[j, k] + (z_j − m_j)·σ_j(1 − σ_j)·W2[Z+j, k]
 * (the masked weights make the sum 0 unless variable i comes before j in the step's order:
 * degree j+1, or Z−j when `reversed`). Back substitution from the highest degree down, without
 * forming J: b_k = Σ_{j done} u′_j·a_jk·[hid_k > 0] is kept up to date, and Σ_j u′_j·J[j, i] =
 * Σ_k b_k·W1[k, i] — O(Z·H) per row instead of O(Z²·H). `scratch` holds H f64.
 */
export function iafSolve(u: usize, zin: usize, mo: usize, hid: usize, w1: usize, w2: usize, Z: i32, H: i32, reversed: i32,
  r0: i32, r1: i32, scratch: usize): void {
  for (let r = r0; r < r1; r++) {
    const pu = u + (<usize>(r * Z) << 2), pz = zin + (<usize>(r * Z) << 2);
    const pm = mo + (<usize>(2 * r * Z) << 2), ps = pm + (<usize>Z << 2);
    const ph = hid + (<usize>(r * H) << 2);
    for (let k = 0; k < H; k++) store<f64>(scratch + (<usize>k << 3), 0);
    for (let n = 0; n < Z; n++) {
      const i = reversed ? n : Z - 1 - n;
      let s = ld(pu, i);
      for (let k = 0; k < H; k++) s -= load<f64>(scratch + (<usize>k << 3)) * ld(w1, k * Z + i);
      const sg = sigmoid(ld(ps, i));
      const ui = s / sg;
      st(pu, i, ui);
      const cm = ui * (1 - sg), cs = ui * (ld(pz, i) - ld(pm, i)) * sg * (1 - sg);
      for (let k = 0; k < H; k++) {
        if (load<f32>(ph + (<usize>k << 2)) > 0) {
          const o = scratch + (<usize>k << 3);
          store<f64>(o, load<f64>(o) + cm * ld(w2, i * H + k) + cs * ld(w2, (Z + i) * H + k));
        }
      }
    }
  }
}

/** dz[r] = (dz[r] + c_r·(z[r] + v[r]))·(rr ? rr_r : 1) for rows [r0, r1): the path gradient at z_T. */
export function combinePath(dz: usize, z: usize, v: usize, c: usize, rr: usize, Z: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = <usize>(r * Z) << 2;
    const cr = <f64>load<f32>(c + (<usize>r << 2));
    const f = rr ? <f64>load<f32>(rr + (<usize>r << 2)) : 1;
    for (let j = 0; j < Z; j++) st(dz + o, j, (ld(dz + o, j) + cr * (ld(z + o, j) + ld(v + o, j))) * f);
  }
}

/** x[i] = v for i in [i0, i1). */
export function fill(x: usize, v: f32, i0: i32, i1: i32): void {
  for (let i = i0; i < i1; i++) store<f32>(x + (<usize>i << 2), v);
}
