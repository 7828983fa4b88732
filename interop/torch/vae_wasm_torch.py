"""vae-wasm models in PyTorch: the same weights, the same objective, the same files.

A model trained with vae-wasm continues in PyTorch (many GPUs, torch.distributed) and comes back
to JavaScript to be served, with no reshaping on either side:

    import vae_wasm_torch as vw
    model = vw.load("model.safetensors")            # an nn.Module; model.config is the library's
    loss = vw.loss(model, x, estimator="dreg", samples=5)
    loss.backward()                                  # the library's gradient, in any PyTorch setup
    vw.save(model, "model.safetensors", steps=1000)  # VAE.load(bytes) reads it, no config needed

Conventions (the library's, so numbers agree to float rounding):
  - x is [N, D] rows; an image row holds H×W pixels, a pixel's C channels together (NHWC), and
    the conv layers see it as NCHW after a permute; the decoder's output comes back as rows.
  - loss is the mean over examples of the negative objective (ELBO or IWAE bound); its gradient
    is the estimator's, also where that is not the objective's own gradient (stl, dreg, score).
  - eps is [N, K, Z]: example n's sample k (the library's row n·K + k).
  - log q's variance is exp(clamp(logvar, -30, 30)).

Supported: dense encoders/decoders (`hidden`, `decoderHidden`, relu/tanh/identity), layer lists
(conv, convT, dense, flatten, unflatten), Gaussian latents with planar, radial or IAF flows,
categorical latents (Gumbel-softmax, straight-through), Bernoulli and Gaussian (fixed or learned
variance) decoders; every estimator the library allows for the model (analytic, td, stl, iwae,
iwae-stl, dreg, score), β and free bits; M2 (SemiSupervisedVAE, m2_loss).

Command line:
    python3 vae_wasm_torch.py from-examples vae.pt model.safetensors   # pytorch/examples' VAE
    python3 vae_wasm_torch.py to-examples model.safetensors vae.pt
"""
import json
import math
import os
import struct
import sys
import tempfile
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "vae-wasm/1"
LOGVAR_MAX = 30.0
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
ESTIMATORS = ("analytic", "td", "stl", "iwae", "iwae-stl", "dreg", "score")
_ACT = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda v: v}


# ----------------------------------------------------------------------------- files

def js_json(value):
    """JSON text as JavaScript's JSON.stringify writes it (no spaces; 1 not 1.0; 1e-7 as 1e-7)."""
    if isinstance(value, dict):
        return "{" + ",".join(js_json(str(k)) + ":" + js_json(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        if value == int(value) and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)  # the shortest round-trip digits, as JavaScript
        if "e" not in text:
            return text
        mantissa, exp = text.split("e")
        exp = int(exp)
        if -7 < exp < 21:  # JavaScript writes these positionally
            digits = mantissa.replace(".", "").lstrip("-")
            sign = "-" if value < 0 else ""
            point = (mantissa.lstrip("-").index(".") if "." in mantissa else len(mantissa.lstrip("-"))) + exp
            if point <= 0:
                return sign + "0." + "0" * -point + digits
            return sign + digits[:point] + "." + digits[point:] if point < len(digits) else sign + digits + "0" * (point - len(digits))
        return mantissa + "e" + ("+" if exp > 0 else "-") + str(abs(exp))
    return json.dumps(value, ensure_ascii=False)


def read_safetensors(path_or_bytes):
    """(tensors: {name: float32 tensor} in file order, metadata: {str: str}) of a safetensors file;
    the library's crc32 checksum is checked when present."""
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else open(path_or_bytes, "rb").read()
    what = "read_safetensors" + ("" if isinstance(path_or_bytes, (bytes, bytearray)) else f"({path_or_bytes!r})")
    if len(data) < 8:
        raise ValueError(f"{what}: {len(data)} bytes is shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{what}: truncated: the header says it is {n} bytes long, the file has {len(data) - 8}")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    base = 8 + n
    if "checksum" in metadata:
        stored = metadata["checksum"]
        computed = "crc32:%08x" % (zlib.crc32(data[base:]) & 0xFFFFFFFF)
        if stored != computed:
            raise ValueError(f"{what}: the file is corrupted: its tensor data does not match its checksum ({stored}, computed {computed})")
    dtypes = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}
    tensors = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if info["dtype"] not in dtypes:
            raise ValueError(f"{what}: tensor '{name}' has dtype {info['dtype']}; only floating-point tensors can be weights")
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=dtypes[info["dtype"]]) if raw else torch.empty(0, dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).to(torch.float32)
    return tensors, metadata


