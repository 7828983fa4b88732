"""The library's M2 (Kingma et al. 2014) and its loss."""
import math

import torch
import torch.nn as nn

from .common import ACT, LOGVAR_MAX, log_px


class SemiSupervisedVAE(nn.Module):
    """The library's M2 (Kingma et al. 2014): classifier q(y|x), encoder q(z|x,y), decoder p(x|y,z)
    (Bernoulli, or Gaussian with a fixed or learned variance per value), as an nn.Module with the
    file's names (classifier.*, encoder.*, decoder.*, decoder.logvar)."""

    def __init__(self, config):
        super().__init__()
        c = {"inputDim": config["inputDim"], "classes": config.get("classes", 10), "latentDim": config.get("latentDim", 50),
             "hidden": list(config.get("hidden", [500])), "activation": config.get("activation", "relu"),
             "likelihood": _likelihood(config.get("likelihood", "bernoulli")), "seed": config.get("seed", 0)}
        self.config = c
        D, C, Z, H = c["inputDim"], c["classes"], c["latentDim"], c["hidden"]
        self.act = ACT[c["activation"]]

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
        lik = c["likelihood"]
        if lik["type"] == "gaussian" and lik["learnVariance"]:
            self.decoder.logvar = nn.Parameter(torch.full((D,), math.log(lik["variance"])))

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
        """The decoder's outputs for p(x|y,z): Bernoulli logits, or the Gaussian's means."""
        return self.decoder.out(self._hidden(self.decoder, torch.cat([z, y], -1)))

    def log_px(self, x, out):
        """log p(x|y,z) summed over the D values, for decoder outputs `out` [R, D] and rows x [R, D]."""
        return log_px(self.config["likelihood"], x, out, getattr(self.decoder, "logvar", None))


def _likelihood(lik):
    """The library's resolved likelihood: {'type': 'bernoulli'} or {'type': 'gaussian', 'variance', 'learnVariance'}."""
    if lik == "bernoulli" or (isinstance(lik, dict) and lik.get("type") == "bernoulli"):
        return {"type": "bernoulli"}
    if lik == "gaussian" or (isinstance(lik, dict) and lik.get("type") == "gaussian"):
        g = lik if isinstance(lik, dict) else {}
        return {"type": "gaussian", "variance": g.get("variance", 1), "learnVariance": g.get("learnVariance", False)}
    raise ValueError(f"SemiSupervisedVAE: likelihood must be 'bernoulli', 'gaussian' or {{'type': 'gaussian', ...}}; got {lik!r}")


def m2_loss(model, labelled_x, labels, unlabelled_x, alpha=50.0, labelled_weight=1.0, eps=None, temperature=None, gumbel=None, beta=1.0):
    """The library's M2 loss, −(λ·mean_l [L(x,y) + α·log q(y|x)] + mean_u U(x)), with its gradient.

    U sums over the C classes (enumeration), or with `temperature` uses one Gumbel-softmax sample
    of q(y|x) (noise `gumbel` [Bu, C]). eps: [R, Z], R = labelled rows, then per unlabelled
    example its C rows (y = 0…C−1; one row with a temperature). beta weighs z's KL term in every
    bound (the library's `beta` option)."""
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
    logpx = model.log_px(xs, out)
    kl = -0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(-1)
    bound = logpx - beta * kl - math.log(C)  # L(x, y) with log p(y) = −log C
    labelled = (bound[:Bl] + alpha * logq[torch.arange(Bl), labels]).sum()
    if temperature:
        q = logq[Bl:].exp()
        kl_y = (q * (logq[Bl:] + math.log(C))).sum(-1)
        unlabelled = (logpx[Bl:] - beta * kl[Bl:] - kl_y).sum()
    else:
        q = logq[Bl:].exp()
        unlabelled = (q * (bound[Bl:].reshape(Bu, C) - logq[Bl:])).sum()
    return -((labelled_weight * labelled / Bl if Bl else 0) + (unlabelled / Bu if Bu else 0))
