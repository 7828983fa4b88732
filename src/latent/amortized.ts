// Planar and radial flows (Rezende & Mohamed 2015), amortized: the flow head gives every
// example its own parameters for each of the T layers, with the invertibility constraints of
// the paper's appendix (assembly/flows.ts):
//   planar f(z) = z + û·tanh(wᵀz + b), 2Z + 1 numbers per layer;
//   radial f(z) = z + β/(α + ‖z − z_r‖)·(z − z_r), Z + 2 numbers per layer.
// Neither has a closed-form inverse, so only the total-derivative estimators apply.
import { FLOW } from "../../bindings/abi.js";
import { checkInt, fail } from "../util/validate.js";
import { flowKind, type FlowPlan } from "./flow.js";

export interface AmortizedPlan extends FlowPlan {
  kind: "planar" | "radial";
}

function amortized(type: "planar" | "radial") {
  return flowKind<AmortizedPlan>({
    type,
    keys: ["length"],
    resolve(fn, o, _latentDim, arg) {
      const length = checkInt(fn, `${arg}.flow.length`, o.length, 1, 64);
      if (o.hidden !== undefined) fail(fn, `${arg}.flow.hidden`, "nothing: it sizes IAF's masked networks only", o.hidden);
      return { type, length };
    },
    provides: ["density"],
    why: (name) => `'${name}' needs ∂log q(z|x)/∂z at fixed encoder parameters, i.e. the flow's inverse at z_T (a ${type} flow has no closed-form inverse)`,
    build(_L, c) {
      const T = c.flow!.length;
      const P = type === "planar" ? T * (2 * c.Z + 1) : T * (c.Z + 2);
      return { P, extra: (head) => ({ kind: type, T, P, head }) };
    },
    slots: {},
    forward(k, p, f, ws, K, b0, b1) {
      k.flowForward(FLOW[type], ws.zf as number, ws.R * p.Z, ws.z, ws.logdet as number, ws.hf as number, f.T, K, p.Z, b0, b1);
    },
    backward(k, p, f, ws, K, b0, b1) {
      k.flowBackward(FLOW[type], ws.dz, ws.zf as number, ws.R * p.Z, ws.z, ws.c, ws.dhf as number, ws.hf as number, f.T, K, p.Z, b0, b1);
    },
  });
}

export const planar = amortized("planar");
export const radial = amortized("radial");
