// The linear-Gaussian toy model lives in the library (src/linear-gaussian.ts): figures use it too.
export * from "../../src/linear-gaussian.js";
