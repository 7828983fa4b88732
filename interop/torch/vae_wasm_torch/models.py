"""The library's VAE as an nn.Module: dense or layer-list networks, Gaussian (with flows) or categorical latents."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import ACT, log_px


def resolve_config(config):
    """A library configuration with its defaults filled in the library's order (as it saves them)."""
    c = dict(config)
    layered = "encoder" in c
    out = {
        "inputDim": c["inputDim"] if "inputDim" in c else math.prod(c["inputShape"]),
        "latentDim": c.get("latentDim", 20),
        "hidden": [] if layered else list(c.get("hidden", [400])),
        "decoderHidden": [] if layered else list(c.get("decoderHidden", list(reversed(c.get("hidden", [400]))))),
        "activation": c.get("activation", "relu"),
        "likelihood": c.get("likelihood", {"type": "bernoulli"}),
        "latent": c.get("latent", {"type": "gaussian"}),
        "flow": c.get("flow"),
        "seed": c.get("seed", 0),
    }
    if out["likelihood"] == "bernoulli":
        out["likelihood"] = {"type": "bernoulli"}
    elif out["likelihood"] == "gaussian" or (isinstance(out["likelihood"], dict) and out["likelihood"]["type"] == "gaussian"):
        g = out["likelihood"] if isinstance(out["likelihood"], dict) else {}
        out["likelihood"] = {"type": "gaussian", "variance": g.get("variance", 1), "learnVariance": g.get("learnVariance", False)}
    if out["latent"] == "gaussian":
        out["latent"] = {"type": "gaussian"}
    if out["latent"]["type"] == "categorical":
        out["latent"] = {"type": "categorical", "variables": out["latent"]["variables"], "categories": out["latent"]["categories"]}
        out["latentDim"] = out["latent"]["variables"] * out["latent"]["categories"]
    f = out["flow"]
    if f is not None:
        out["flow"] = {"type": f["type"], "length": f["length"]}
        if f["type"] == "iaf":
            out["flow"]["hidden"] = f.get("hidden", 4 * out["latentDim"])
    if layered:
        out["inputShape"] = list(c["inputShape"])
        out["encoder"] = [_resolve_layer(s, out["activation"]) for s in c["encoder"]]
        out["decoder"] = [_resolve_layer(s, out["activation"]) for s in c["decoder"]]
        last = out["decoder"][-1]
        if "activation" in last:
            last["activation"] = "identity"
    return out


def _resolve_layer(s, activation):
    pair = lambda v: list(v) if isinstance(v, (list, tuple)) else [v, v]
    if s["type"] == "dense":
        return {"type": "dense", "units": s["units"], "activation": s.get("activation", activation)}
    if s["type"] in ("conv", "convT"):
        return {"type": s["type"], "out": s["out"], "kernel": pair(s["kernel"]), "stride": pair(s.get("stride", 1)),
                "padding": pair(s.get("padding", 0)), "activation": s.get("activation", activation)}
    if s["type"] == "flatten":
        return {"type": "flatten"}
    if s["type"] == "unflatten":
        return {"type": "unflatten", "shape": list(s["shape"])}
    raise ValueError(f"VAE: a layer's type must be dense, conv, convT, flatten or unflatten; got {s['type']!r}")


