// Typed 1:1 view of the module's exports (assembly/index.ts). Pure marshalling: every pointer
// is a byte offset into the imported memory, every size a count of elements. Preconditions
// (shapes, ranges, finite data) are checked once in src/, never here.

export interface Kernels {
  /** First free byte above the module's static data. */
  heapBase(): number;
  /** 0 scalar, 1 SIMD, 2 relaxed SIMD. */
  simdLevel(): number;

  /** C = act(A·B + bias) or C += A·B over rows [m0, m1); strides in floats; scratch 8·K floats. */
  gemm(
    c: number, ldc: number,
    a: number, sam: number, sak: number,
    b: number, sbk: number, sbn: number,
    bias: number,
    m0: number, m1: number, n: number, k: number,
    accumulate: number, act: number, scratch: number,
    /** B pre-packed as panels [⌈N/8⌉][K][8] (packRows), or 0/absent to pack into scratch */
    packed?: number,
    /** A_PACK_ROWS·K floats (A_PACK_ROWS below) to pack A's rows into first (faster, bitwise the same), or 0/absent */
    apack?: number,
  ): void;
  /** C (= or +=) A·W for rows [m0, m1), W[O, I] read from its forward panels (packRows); bitwise gemm's with W row-major. */
  gemmPackedT(c: number, ldc: number, a: number, sam: number, sak: number, w: number, I: number, O: number,
    m0: number, m1: number, accumulate: number, scratch: number, apack?: number): void;
  /** Nonzero lists of rows [m0, m1) of X[M, K] at lists + 8·m·(K + 1) bytes (count, then (32·k, value) pairs); returns the total count. */
  sparseRows(lists: number, x: number, K: number, m0: number, m1: number): number;
  /** C = act(X·Wᵀ + bias) for rows [m0, m1) from X's nonzero lists (K values a row) and W's forward panels over kp ≥ K inputs (X meets the first K); bitwise gemm's. SIMD builds only. */
  gemmSparseA(c: number, ldc: number, lists: number, K: number, packed: number, kp: number, bias: number, m0: number, m1: number, n: number, act: number): void;
  /** dW[o, d] = Σ_b dY[b, o]·X[b, d] for o in [m0, m1), d < D (C's row stride ldc ≥ D), skipping examples whose 8 columns of a panel are all zero; bitwise gemm's dYᵀ·X. SIMD builds only; scratch: 9·rows + 8 floats. */
  gemmSparseB(c: number, ldc: number, a: number, O: number, x: number, D: number, rows: number, m0: number, m1: number, scratch: number): void;
  /** Number of nonzero values in p[0:n). */
  countNonzero(p: number, n: number): number;
  /** The SIMD ceiling, registers only: n rounds of 12 fused chains (relaxed, 96 FLOP/round) or 6 mul + 6 add chains (simd, 48 FLOP/round); call with mul = 1, add = 1e-30. */
  peakMadd(n: number, mul: number, add: number): number;
  /** Packs rows [o0, o1) of W[O, I] (o0 a multiple of 8) as X·Wᵀ panels: dst[p][i][j] = W[8p+j, i]. */
  packRows(dst: number, w: number, O: number, I: number, o0: number, o1: number): void;
  /** db (= or +=) column sums of dy rows [m0, m1). */
  biasGrad(db: number, dy: number, ldy: number, m0: number, m1: number, n: number, accumulate: number): void;
  /** dy[i0:i1] *= act'(·) expressed through the layer output y. */
  actBackward(dy: number, y: number, i0: number, i1: number, act: number): void;

