"""python3 interop/torch/vae_wasm_torch from-examples VAE.pt MODEL.safetensors | to-examples MODEL.safetensors VAE.pt"""
import os
import sys

if __package__ in (None, ""):  # run as a directory: make the package importable by its name
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from vae_wasm_torch.examples import main
else:
    from .examples import main

sys.exit(main(sys.argv[1:]))