def write_safetensors(path, tensors, metadata, checksum=True):
    """Writes float32 tensors (in the dict's order) and string metadata the way the library does —
    the same bytes for the same content — atomically (a temporary file renamed into place)."""
    meta = dict(metadata)
    if checksum:
        meta["checksum"] = "crc32:00000000"
    header = {"__metadata__": meta}
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().cpu().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = js_json(header)
    encoded = text.encode("utf-8")
    encoded += b" " * ((8 - (8 + len(encoded)) % 8) % 8)
    body = b"".join(blobs)
    if checksum:
        encoded = encoded.replace(b'"checksum":"crc32:00000000"', b'"checksum":"crc32:%08x"' % (zlib.crc32(body) & 0xFFFFFFFF), 1)
    out = struct.pack("<Q", len(encoded)) + encoded + body
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".vae-wasm-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(out)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


# ----------------------------------------------------------------------------- model

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
            h = _ACT[s.get("activation", "identity")](h)
        return h


class _Dense(nn.Module):
    def __init__(self, sizes, activation):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = _ACT[activation]

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
        if c["activation"] not in _ACT:
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
        lik = self.config["likelihood"]
        if lik["type"] == "bernoulli":
            return (x * out - F.softplus(out)).sum(-1)
        lv = self.decoder.logvar if lik["learnVariance"] else torch.full_like(out[..., :1], math.log(lik["variance"]))
        return -0.5 * (((x - out) ** 2) * torch.exp(-lv) + lv + 2 * HALF_LOG_2PI).sum(-1)


def _log_normal(z, mu, logvar):
    return -0.5 * (((z - mu) ** 2) * torch.exp(-logvar) + logvar).sum(-1) - z.shape[-1] * HALF_LOG_2PI


def allowed_estimators(config):
    """The estimators the library accepts for a model (as it refuses the others)."""
    if config["latent"]["type"] == "categorical":
        return ("analytic",)
    flow = config["flow"]
    if flow is None:
        return ESTIMATORS
    return ("td", "iwae") if flow["type"] in ("planar", "radial") else ("td", "stl", "iwae", "iwae-stl", "dreg")


