"""Loading and saving the library's models (VAE and M2) with their configuration."""
import json

from .common import FORMAT, M2_FORMAT
from .files import js_json, read_safetensors, write_safetensors
from .m2 import SemiSupervisedVAE
from .models import VAE


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
    return write_safetensors(path, m2_order(model) if m2 else tensor_order(model), meta)


def m2_order(model):
    """An M2's state dict in the library's order: the networks' layers, then a learned log-variance."""
    sd = dict(model.state_dict())
    if "decoder.logvar" in sd:
        sd["decoder.logvar"] = sd.pop("decoder.logvar")
    return sd


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
