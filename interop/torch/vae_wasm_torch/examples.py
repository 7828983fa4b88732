"""pytorch/examples' VAE (fc1, fc21, fc22, fc3, fc4) and the library's model, both ways."""
import sys

import torch
import torch.nn as nn

from .io import load, save
from .models import VAE


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
    if not isinstance(model, VAE) or "encoder" in c or c["flow"] is not None or c["latent"]["type"] != "gaussian" or len(c["hidden"]) != 1 \
            or len(c["decoderHidden"]) != 1 or c["activation"] != "relu" or c["likelihood"]["type"] != "bernoulli":
        what = "the M2 architecture" if not isinstance(model, VAE) else "encoder and decoder layer lists" if "encoder" in c else \
            f"hidden {c['hidden']}, decoderHidden {c['decoderHidden']}, {c['activation']}, {c['likelihood']['type']} decoder, " \
            f"{c['latent']['type']} latent{', a flow' if c['flow'] else ''}"
        raise ValueError("to_examples: pytorch/examples' VAE has one ReLU hidden layer each way, a Gaussian latent without a flow "
                         f"and a Bernoulli decoder; this model has {what}")
    back = {v: k for k, v in EXAMPLES_NAMES.items()}
    return {back[k.rsplit(".", 1)[0]] + "." + k.rsplit(".", 1)[1]: v for k, v in model.state_dict().items()}


def main(argv):
    usage = "usage: python3 interop/torch/vae_wasm_torch from-examples VAE.pt MODEL.safetensors | to-examples MODEL.safetensors VAE.pt"
    if len(argv) != 3 or argv[0] not in ("from-examples", "to-examples"):
        print(usage, file=sys.stderr)
        return 2
    try:
        if argv[0] == "from-examples":
            sd = torch.load(argv[1], map_location="cpu")
            sd = sd.state_dict() if isinstance(sd, nn.Module) else sd
            missing = sorted({f"{n}.{p}" for n in EXAMPLES_NAMES for p in ("weight", "bias")} - set(sd))
            if missing:
                raise ValueError(f"from_examples: {argv[1]} is not a state dict of pytorch/examples' VAE: it lacks {', '.join(missing)}")
            save(from_examples(sd), argv[2])
        else:
            torch.save(to_examples(load(argv[1])), argv[2])
    except (ValueError, KeyError, OSError, RuntimeError) as e:
        print(f"vae_wasm_torch {argv[0]}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {argv[2]}")
    return 0