def loss(model, x, estimator=None, samples=1, eps=None, beta=1.0, temperature=1.0, straight_through=False, free_bits=0.0, generator=None):
    """The library's loss (mean over the N rows of the negative objective) with the estimator's gradient.

    x: [N, D]; eps: [N, K, Z] standard normal noise (Gumbel noise for a categorical latent), drawn
    when None. estimator: the library's default when None (analytic; td with a flow). Returns a
    scalar tensor; backward() leaves each parameter's .grad equal to the library's lossAndGrads
    gradient."""
    c = model.config
    allowed = allowed_estimators(c)
    estimator = estimator or ("td" if c["flow"] is not None else "analytic")
    if estimator not in allowed:
        raise ValueError(f"loss: estimator must be one of {', '.join(allowed)} for this model; got {estimator!r}")
    if (beta != 1 or free_bits) and (estimator not in ("analytic", "td", "stl") or c["flow"] is not None):
        raise ValueError("loss: beta and free_bits weigh the KL of analytic, td and stl without a flow")
    N, Z, K = x.shape[0], c["latentDim"], samples
    x = x.to(next(model.parameters()).dtype)
    xk = x.unsqueeze(1)
    categorical = c["latent"]["type"] == "categorical"
    if eps is None:
        if categorical:
            u = torch.rand(N, K, Z, generator=generator, dtype=x.dtype)
            eps = -torch.log(-torch.log(u.clamp_min(1e-20)))
        else:
            eps = torch.randn(N, K, Z, generator=generator, dtype=x.dtype)
    eps = eps.to(x.dtype).reshape(N, K, Z)
    if categorical:
        C = c["latent"]["categories"]
        logits = model.encode(x)
        groups = (logits.unsqueeze(1) + eps).reshape(N, K, -1, C) / temperature
        soft = torch.softmax(groups, -1)
        y = soft
        if straight_through:
            hard = F.one_hot(groups.argmax(-1), C).to(soft.dtype)
            y = hard + soft - soft.detach()
        logpx = model.log_px(xk, model.decode(y.reshape(N, K, Z)))
        q = torch.log_softmax(logits.reshape(N, -1, C), -1)
        kl = (q.exp() * (q + math.log(C))).sum((-2, -1))
        return -(logpx.mean(1) - beta * kl).mean()

    h = model._top(x)
    mu, logvar = model.encoder.mu(h), model.encoder.logvar(h)
    logvar = logvar.clamp(-LOGVAR_MAX, LOGVAR_MAX)
    z0 = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps  # [N, K, Z]
    hf = model.encoder.flow(h) if c["flow"] is not None else None
    z, logdet = model.flow(z0, hf) if hf is not None else (z0, torch.zeros_like(z0[..., 0]))
    if estimator == "analytic":
        logpx = model.log_px(xk, model.decode(z))  # [N, K]
        kl = -0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar))  # [N, Z]
        if free_bits:  # max(λ, KL_j) per example and dimension: no gradient below λ
            kl = torch.where(kl.detach() < free_bits, torch.full_like(kl, free_bits), kl)
        return -(logpx.mean(1) - beta * kl.sum(-1)).mean()
    if free_bits and estimator in ("td", "stl"):
        return _free_bits_loss(model, xk, z, eps, mu, logvar, estimator, beta, free_bits)
    logq = _log_normal(z0, mu.unsqueeze(1), logvar.unsqueeze(1)) - logdet
    log_prior = lambda v: _log_normal(v, torch.zeros_like(v), torch.zeros_like(v))
    if estimator in ("td", "iwae"):
        logpx = model.log_px(xk, model.decode(z))
        if estimator == "td":
            return -(logpx + beta * (log_prior(z) - logq)).mean()
        return -(torch.logsumexp(logpx + log_prior(z) - logq, 1) - math.log(K)).mean()
    if estimator == "score":
        if K < 2:
            raise ValueError("loss: the score estimator needs samples >= 2 here (its leave-one-out baseline); with K = 1 the library uses a running average kept between steps")
        zd = z.detach()
        logpx = model.log_px(xk, model.decode(zd))
        logq_d = _log_normal(zd, mu.unsqueeze(1), logvar.unsqueeze(1))
        logw = (logpx + log_prior(zd) - logq_d).detach()
        baseline = (logw.sum(1, keepdim=True) - logw) / (K - 1)
        surrogate = -(logpx.mean() + ((logw - baseline) * logq_d).mean())
        return -logw.mean() + surrogate - surrogate.detach()
    # path derivatives: log q's parameters held fixed, z = z_T(φ) differentiated along the sample
    # path; v = ∂log q(z; φ′)/∂z stands in for log q's gradient
    v = _path_score(model, z0, z, mu, logvar, hf)
    logpx = model.log_px(xk, model.decode(z))
    logw = (logpx + log_prior(z) - logq).detach()
    if estimator == "stl":
        value = -(logpx + beta * (log_prior(z) - logq)).mean()
        surrogate = -(logpx + beta * (log_prior(z) - (v * z).sum(-1))).mean()
        return value.detach() + surrogate - surrogate.detach()
    bound = torch.logsumexp(logw, 1) - math.log(K)
    wt = torch.softmax(logw, 1)
    if estimator == "iwae-stl":
        surrogate = -(wt * (logpx + log_prior(z) - (v * z).sum(-1))).sum() / N
        return -bound.mean() + surrogate - surrogate.detach()
    # dreg: the decoder Σ w̃ ∇θ log w at z held fixed; the encoder Σ w̃² ∇ log w through z only
    zd = z.detach()
    dec = (wt * model.log_px(xk, model.decode(zd))).sum()
    zg = zd.clone().requires_grad_(True)
    with torch.enable_grad():
        (gz,) = torch.autograd.grad((model.log_px(xk, model.decode(zg)) + log_prior(zg)).sum(), zg)
    enc = ((wt ** 2).unsqueeze(-1) * (gz - v) * z).sum()
    surrogate = -(dec + enc) / N
    return -bound.mean() + surrogate - surrogate.detach()