  /** Patch rows of NHWC images, examples [b0, b1): col[(b·Ho + ho)·Wo + wo, (c·KH + kh)·KW + kw] (assembly/conv.ts). */
  im2col(col: number, x: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number,
    Ho: number, Wo: number, b0: number, b1: number): void;
  /** The adjoint of im2col: NHWC images of examples [b0, b1) written as the sums of their taps in dcol. */
  col2im(x: number, dcol: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number,
    Ho: number, Wo: number, b0: number, b1: number): void;
  /** y[r, :] = act(y[r, :] + bias) for rows [r0, r1) of n columns (bias 0: none). */
  biasActRows(y: number, bias: number, n: number, r0: number, r1: number, act: number): void;
  /** dst[b] = src[b]ᵀ for examples [b0, b1) of R×C values each (NHWC ↔ PyTorch's flatten order). */
  transposeRows(dst: number, src: number, R: number, C: number, b0: number, b1: number): void;
  /** z = mu + exp(logvar/2)·eps, eps/z [B,K,Z] (row b·K+k), h [B,2Z], examples b in [b0,b1). */
  reparameterize(z: number, eps: number, h: number, K: number, Z: number, b0: number, b1: number): void;
  /** log p(z), log q(z|x) and log w = logpx + logpz - logqz per row b·K+k. */
  gaussianLogProbs(
    logw: number, logpz: number, logqz: number, logpx: number,
    z: number, eps: number, h: number, K: number, Z: number, b0: number, b1: number,
    /** per-row Σ log|det J| of a flow (z is then z_T), or 0 */
    logdet: number,
    /** free bits λ of the Monte Carlo estimators (no flow): a dimension whose Monte Carlo KL is below λ adds -λ to log w instead */
    freeBits: number,
  ): void;
  /** kl[b] = KL(q(z|x_b) ‖ N(0, I)); with freeBits λ > 0, Σ_j max(λ, KL_j). */
  klStandardNormal(kl: number, h: number, Z: number, freeBits: number, b0: number, b1: number): void;
  /** dh[b] = (dmu, dlogvar) for one gradient mode (GRAD: analytic, total, path, score, base of a flow, analytic with c[b·K] as the KL weight, path at a flow's base). */
  latentBackward(
    dh: number, dz: number, z: number, eps: number, h: number, c: number, r: number,
    K: number, Z: number, mode: number, klScale: number, freeBits: number, b0: number, b1: number,
  ): void;
  /** bound[b] = logmeanexp_k logw, wt = softmax_k logw. */
  importanceWeights(bound: number, wt: number, logw: number, K: number, b0: number, b1: number): void;

  /** logp per decoder row r (scored against x row r / K) and probs = sigmoid(logits) (may alias logits). */
  bernoulliLogProb(logp: number, probs: number, logits: number, x: number, K: number, D: number, r0: number, r1: number): void;
  /** dl = c_r·(probs - x) (may alias probs). */
  bernoulliBackward(dl: number, probs: number, x: number, c: number, K: number, D: number, r0: number, r1: number): void;
  /** Gaussian log p per row; logvarOut per-output log-variance or 0 for the scalar logVar. */
  gaussianLogProb(logp: number, mean: number, x: number, logvarOut: number, logVar: number, K: number, D: number, r0: number, r1: number): void;
  /** dm = c_r·(m - x)/var (may alias mean); the learned log-variance's gradient is gaussianLogvarGrad. */
  gaussianBackward(dm: number, mean: number, x: number, c: number, logvarOut: number, logVar: number, K: number, D: number, r0: number, r1: number): void;
  /** dlogvarOut[d] = Σ_{r<R} c_r·(1 - (x-m)²/var_d)/2 for columns [d0, d1) (overwrites). */
  gaussianLogvarGrad(dlogvarOut: number, mean: number, x: number, c: number, logvarOut: number, K: number, D: number, R: number, d0: number, d1: number): void;

  /** eps[b,k,j] ~ N(0,1) keyed by (seed, stream, step, rowOffset+b, (kOffset+k)·Z+j). */
  randomNormal(eps: number, seed: number, stream: number, step: number, K: number, Z: number, b0: number, b1: number, rowOffset: number, kOffset: number): void;
  /** out = 1 with probability p (dynamic binarization), keyed by (seed, stream, step, rowOffset+b, d). */
  bernoulliSample(out: number, p: number, seed: number, stream: number, step: number, D: number, b0: number, b1: number, rowOffset: number): void;

  /** g[b,k,j] = −log(−log U) standard Gumbel, keyed like randomNormal. */
  gumbelNoise(g: number, seed: number, stream: number, step: number, K: number, Z: number, b0: number, b1: number, rowOffset: number, kOffset: number): void;
  /** y_soft = softmax((l + g)/τ) per group of C; y = one-hot argmax when hard, else y_soft. */
  gumbelSoftmax(y: number, ysoft: number, g: number, logits: number, K: number, N: number, C: number, tau: number, hard: number, b0: number, b1: number): void;
  /** kl[b] = Σ_n KL(softmax(l_n) ‖ uniform(C)). */
  categoricalKL(kl: number, logits: number, N: number, C: number, b0: number, b1: number): void;
  /** ∂loss/∂logits through the relaxed sample (and straight-through) plus klScale·∂KL/∂logits. */
  categoricalBackward(dl: number, dy: number, ysoft: number, logits: number, K: number, N: number, C: number, tau: number, klScale: number, b0: number, b1: number): void;

