// The module's ABI: every export takes pointers into the imported memory and sizes; nothing
// allocates and no export keeps state between calls (the same module runs in several workers).
// Adding an op: write it in its family's file with forward and backward side by side, export it
// here, add one line to bindings/abi.ts, and one test file under test/kernels/ that runs on
// every build. The codes the kernels take (activations, gradient modes, flow kinds) and their
// sizes are exported as constants: the build writes them into bindings/constants.ts.
export { gemm, gemmPackedT, biasGrad, actBackward, packRows } from "./dense";
export { im2col, col2im, biasActRows, transposeRows } from "./conv";
export { sparseRows, gemmSparseA, gemmSparseB, countNonzero } from "./sparse";
export { reparameterize, gaussianLogProbs, klStandardNormal, latentBackward, importanceWeights } from "./gaussian";
export { bernoulliLogProb, bernoulliBackward, gaussianLogProb, gaussianBackward, gaussianLogvarGrad } from "./likelihood";
export { randomNormal, bernoulliSample, gumbelNoise } from "./rng";
export { gumbelSoftmax, categoricalKL, categoricalBackward } from "./categorical";
export { flowForward, flowBackward, iafGate, iafGateBackward, addContext, sumOverSamples, maskMul, addPrior, addBaseScore, iafSolve, combinePath, fill } from "./flows";
export { adam } from "./adam";
export { accumulateMoments, accumulateDifference, setWeights } from "./stats";
export { initUniform } from "./init";
export { firstInvalid } from "./check";
export { peakMadd } from "./probe";

// constants (exported as immutable globals)
export { ACT_IDENTITY, ACT_RELU, ACT_TANH, A_PACK_ROWS } from "./dense";
export {
  GRAD_ANALYTIC, GRAD_TOTAL, GRAD_PATH, GRAD_SCORE, GRAD_BASE, GRAD_ANALYTIC_PER_EXAMPLE, GRAD_BASE_PATH, LOGVAR_MAX,
} from "./gaussian";
export { FLOW_PLANAR, FLOW_RADIAL } from "./flows";

/** First free byte above the module's static data: JS lays its arena out from here. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 when this build uses SIMD, 2 with relaxed SIMD, 0 for the scalar build (for diagnostics). */
export function simdLevel(): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) return 2;
  if (ASC_FEATURE_SIMD) return 1;
  return 0;
}