def _free_bits_loss(model, xk, z, eps, mu, logvar, estimator, beta, lam):
    """td/stl with free bits: a dimension whose Monte Carlo KL over the example's K samples,
    ½(mean_k (z² − eps²) − logvar), is below λ adds −λ to every sample's log w (no gradient)
    instead of its log p_j − log q_j."""
    mu, logvar = mu.unsqueeze(1), logvar.unsqueeze(1)
    log_p = -0.5 * z ** 2
    log_q = -0.5 * ((z - mu) ** 2 * torch.exp(-logvar) + logvar)
    floored = (0.5 * ((z ** 2 - eps ** 2).mean(1, keepdim=True) - logvar) < lam).detach()  # [N, 1, Z]
    lam_t = torch.full_like(log_p, -lam)
    logpx = model.log_px(xk, model.decode(z))
    value = -(logpx + beta * torch.where(floored, lam_t, log_p - log_q).sum(-1)).mean()
    if estimator == "td":
        return value
    v = -(z - mu) * torch.exp(-logvar)  # ∂log q/∂z with its parameters held fixed
    path = torch.where(floored, torch.zeros_like(log_p), log_p - v.detach() * z)
    surrogate = -(logpx + beta * path.sum(-1)).mean()
    return value.detach() + surrogate - surrogate.detach()


def _path_score(model, z0, z, mu, logvar, hf):
    """∂log q(z_T; φ′)/∂z_T with the parameters φ′ held fixed (detached): −(z − μ)/σ² without a flow;
    through an IAF, u0·J⁻¹ with u0 = ∂(log q0(z0) − log|det|)/∂z0 and J = ∂z_T/∂z0 (triangular)."""
    if hf is None:
        return (-(z - mu.unsqueeze(1)) * torch.exp(-logvar.unsqueeze(1))).detach()
    with torch.enable_grad():
        z0l = z0.detach().requires_grad_(True)
        zT, logdet = model.flow(z0l, hf.detach())
        a = _log_normal(z0l, mu.detach().unsqueeze(1), logvar.detach().unsqueeze(1)) - logdet
        (u0,) = torch.autograd.grad(a.sum(), z0l, retain_graph=True)
        J = torch.stack([torch.autograd.grad(zT[..., j].sum(), z0l, retain_graph=True)[0] for j in range(zT.shape[-1])], -2)
    return torch.linalg.solve(J.transpose(-1, -2), u0.unsqueeze(-1)).squeeze(-1).detach()


# ----------------------------------------------------------------------------- M2

M2_FORMAT = "vae-wasm-m2/1"


class SemiSupervisedVAE(nn.Module):
    """The library's M2 (Kingma et al. 2014): classifier q(y|x), encoder q(z|x,y), decoder p(x|y,z)
    (Bernoulli), as an nn.Module with the file's names (classifier.*, encoder.*, decoder.*)."""

    def __init__(self, config):
        super().__init__()
        c = {"inputDim": config["inputDim"], "classes": config.get("classes", 10), "latentDim": config.get("latentDim", 50),
             "hidden": list(config.get("hidden", [500])), "activation": config.get("activation", "relu"), "seed": config.get("seed", 0)}
        self.config = c
        D, C, Z, H = c["inputDim"], c["classes"], c["latentDim"], c["hidden"]
        self.act = _ACT[c["activation"]]

        def net(in_dim, sizes):
            m = nn.Module()
            m.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip([in_dim] + sizes[:-1], sizes))
            return m, ([in_dim] + sizes)[-1]

        self.classifier, top = net(D, H)
        self.classifier.logits = nn.Linear(top, C)
        self.encoder, top = net(D + C, H)
        self.encoder.mu, self.encoder.logvar = nn.Linear(top, Z), nn.Linear(top, Z)
        self.decoder, top = net(Z + C, list(reversed(H)))
        self.decoder.out = nn.Linear(top, D)

    def _hidden(self, m, h):
        for layer in m.hidden:
            h = self.act(layer(h))
        return h

    def class_logits(self, x):
        return self.classifier.logits(self._hidden(self.classifier, x))

    def encode(self, x, y):
        """mu, logvar of q(z|x,y) for rows x [R, D] and y [R, C] (one-hot or relaxed)."""
        h = self._hidden(self.encoder, torch.cat([x, y], -1))
        return self.encoder.mu(h), self.encoder.logvar(h).clamp(-LOGVAR_MAX, LOGVAR_MAX)

    def decode(self, z, y):
        """Bernoulli logits of p(x|y,z)."""
        return self.decoder.out(self._hidden(self.decoder, torch.cat([z, y], -1)))


