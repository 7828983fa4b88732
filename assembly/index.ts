// The module's ABI: every export takes pointers into the imported memory and sizes; nothing
// allocates and no export keeps state between calls (the same module runs in several workers).
// Adding an op: write it in its family's file with forward and backward side by side, export it
// here, add one line to bindings/abi.ts, and one test file under test/ that runs on every build.
export { gemm, gemmPackedT, gemmSparseA, gemmSparseB, sparseRows, countNonzero, biasGrad, actBackward, packRows, peakMadd } from "./dense";
export { reparameterize, gaussianLogProbs, klStandardNormal, latentBackward, importanceWeights } from "./gaussian";
export { bernoulliLogProb, bernoulliBackward, gaussianLogProb, gaussianBackward, gaussianLogvarGrad } from "./likelihood";
export { randomNormal, bernoulliSample, gumbelNoise } from "./rng";
export { gumbelSoftmax, categoricalKL, categoricalBackward } from "./categorical";
export { flowForward, flowBackward, iafGate, iafGateBackward, addContext, sumOverSamples, maskMul, addPrior, addBaseScore, iafSolve, combinePath, fill } from "./flows";
export { adam } from "./adam";
export { accumulateMoments, accumulateDifference, setWeights } from "./stats";
export { initUniform } from "./init";
export { firstInvalid } from "./check";

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
