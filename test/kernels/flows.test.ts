// Normalizing-flow kernels (assembly/flows.ts) on every build: the planar and radial flows and the
// IAF gate against an f64 reference, the log-determinant against the log|det| of a Jacobian
// computed by central differences, and every backward against central finite differences of
// the f64 loss the kernel documents.
import { describe, expect, it } from "vitest";
import { FLOW } from "../../bindings/abi.js";
import { BUILDS, f32, gaussian, kernelEnv, numericGrad, rng, uniform, expectClose } from "../helpers/kernel-check.js";

const B = 3, K = 2, Z = 5, T = 3;
const R = B * K;
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const perLayer = (kind: number) => (kind === FLOW.planar ? 2 * Z + 1 : Z + 2);

/** One layer in f64: z' and log|det J| (the formulas of Rezende & Mohamed 2015 with the invertibility fixes). */
function layerRef(kind: number, z: Float64Array, p: ArrayLike<number>, o: number): { z: Float64Array; logdet: number } {
  const out = new Float64Array(Z);
  if (kind === FLOW.planar) {
    const u = (j: number) => p[o + j], w = (j: number) => p[o + Z + j], bias = p[o + 2 * Z];
    let wu = 0, n2 = 0, a = bias;
    for (let j = 0; j < Z; j++) {
      wu += w(j) * u(j);
      n2 += w(j) ** 2;
      a += w(j) * z[j];
    }
    const m = softplus(wu) - 1;
    const h = Math.tanh(a);
    let wuh = 0;
    for (let j = 0; j < Z; j++) {
      const uh = u(j) + ((m - wu) * w(j)) / n2;
      out[j] = z[j] + uh * h;
      wuh += w(j) * uh;
    }
    return { z: out, logdet: Math.log(Math.abs(1 + (1 - h * h) * wuh)) };
  }
  const alpha = softplus(p[o + Z]), beta = softplus(p[o + Z + 1]) - alpha;
  let r2 = 0;
  for (let j = 0; j < Z; j++) r2 += (z[j] - p[o + j]) ** 2;
  const r = Math.sqrt(r2), h = 1 / (alpha + r);
  for (let j = 0; j < Z; j++) out[j] = z[j] + beta * h * (z[j] - p[o + j]);
  const hp = -1 / (alpha + r) ** 2;
  return { z: out, logdet: (Z - 1) * Math.log(1 + beta * h) + Math.log(1 + beta * h + beta * hp * r) };
}

/** T layers on every row: z_T [R, Z] and Σ logdet [R]. */
function flowRef(kind: number, z0: ArrayLike<number>, hf: ArrayLike<number>): { zT: Float64Array; logdet: Float64Array } {
  const L = perLayer(kind);
  const zT = new Float64Array(R * Z), logdet = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const b = Math.floor(r / K);
    let z: Float64Array = Float64Array.from({ length: Z }, (_, j) => z0[r * Z + j]);
    for (let t = 0; t < T; t++) {
      const s = layerRef(kind, z, hf, b * T * L + t * L);
      z = s.z;
      logdet[r] += s.logdet;
    }
    zT.set(z, r * Z);
  }
  return { zT, logdet };
}

/** log|det| of a square matrix by Gaussian elimination with partial pivoting (f64). */
function logAbsDet(a: number[][]): number {
  const m = a.map((row) => [...row]);
  const n = m.length;
  let s = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(m[i][c]) > Math.abs(m[p][c])) p = i;
    [m[c], m[p]] = [m[p], m[c]];
    s += Math.log(Math.abs(m[c][c]));
    for (let i = c + 1; i < n; i++) {
      const f = m[i][c] / m[c][c];
      for (let j = c; j < n; j++) m[i][j] -= f * m[c][j];
    }
  }
  return s;
}

