"""Constants shared with the library (its kernels' conventions)."""
import math

import torch

FORMAT = "vae-wasm/1"
M2_FORMAT = "vae-wasm-m2/1"
LOGVAR_MAX = 30.0
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
ESTIMATORS = ("analytic", "td", "stl", "iwae", "iwae-stl", "dreg", "score")
ACT = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda v: v}


def log_px(lik, x, out, logvar=None):
    """log p(x|·) summed over the D values for decoder outputs `out` [..., D] and rows x broadcast to
    them: Bernoulli on logits, or Gaussian around the means with the learned `logvar` [D] (when the
    likelihood learns it) or the fixed variance."""
    if lik["type"] == "bernoulli":
        return (x * out - torch.nn.functional.softplus(out)).sum(-1)
    lv = logvar if lik["learnVariance"] else torch.full_like(out[..., :1], math.log(lik["variance"]))
    return -0.5 * (((x - out) ** 2) * torch.exp(-lv) + lv + 2 * HALF_LOG_2PI).sum(-1)
