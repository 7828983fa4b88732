"""Constants shared with the library (its kernels' conventions)."""
import math

import torch

FORMAT = "vae-wasm/1"
M2_FORMAT = "vae-wasm-m2/1"
LOGVAR_MAX = 30.0
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
ESTIMATORS = ("analytic", "td", "stl", "iwae", "iwae-stl", "dreg", "score")
ACT = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda v: v}
