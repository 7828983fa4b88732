// The linear-Gaussian toy model lives in the library (src/toy/linear-gaussian.ts): figures use it too.
export * from "../../src/toy/linear-gaussian.js";