class _Net(nn.Module):
    """A layer list (conv, convT, dense, flatten, unflatten): modules at their list index."""

    def __init__(self, specs, shape):
        super().__init__()
        self.specs = specs
        self.layers = nn.ModuleList()
        for s in specs:
            if s["type"] == "dense":
                self.layers.append(nn.Linear(math.prod(shape), s["units"]))
                shape = [s["units"]]
            elif s["type"] in ("conv", "convT"):
                C, H, W = shape
                kind = nn.Conv2d if s["type"] == "conv" else nn.ConvTranspose2d
                layer = kind(C, s["out"], tuple(s["kernel"]), tuple(s["stride"]), tuple(s["padding"]))
                self.layers.append(layer)
                if s["type"] == "conv":
                    shape = [s["out"], (H + 2 * s["padding"][0] - s["kernel"][0]) // s["stride"][0] + 1,
                             (W + 2 * s["padding"][1] - s["kernel"][1]) // s["stride"][1] + 1]
                else:
                    shape = [s["out"], (H - 1) * s["stride"][0] - 2 * s["padding"][0] + s["kernel"][0],
                             (W - 1) * s["stride"][1] - 2 * s["padding"][1] + s["kernel"][1]]
            elif s["type"] == "flatten":
                self.layers.append(nn.Flatten(-3))
                shape = [math.prod(shape)]
            else:
                self.layers.append(nn.Unflatten(-1, tuple(s["shape"])))
                shape = list(s["shape"])
        self.out_shape = shape

    def forward(self, h):
        for s, layer in zip(self.specs, self.layers):
            lead = h.shape[:-3] if s["type"] in ("conv", "convT") else None
            if lead is not None and len(lead) != 1:  # the conv layers take one batch dimension
                h = layer(h.reshape(-1, *h.shape[-3:]))
                h = h.reshape(*lead, *h.shape[1:])
            else:
                h = layer(h)
            h = ACT[s.get("activation", "identity")](h)
        return h


class _Dense(nn.Module):
    def __init__(self, sizes, activation):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = ACT[activation]

    def forward(self, h):
        for layer in self.hidden:
            h = self.act(layer(h))
        return h


def made_masks(Z, H, t):
    """IAF step t's MADE masks (the library's): variable j has degree j+1 on even steps and Z−j on
    odd ones, hidden unit k degree 1 + k mod (Z−1); [H, Z] and [2Z, H] (m's rows, then s's)."""
    deg = (lambda j: j + 1) if t % 2 == 0 else (lambda j: Z - j)
    hdeg = [1 + k % (Z - 1) for k in range(H)]
    hidden = torch.tensor([[1.0 if hdeg[k] >= deg(j) else 0.0 for j in range(Z)] for k in range(H)])
    out = torch.tensor([[1.0 if deg(j) > hdeg[k] else 0.0 for k in range(H)] for j in range(Z)])
    return hidden, torch.cat([out, out])


class VAE(nn.Module):
    """A vae-wasm model as an nn.Module whose state_dict names and layouts are the library's file's."""

    def __init__(self, config):
        super().__init__()
        c = resolve_config(config)
        if c["activation"] not in ACT:
            raise ValueError(f"VAE: activation must be relu, tanh or identity; got {c['activation']!r}")
        self.config = c
        D, Z = c["inputDim"], c["latentDim"]
        self.encoder, self.decoder = nn.Module(), nn.Module()
        # the networks' modules are registered under encoder/decoder only (the file's names)
        if "encoder" in c:
            enc, dec = _Net(c["encoder"], c["inputShape"]), _Net(c["decoder"], [Z])
            self.encoder.layers, self.decoder.layers = enc.layers, dec.layers
            top = enc.out_shape[0]
        else:
            enc, dec = _Dense([D] + c["hidden"], c["activation"]), _Dense([Z] + c["decoderHidden"], c["activation"])
            self.encoder.hidden, self.decoder.hidden = enc.hidden, dec.hidden
            top = ([D] + c["hidden"])[-1]
            self.decoder.out = nn.Linear(([Z] + c["decoderHidden"])[-1], D)
        object.__setattr__(self, "_enc", enc)
        object.__setattr__(self, "_dec", dec)
        if c["latent"]["type"] == "categorical":
            self.encoder.logits = nn.Linear(top, Z)
        else:
            self.encoder.mu = nn.Linear(top, Z)
            self.encoder.logvar = nn.Linear(top, Z)
        flow = c["flow"]
        if flow is not None:
            T = flow["length"]
            P = {"planar": T * (2 * Z + 1), "radial": T * (Z + 2), "iaf": T * flow.get("hidden", 0)}[flow["type"]]
            self.encoder.flow = nn.Linear(top, P)
            if flow["type"] == "iaf":
                H = flow["hidden"]
                self.encoder.iaf = nn.ModuleList()
                for t in range(T):
                    step = nn.Module()
                    step.hidden, step.out = nn.Linear(Z, H), nn.Linear(H, 2 * Z)
                    hid_mask, out_mask = made_masks(Z, H, t)
                    step.register_buffer("hidden_mask", hid_mask, persistent=False)
                    step.register_buffer("out_mask", out_mask, persistent=False)
                    with torch.no_grad():
                        step.hidden.weight.mul_(hid_mask)
                        step.out.weight.mul_(out_mask)
                        step.out.bias[Z:] = 1  # σ(s) ≈ 0.73 at first, each step close to the identity
                    self.encoder.iaf.append(step)
        lik = c["likelihood"]
        if lik["type"] == "gaussian" and lik["learnVariance"]:
            self.decoder.logvar = nn.Parameter(torch.zeros(D))

    def _image(self, x):
        C, H, W = self.config["inputShape"]
        return x.reshape(*x.shape[:-1], H, W, C).movedim(-1, -3)

    def _top(self, x):
        return self._enc(self._image(x)) if "encoder" in self.config else self._enc(x)

    def encode(self, x):
        """mu, logvar of q(z|x) for rows x [..., D] (a Gaussian latent); logits for a categorical one."""
        h = self._top(x)
        if self.config["latent"]["type"] == "categorical":
            return self.encoder.logits(h)
        return self.encoder.mu(h), self.encoder.logvar(h)

    def flow(self, z0, hf):
        """z_T and Σ_t log|det ∂f_t/∂z_{t−1}| of the flow from z0 [N, K, Z], the flow head's output hf [N, P]."""
        f, Z = self.config["flow"], self.config["latentDim"]
        z, logdet = z0, torch.zeros_like(z0[..., 0])
        T = f["length"]
        for t in range(T):
            if f["type"] == "planar":
                p = hf[:, t * (2 * Z + 1):(t + 1) * (2 * Z + 1)].unsqueeze(1)
                u, w, b = p[..., :Z], p[..., Z:2 * Z], p[..., 2 * Z]
                wu, n2 = (w * u).sum(-1), (w * w).sum(-1)
                m = F.softplus(wu) - 1
                coef = torch.where(n2 > 0, (m - wu) / torch.where(n2 > 0, n2, torch.ones_like(n2)), torch.zeros_like(n2))
                h = torch.tanh(b + (w * z).sum(-1))
                z = z + (u + coef.unsqueeze(-1) * w) * h.unsqueeze(-1)
                logdet = logdet + torch.log(torch.abs(1 + (1 - h * h) * m))
            elif f["type"] == "radial":
                p = hf[:, t * (Z + 2):(t + 1) * (Z + 2)].unsqueeze(1)
                zr = p[..., :Z]
                alpha = F.softplus(p[..., Z])
                beta = F.softplus(p[..., Z + 1]) - alpha
                h = 1 / (alpha + (z - zr).norm(dim=-1))
                bh = beta * h
                z = z + bh.unsqueeze(-1) * (z - zr)
                logdet = logdet + (Z - 1) * torch.log1p(bh) + torch.log1p(beta * alpha * h * h)
            else:
                H = f["hidden"]
                step = self.encoder.iaf[t]
                hid = torch.relu(F.linear(z, step.hidden.weight * step.hidden_mask, step.hidden.bias) + hf[:, t * H:(t + 1) * H].unsqueeze(1))
                out = F.linear(hid, step.out.weight * step.out_mask, step.out.bias)
                sig = torch.sigmoid(out[..., Z:])
                z = sig * z + (1 - sig) * out[..., :Z]
                logdet = logdet + torch.log(sig).sum(-1)
        return z, logdet

    def decode(self, z):
        """The decoder's output rows [..., D]: Bernoulli logits or Gaussian means."""
        if "encoder" in self.config:
            y = self._dec(z)
            return y.movedim(-3, -1).reshape(*y.shape[:-3], -1)
        return self.decoder.out(self._dec(z))

    def log_px(self, x, out):
        """log p(x|z) summed over the D values, for decoder outputs `out` [..., D] and rows x broadcast to them."""
        return log_px(self.config["likelihood"], x, out, getattr(self.decoder, "logvar", None))