  /** Amortized flow (FLOW.planar | FLOW.radial) of T layers: z_1…z_{T−1} into slabs zt + t·stride, z_T into zOut, logdet[r] = Σ log|det J|. */
  flowForward(kind: number, zt: number, stride: number, zOut: number, logdet: number, hf: number, T: number, K: number, Z: number, b0: number, b1: number): void;
  /** dz: ∂L/∂z_T (decoder) in, ∂L/∂z0 out (prior and −c·logdet included); dhf[b] = Σ_k ∂L/∂(flow parameters). */
  flowBackward(kind: number, dz: number, zt: number, stride: number, zOut: number, c: number, dhf: number, hf: number, T: number, K: number, Z: number, b0: number, b1: number): void;
  /** IAF gate: zo = σ(s)⊙zin + (1−σ(s))⊙m from mo = [m, s] rows; logdet (+= when accumulate) Σ log σ. */
  iafGate(zo: number, zin: number, mo: number, logdet: number, Z: number, r0: number, r1: number, accumulate: number): void;
  /** IAF gate backward: g = ∂L/∂z_t in, σ⊙g out; dmo = (∂L/∂m, ∂L/∂s) with the log-det term −c·Σ log σ. */
  iafGateBackward(dmo: number, g: number, zin: number, mo: number, c: number, Z: number, r0: number, r1: number): void;
  /** y[r] = act(y[r] + ctx[⌊r/K⌋]) over H columns (act 0 identity, 1 relu, 2 tanh). */
  addContext(y: number, ctx: number, ldc: number, K: number, H: number, r0: number, r1: number, act: number): void;
  /** dst[b] = Σ_k src[b·K + k] over H columns, dst rows ldd apart. */
  sumOverSamples(dst: number, ldd: number, src: number, K: number, H: number, b0: number, b1: number): void;
  /** g[r] += c_r·z[r] over rows [r0, r1) (the prior's gradient at z_T). */
  addPrior(g: number, z: number, c: number, Z: number, r0: number, r1: number): void;
  /** u[r] −= eps[r]/σ_b: ∂log q0(z0|x)/∂z0 on the sample path. */
  addBaseScore(u: number, eps: number, h: number, K: number, Z: number, b0: number, b1: number): void;
  /** u[r] ← u[r]·J_t⁻¹ for IAF step t (reversed: its order is Z−j); scratch H f64. */
  iafSolve(u: number, zin: number, mo: number, hid: number, w1: number, w2: number, Z: number, H: number, reversed: number, r0: number, r1: number, scratch: number): void;
  /** dz = (dz + c·(z + v))·(rr ? rr : 1) per row. */
  combinePath(dz: number, z: number, v: number, c: number, rr: number, Z: number, r0: number, r1: number): void;
  /** x[i] = v over [i0, i1). */
  fill(x: number, v: number, i0: number, i1: number): void;
  /** x[i] *= mask[i] over [i0, i1). */
  maskMul(x: number, mask: number, i0: number, i1: number): void;

  /** Index of the first non-finite value of p[0:n) (or, with unit = 1, the first outside [0, 1]), else -1. */
  firstInvalid(p: number, n: number, unit: number): number;
  /**
   * Fused Adam (torch.optim.Adam arithmetic) over params [i0, i1), the new values written to
   * (pOut, mOut, vOut): the same pointers update in place, others leave (p, m, v) as they were.
   */
  adam(
    p: number, g: number, m: number, v: number, pOut: number, mOut: number, vOut: number, i0: number, i1: number,
    stepSize: number, beta1: number, beta2: number, eps: number, invSqrtBc2: number, weightDecay: number,
  ): void;

  /** c[r] = (wt ? wt[r] : 1)/div over rows [r0, r1), rounded once to f32 (estimator row weights). */
  setWeights(c: number, wt: number, div: number, r0: number, r1: number): void;
  /** p[i] = (2u − 1)·bound for i < n, u from SeededRandom's generator continuing at `state` (src/util/random.ts). */
  initUniform(p: number, n: number, state: number, bound: number): void;

  /** f64 sum += g, sq += g² over [i0, i1). */
  accumulateMoments(sum: number, sq: number, g: number, i0: number, i1: number): void;
  /** f64 moments of d = g - ref over [i0, i1); returns Σ d·dir. */
  accumulateDifference(sum: number, sq: number, g: number, ref: number, dir: number, i0: number, i1: number): number;
}

// The codes and sizes the kernels define, read from the module's exports by the build.
export { ACT, GRAD, FLOW, LOGVAR_MAX, A_PACK_ROWS } from "./constants.js";

/** RNG streams: independent draws for the same (seed, step, row). Chosen by the callers, not the kernels. */
export const STREAM = { eps: 1, binarize: 2, prior: 3, evalEps: 5, evalBinarize: 6 } as const;
