// The codes the kernels define (activations, gradient modes, flow kinds) and their sizes reach
// TypeScript through bindings/constants.ts, which the build generates from the module's
// exported globals: on every build, each global equals its generated constant and each
// generated constant is exported.
import { describe, expect, it } from "vitest";
import * as constants from "../../bindings/constants.js";
import { BUILDS, kernelEnv } from "../helpers/kernel-check.js";


/** The generated constants flattened back to the module's export names (GRAD.basePath → GRAD_BASE_PATH). */
function generated(): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, v] of Object.entries(constants)) {
    if (typeof v === "number") out.set(name, v);
    else for (const [member, code] of Object.entries(v as Record<string, number>)) {
      out.set(`${name}_${member.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase()}`, code);
    }
  }
  return out;
}

describe.each(BUILDS)("module constants, %s build", (build) => {
  it("every exported global equals its generated constant, and every generated constant is exported", async () => {
    const { k } = await kernelEnv(build);
    const exported = new Map<string, number>();
    for (const [name, v] of Object.entries(k as unknown as Record<string, unknown>)) {
      if (v instanceof WebAssembly.Global) exported.set(name, v.value as number);
    }
    expect(exported.size).toBeGreaterThan(10);
    expect(Object.fromEntries(generated())).toEqual(Object.fromEntries(exported));
  });
});
