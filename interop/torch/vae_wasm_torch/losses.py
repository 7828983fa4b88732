"""The estimators as losses: the library's value, the library's gradient."""
import math

import torch
import torch.nn.functional as F

from .common import ESTIMATORS, HALF_LOG_2PI, LOGVAR_MAX


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