def m2_loss(model, labelled_x, labels, unlabelled_x, alpha=50.0, labelled_weight=1.0, eps=None, temperature=None, gumbel=None):
    """The library's M2 loss, −(λ·mean_l [L(x,y) + α·log q(y|x)] + mean_u U(x)), with its gradient.

    U sums over the C classes (enumeration), or with `temperature` uses one Gumbel-softmax sample
    of q(y|x) (noise `gumbel` [Bu, C]). eps: [R, Z], R = labelled rows, then per unlabelled
    example its C rows (y = 0…C−1; one row with a temperature)."""
    c = model.config
    C, Z = c["classes"], c["latentDim"]
    dtype = next(model.parameters()).dtype
    xl, xu = labelled_x.to(dtype), unlabelled_x.to(dtype)
    labels = torch.as_tensor(labels, dtype=torch.long)
    Bl, Bu = xl.shape[0], xu.shape[0]
    E = 1 if temperature else C
    R = Bl + E * Bu
    eps = torch.randn(R, Z, dtype=dtype) if eps is None else eps.to(dtype).reshape(R, Z)
    logq = torch.log_softmax(model.class_logits(torch.cat([xl, xu])), -1)
    eye = torch.eye(C, dtype=dtype)
    if temperature:
        g = -torch.log(-torch.log(torch.rand(Bu, C, dtype=dtype))) if gumbel is None else gumbel.to(dtype).reshape(Bu, C)
        yu = torch.softmax((logq[Bl:] + g) / temperature, -1)  # softmax((l + g)/τ): the shift by log Σ e^l cancels
        xs, ys = torch.cat([xl, xu]), torch.cat([eye[labels], yu])
    else:
        xs = torch.cat([xl, xu.repeat_interleave(C, 0)])
        ys = torch.cat([eye[labels], eye.repeat(Bu, 1)])
    mu, logvar = model.encode(xs, ys)
    z = mu + torch.exp(0.5 * logvar) * eps
    out = model.decode(z, ys)
    logpx = (xs * out - F.softplus(out)).sum(-1)
    kl = -0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(-1)
    bound = logpx - kl - math.log(C)  # L(x, y) with log p(y) = −log C
    labelled = (bound[:Bl] + alpha * logq[torch.arange(Bl), labels]).sum()
    if temperature:
        q = logq[Bl:].exp()
        kl_y = (q * (logq[Bl:] + math.log(C))).sum(-1)
        unlabelled = (logpx[Bl:] - kl[Bl:] - kl_y).sum()
    else:
        q = logq[Bl:].exp()
        unlabelled = (q * (bound[Bl:].reshape(Bu, C) - logq[Bl:])).sum()
    return -((labelled_weight * labelled / Bl if Bl else 0) + (unlabelled / Bu if Bu else 0))


# ----------------------------------------------------------------------------- load / save

def load(path_or_bytes, config=None):
    """A VAE from a library file (its config from the metadata, or `config` for a file without one)."""
    tensors, metadata = read_safetensors(path_or_bytes)
    if config is None:
        if "config" not in metadata:
            raise ValueError("load: the file has no vae-wasm configuration in its metadata; pass config=")
        config = json.loads(metadata["config"])
    fmt = metadata.get("format", FORMAT)
    if fmt not in (FORMAT, M2_FORMAT):
        raise ValueError(f"load: the file's format is {fmt!r}, not {FORMAT!r} or {M2_FORMAT!r}")
    model = SemiSupervisedVAE(config) if fmt == M2_FORMAT else VAE(config)
    model.load_state_dict(tensors)
    model.steps = int(metadata.get("steps", 0))
    model.metadata = {k: v for k, v in metadata.items() if k not in ("format", "config", "steps", "checksum")}
    return model


