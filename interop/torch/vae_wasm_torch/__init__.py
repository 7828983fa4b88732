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
    python3 interop/torch/vae_wasm_torch from-examples vae.pt model.safetensors   # pytorch/examples' VAE
    python3 interop/torch/vae_wasm_torch to-examples model.safetensors vae.pt
"""
from .common import ESTIMATORS, FORMAT, LOGVAR_MAX, M2_FORMAT
from .examples import EXAMPLES_NAMES, from_examples, to_examples
from .files import js_json, read_safetensors, write_safetensors
from .io import load, save, tensor_order
from .losses import allowed_estimators, loss
from .m2 import SemiSupervisedVAE, m2_loss
from .models import VAE, made_masks, resolve_config

__all__ = [
    "ESTIMATORS", "FORMAT", "LOGVAR_MAX", "M2_FORMAT", "EXAMPLES_NAMES", "from_examples", "to_examples", "js_json", "read_safetensors",
    "write_safetensors", "load", "save", "tensor_order", "allowed_estimators", "loss", "SemiSupervisedVAE", "m2_loss", "VAE", "made_masks",
    "resolve_config",
]