describe.each(BUILDS)("flow kernels, %s build", (build) => {
  const r = rng(77);
  const z0 = f32(gaussian(R * Z, r));

  for (const [name, kind] of Object.entries(FLOW)) {
    const hf = f32(uniform(B * T * perLayer(kind), -1.5, 1.5, r));

    it(`${name}: z_T and Σ log|det J| match f64, and log|det J| matches a numerically computed Jacobian`, async () => {
      const env = await kernelEnv(build);
      const stride = R * Z;
      const zt = env.put(new Float32Array(T * stride).fill(NaN)), zOut = env.zeros(R * Z), logdet = env.zeros(R);
      env.write(zt, Float32Array.from(z0));
      env.k.flowForward(kind, zt, stride, zOut, logdet, env.put(hf), T, K, Z, 0, B);
      const want = flowRef(kind, z0, hf);
      expectClose(env.read(zOut, R * Z), want.zT, 1e-6, 1e-5);
      expectClose(env.read(logdet, R), want.logdet, 1e-6, 1e-5);
      // the whole map z0 → z_T of each row: its Jacobian by central differences of the f64 flow
      for (let row = 0; row < R; row++) {
        const x = Float64Array.from({ length: Z }, (_, j) => z0[row * Z + j]);
        const b = Math.floor(row / K);
        const L = perLayer(kind);
        const map = (v: Float64Array) => {
          let z = v;
          for (let l = 0; l < T; l++) z = layerRef(kind, z, hf, b * T * L + l * L).z;
          return z;
        };
        const J = Array.from({ length: Z }, () => new Array<number>(Z).fill(0));
        for (let j = 0; j < Z; j++) {
          const h = 1e-6, xp = Float64Array.from(x), xm = Float64Array.from(x);
          xp[j] += h;
          xm[j] -= h;
          const fp = map(xp), fm = map(xm);
          for (let i = 0; i < Z; i++) J[i][j] = (fp[i] - fm[i]) / (2 * h);
        }
        expect(Math.abs(env.read(logdet, R)[row] - logAbsDet(J))).toBeLessThan(1e-4 * (1 + Math.abs(logAbsDet(J))));
      }
      // slabs 1…T−1 hold the intermediate z_t; rows outside [b0, b1) are untouched
      expect(Number.isFinite(env.read(zt + 4 * stride, 1)[0])).toBe(true);
      const part = env.zeros(R * Z);
      env.k.flowForward(kind, zt, stride, part, env.zeros(R), env.put(hf), T, K, Z, 1, 2);
      const got = env.read(part, R * Z);
      expect(got.subarray(0, K * Z).every((v) => v === 0)).toBe(true);
      expect(got.subarray(K * Z, 2 * K * Z)).toEqual(env.read(zOut, R * Z).subarray(K * Z, 2 * K * Z));
    });

    it(`${name}: backward matches central differences of L = Σ_r [G·z_T + c·(‖z_T‖²/2 − Σ log|det J|)]`, async () => {
      const env = await kernelEnv(build);
      const G = f32(uniform(R * Z, -1, 1, r)), c = f32(uniform(R, 0.1, 0.9, r));
      const loss = (zv: Float64Array, hv: Float64Array) => {
        const { zT, logdet } = flowRef(kind, zv, hv);
        let s = 0;
        for (let row = 0; row < R; row++) {
          let q = 0;
          for (let j = 0; j < Z; j++) {
            s += G[row * Z + j] * zT[row * Z + j];
            q += zT[row * Z + j] ** 2;
          }
          s += c[row] * (q / 2 - logdet[row]);
        }
        return s;
      };
      const stride = R * Z;
      const zt = env.zeros(T * stride), zOut = env.zeros(R * Z), ph = env.put(hf);
      env.write(zt, Float32Array.from(z0));
      env.k.flowForward(kind, zt, stride, zOut, env.zeros(R), ph, T, K, Z, 0, B);
      const dz = env.put(G), dhf = env.put(new Float32Array(hf.length).fill(NaN)); // written, not accumulated
      env.k.flowBackward(kind, dz, zt, stride, zOut, env.put(c), dhf, ph, T, K, Z, 0, B);
      expectClose(env.read(dz, R * Z), numericGrad((v) => loss(v, Float64Array.from(hf)), Float64Array.from(z0)), 1e-5, 1e-4, "dz0");
      expectClose(env.read(dhf, hf.length), numericGrad((v) => loss(Float64Array.from(z0), v), Float64Array.from(hf)), 1e-5, 1e-4, "dparams");
    });
  }

  it("planar: wᵀû ≥ −1 keeps the map invertible and log|det| finite for any parameters", async () => {
    const env = await kernelEnv(build);
    // extreme u, w (wᵀu ≪ −1 would make 1 + h′·wᵀu vanish without the fix) and z where tanh′ ≈ 1
    const hf = new Float32Array(B * T * (2 * Z + 1));
    for (let i = 0; i < hf.length; i++) hf[i] = (i % 2 ? -1 : 1) * (5 + (i % 7));
    const zt = env.zeros(T * R * Z), logdet = env.zeros(R);
    env.k.flowForward(FLOW.planar, zt, R * Z, env.zeros(R * Z), logdet, env.put(hf), T, K, Z, 0, B);
    for (const v of env.read(logdet, R)) expect(Number.isFinite(v)).toBe(true);
  });

  it("IAF gate: forward, log σ and backward match f64 and central differences", async () => {
    const env = await kernelEnv(build);
    const zin = f32(gaussian(R * Z, r)), mo = f32(uniform(R * 2 * Z, -3, 3, r));
    const G = f32(uniform(R * Z, -1, 1, r)), c = f32(uniform(R, 0.1, 0.9, r));
    const ref = (zv: ArrayLike<number>, mv: ArrayLike<number>) => {
      const zo = new Float64Array(R * Z), ld = new Float64Array(R);
      for (let row = 0; row < R; row++) {
        for (let j = 0; j < Z; j++) {
          const s = sigmoid(mv[row * 2 * Z + Z + j]);
          zo[row * Z + j] = s * zv[row * Z + j] + (1 - s) * mv[row * 2 * Z + j];
          ld[row] += Math.log(s);
        }
      }
      return { zo, ld };
    };
    const pz = env.put(zin), pm = env.put(mo), pzo = env.zeros(R * Z), pld = env.put(new Float32Array(R).fill(0.25));
    env.k.iafGate(pzo, pz, pm, pld, Z, 0, R, 1); // accumulate onto 0.25
    const want = ref(zin, mo);
    expectClose(env.read(pzo, R * Z), want.zo, 1e-6, 1e-5);
    expectClose(env.read(pld, R), Array.from(want.ld, (v) => v + 0.25), 1e-6, 1e-5);
    const loss = (zv: Float64Array, mv: Float64Array) => {
      const { zo, ld } = ref(zv, mv);
      let s = 0;
      for (let i = 0; i < R * Z; i++) s += G[i] * zo[i];
      for (let row = 0; row < R; row++) s -= c[row] * ld[row];
      return s;
    };
    const pg = env.put(G), pdm = env.zeros(R * 2 * Z);
    env.k.iafGateBackward(pdm, pg, pz, pm, env.put(c), Z, 0, R);
    expectClose(env.read(pdm, R * 2 * Z), numericGrad((v) => loss(Float64Array.from(zin), v), Float64Array.from(mo)), 1e-5, 1e-4, "dmo");
    expectClose(env.read(pg, R * Z), numericGrad((v) => loss(v, Float64Array.from(mo)), Float64Array.from(zin)), 1e-5, 1e-4, "dz");
  });

  it.each([0, 1])("iafSolve: u·J⁻¹ for one IAF step (order reversed: %i) matches an f64 solve with J by central differences", async (reversed) => {
    const env = await kernelEnv(build);
    const Zs = 4, H = 7, rows = 3;
    const { madeMasks } = await import("../../src/latent/iaf.js");
    const masks = madeMasks(Zs, H, reversed);
    const w1 = f32(uniform(H * Zs, -1, 1, r)).map((v, i) => v * masks.hidden[i]);
    const w2 = f32(uniform(2 * Zs * H, -1, 1, r)).map((v, i) => v * masks.out[i]);
    const b1 = f32(uniform(H, -0.5, 0.5, r)), b2 = f32(uniform(2 * Zs, -1, 1, r));
    const zin = f32(gaussian(rows * Zs, r)), u = f32(uniform(rows * Zs, -1, 1, r));
    const net = (z: ArrayLike<number>) => {
      const hid = Array.from({ length: H }, (_, k) => Math.max(0, b1[k] + Array.from({ length: Zs }, (_, i) => w1[k * Zs + i] * z[i]).reduce((a, b) => a + b)));
      const mo = Array.from({ length: 2 * Zs }, (_, j) => b2[j] + hid.reduce((a, h, k) => a + w2[j * H + k] * h, 0));
      return { hid, mo };
    };
    const gate = (z: Float64Array) => {
      const { mo } = net(z);
      return Float64Array.from({ length: Zs }, (_, j) => sigmoid(mo[Zs + j]) * z[j] + (1 - sigmoid(mo[Zs + j])) * mo[j]);
    };
    const hids: number[] = [], mos: number[] = [];
    for (let row = 0; row < rows; row++) {
      const { hid, mo } = net(zin.subarray(row * Zs, (row + 1) * Zs));
      hids.push(...hid);
      mos.push(...mo);
    }
    const pu = env.put(u);
    // (hid and mo as f32 in memory, as the forward leaves them)
    env.k.iafSolve(pu, env.put(zin), env.put(mos), env.put(hids), env.put(w1), env.put(w2), Zs, H, reversed, 0, rows, env.zeros(2 * H));
    const got = env.read(pu, rows * Zs);
    for (let row = 0; row < rows; row++) {
      const z = Float64Array.from(zin.subarray(row * Zs, (row + 1) * Zs));
      const J = Array.from({ length: Zs }, () => new Array<number>(Zs).fill(0));
      for (let i = 0; i < Zs; i++) {
        const h = 1e-6, zp = Float64Array.from(z), zm = Float64Array.from(z);
        zp[i] += h;
        zm[i] -= h;
        const fp = gate(zp), fm = gate(zm);
        for (let j = 0; j < Zs; j++) J[j][i] = (fp[j] - fm[j]) / (2 * h);
      }
      // u' with Σ_j u'_j J[j][i] = u_i: solve Jᵀ u' = u by elimination
      const A = Array.from({ length: Zs }, (_, i) => [...Array.from({ length: Zs }, (_, j) => J[j][i]), u[row * Zs + i]]);
      for (let c = 0; c < Zs; c++) {
        let piv = c;
        for (let i = c + 1; i < Zs; i++) if (Math.abs(A[i][c]) > Math.abs(A[piv][c])) piv = i;
        [A[c], A[piv]] = [A[piv], A[c]];
        for (let i = 0; i < Zs; i++) {
          if (i === c) continue;
          const f = A[i][c] / A[c][c];
          for (let j = c; j <= Zs; j++) A[i][j] -= f * A[c][j];
        }
      }
      const want = A.map((rowA, i) => rowA[Zs] / rowA[i]);
      expectClose(got.subarray(row * Zs, (row + 1) * Zs), want, 1e-5, 1e-4);
    }
  });

  it("addContext, sumOverSamples and maskMul", async () => {
    const env = await kernelEnv(build);
    const H = 6, ldc = 9;
    const y = f32(uniform(R * H, -1, 1, r)), ctx = f32(uniform(B * ldc, -1, 1, r));
    const py = env.put(y);
    env.k.addContext(py, env.put(ctx), ldc, K, H, 0, R, 1);
    const got = env.read(py, R * H);
    for (let row = 0; row < R; row++) {
      for (let j = 0; j < H; j++) expect(got[row * H + j]).toBe(Math.fround(Math.max(0, Math.fround(y[row * H + j] + ctx[Math.floor(row / K) * ldc + j]))));
    }
    const pd = env.zeros(B * ldc);
    env.k.sumOverSamples(pd, ldc, env.put(y), K, H, 0, B);
    const sums = env.read(pd, B * ldc);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) expect(sums[b * ldc + j]).toBeCloseTo(y[b * K * H + j] + y[(b * K + 1) * H + j], 6);
      expect(sums[b * ldc + H]).toBe(0); // columns past H untouched
    }
    const mask = Float32Array.from({ length: 10 }, (_, i) => i % 3 === 0 ? 0 : 1);
    const px = env.put(f32(uniform(10, -1, 1, r)));
    const before = env.read(px, 10);
    env.k.maskMul(px, env.put(mask), 2, 10);
    const after = env.read(px, 10);
    for (let i = 0; i < 10; i++) expect(after[i]).toBe(i < 2 ? before[i] : before[i] * mask[i]);
  });
});