def save(model, path, steps=None, metadata=None):
    """The model as a library file (tensors in the library's order, its metadata): VAE.load reads it
    without a config, and the library saves it back byte for byte."""
    steps = getattr(model, "steps", 0) if steps is None else steps
    meta = dict(getattr(model, "metadata", {}) if metadata is None else metadata)
    m2 = isinstance(model, SemiSupervisedVAE)
    meta.update({"format": M2_FORMAT if m2 else FORMAT, "config": js_json(model.config), "steps": str(steps)})
    return write_safetensors(path, dict(model.state_dict()) if m2 else tensor_order(model), meta)


def tensor_order(model):
    """The state dict in the order the library lays its tensors out."""
    sd = model.state_dict()
    names = []
    c = model.config
    if "encoder" in c:
        names += [f"encoder.layers.{i}.{p}" for i, s in enumerate(c["encoder"]) if s["type"] not in ("flatten", "unflatten") for p in ("weight", "bias")]
    else:
        names += [f"encoder.hidden.{i}.{p}" for i in range(len(c["hidden"])) for p in ("weight", "bias")]
    if c["latent"]["type"] == "categorical":
        names += ["encoder.logits.weight", "encoder.logits.bias"]
    else:
        names += ["encoder.mu.weight", "encoder.logvar.weight", "encoder.mu.bias", "encoder.logvar.bias"]
    if c["flow"] is not None:
        names += ["encoder.flow.weight", "encoder.flow.bias"]
        if c["flow"]["type"] == "iaf":
            names += [f"encoder.iaf.{t}.{l}.{p}" for t in range(c["flow"]["length"]) for l in ("hidden", "out") for p in ("weight", "bias")]
    if "encoder" in c:
        names += [f"decoder.layers.{i}.{p}" for i, s in enumerate(c["decoder"]) if s["type"] not in ("flatten", "unflatten") for p in ("weight", "bias")]
    else:
        names += [f"decoder.hidden.{i}.{p}" for i in range(len(c["decoderHidden"])) for p in ("weight", "bias")] + ["decoder.out.weight", "decoder.out.bias"]
    if "decoder.logvar" in sd:
        names.append("decoder.logvar")
    assert sorted(names) == sorted(sd), (names, list(sd))
    return {n: sd[n] for n in names}


# ----------------------------------------------------------------------------- pytorch/examples

EXAMPLES_NAMES = {
    "fc1": "encoder.hidden.0", "fc21": "encoder.mu", "fc22": "encoder.logvar",
    "fc3": "decoder.hidden.0", "fc4": "decoder.out",
}


def from_examples(state_dict):
    """pytorch/examples' VAE (fc1, fc21, fc22, fc3, fc4) as a library model: same tensors, library names."""
    sd = {EXAMPLES_NAMES[k.split(".")[0]] + "." + k.split(".")[1]: v for k, v in state_dict.items()}
    D, H = sd["encoder.hidden.0.weight"].shape[1], sd["encoder.hidden.0.weight"].shape[0]
    Z = sd["encoder.mu.weight"].shape[0]
    model = VAE({"inputDim": D, "latentDim": Z, "hidden": [H], "decoderHidden": [sd["decoder.hidden.0.weight"].shape[0]]})
    model.load_state_dict(sd)
    return model


def to_examples(model):
    """A one-hidden-layer dense library model as pytorch/examples' VAE state dict."""
    c = model.config
    if "encoder" in c or len(c["hidden"]) != 1 or len(c["decoderHidden"]) != 1 or c["activation"] != "relu" or c["likelihood"]["type"] != "bernoulli":
        raise ValueError("to_examples: pytorch/examples' VAE is one ReLU hidden layer each way with a Bernoulli decoder; this model is not")
    back = {v: k for k, v in EXAMPLES_NAMES.items()}
    return {back[k.rsplit(".", 1)[0]] + "." + k.rsplit(".", 1)[1]: v for k, v in model.state_dict().items()}


def _main(argv):
    usage = "usage: vae_wasm_torch.py from-examples VAE.pt MODEL.safetensors | to-examples MODEL.safetensors VAE.pt"
    if len(argv) != 3 or argv[0] not in ("from-examples", "to-examples"):
        print(usage, file=sys.stderr)
        return 2
    if argv[0] == "from-examples":
        sd = torch.load(argv[1], map_location="cpu")
        sd = sd.state_dict() if isinstance(sd, nn.Module) else sd
        save(from_examples(sd), argv[2])
    else:
        torch.save(to_examples(load(argv[1])), argv[2])
    print(f"wrote {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
