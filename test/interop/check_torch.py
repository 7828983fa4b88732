"""The PyTorch side of test/interop/torch.test.ts: reads the cases the library wrote, answers in JSON.

  check_torch.py DIR        -> one JSON object on stdout (the VAE cases)
  check_torch.py DIR m2     -> the same for the M2 cases (NAME.m2expect.safetensors)

DIR holds, per case NAME: NAME.safetensors (the library's model file) and NAME.expect.safetensors
(x, eps and, per estimator E, the library's loss in the metadata and gradients `E/<tensor>`).
For each case and estimator: the loss and every gradient of interop/torch/vae_wasm_torch/ in
float64 at the same weights and eps, and their differences from the library's (relative to the
tensor's norm). Files: the library's file read and written back (bytes equal?); then a model
made in PyTorch (torch's own initialisation), trained 3 Adam steps there and written as
NAME.torch.safetensors with its next step's loss for the library to reproduce. Last,
pytorch/examples' VAE through the converter both ways (examples.safetensors, with x, eps and
that model's own loss in examples.io.safetensors).
"""
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "interop", "torch"))
import vae_wasm_torch as vw  # noqa: E402

torch.manual_seed(5)
root = sys.argv[1]
out = {}


def worst_gradient(model, library_grad):
    """The largest ‖g − g_library‖/‖g‖ over the model's tensors, and that tensor's name."""
    worst, where = 0.0, None
    for pname, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        rel = ((g - library_grad(pname).double().reshape(p.shape)).norm() / max(g.norm().item(), 1e-30)).item()
        if rel > worst:
            worst, where = rel, pname
    return worst, where


if len(sys.argv) > 2 and sys.argv[2] == "m2":
    # M2: NAME.m2expect.safetensors holds xl, labels, xu, eps, gumbel, the library's loss and grad/<tensor>
    for name in sorted(f[:-len(".m2expect.safetensors")] for f in os.listdir(root) if f.endswith(".m2expect.safetensors")):
        t, meta = vw.read_safetensors(os.path.join(root, name + ".m2expect.safetensors"))
        path = os.path.join(root, name + ".safetensors")
        tau = float(meta["temperature"]) or None
        kw = dict(alpha=float(meta["alpha"]), labelled_weight=float(meta["labelledWeight"]), temperature=tau, beta=float(meta["beta"]))
        args = lambda: (t["xl"].double(), t["labels"].long(), t["xu"].double())
        model = vw.load(path).double()
        loss = vw.m2_loss(model, *args(), eps=t["eps"].double(), gumbel=t["gumbel"].double(), **kw)
        loss.backward()
        worst, where = worst_gradient(model, lambda pname: t[f"grad/{pname}"])
        case = {"lossRel": abs(loss.item() - float(meta["loss"])) / abs(float(meta["loss"])), "gradRel": worst, "worstTensor": where}
        case["roundTrip"] = vw.save(vw.load(path), os.path.join(root, name + ".back.safetensors")) == open(path, "rb").read()
        fresh = vw.SemiSupervisedVAE(vw.load(path).config)
        opt = torch.optim.Adam(fresh.parameters(), lr=1e-3)
        for _ in range(3):
            opt.zero_grad()
            vw.m2_loss(fresh, t["xl"], t["labels"].long(), t["xu"], **kw).backward()
            opt.step()
        vw.save(fresh, os.path.join(root, name + ".torch.safetensors"), steps=3)
        with torch.no_grad():
            case["torchNextLoss"] = vw.m2_loss(fresh.double(), *args(), eps=t["eps"].double(), gumbel=t["gumbel"].double(), **kw).item()
        out[name] = case
    print(json.dumps(out))
    sys.exit(0)
for name in sorted(f[:-len(".expect.safetensors")] for f in os.listdir(root) if f.endswith(".expect.safetensors")):
    case = {"estimators": {}}
    model_path = os.path.join(root, name + ".safetensors")
    expect, meta = vw.read_safetensors(os.path.join(root, name + ".expect.safetensors"))
    x, eps = expect["x"].double(), expect["eps"].double()
    K = eps.shape[1]
    model = vw.load(model_path).double()
    for est in json.loads(meta["estimators"]):
        model.zero_grad()
        loss = vw.loss(model, x, est, samples=K, eps=eps, beta=float(meta.get("beta", 1)) if est in ("analytic", "td", "stl") else 1.0,
                       temperature=float(meta.get("temperature", 1)), straight_through=meta.get("straightThrough") == "1",
                       free_bits=float(meta.get("freeBits", 0)) if est in ("analytic", "td", "stl") else 0.0)
        loss.backward()
        want = float(meta[f"{est}/loss"])
        worst, where = worst_gradient(model, lambda pname: expect[f"{est}/{pname}"])
        case["estimators"][est] = {"loss": loss.item(), "lossRel": abs(loss.item() - want) / abs(want), "gradRel": worst, "worstTensor": where}
    if "freeBits" in meta:  # the fraction of (example, dimension) pairs the floor holds, both tests
        lam = float(meta["freeBits"])
        with torch.no_grad():
            mu, lv = model.encode(x)
            z = mu.unsqueeze(1) + torch.exp(0.5 * lv).unsqueeze(1) * eps
            case["flooredAnalytic"] = (-0.5 * (1 + lv - mu ** 2 - lv.exp()) < lam).double().mean().item()
            case["flooredMonteCarlo"] = (0.5 * ((z ** 2 - eps ** 2).mean(1) - lv) < lam).double().mean().item()
    # the library's file, read and written back
    written = vw.save(vw.load(model_path), os.path.join(root, name + ".back.safetensors"))
    case["roundTrip"] = written == open(model_path, "rb").read()
    # a model made and trained in PyTorch, for the library to continue
    config = json.loads(vw.read_safetensors(model_path)[1]["config"])
    fresh = vw.VAE(config)
    first = json.loads(meta["estimators"])[0]
    opt = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    xf = x.float()
    for _ in range(3):
        opt.zero_grad()
        vw.loss(fresh, xf, first, samples=K).backward()
        opt.step()
    fresh.metadata = {"trainedWith": "pytorch"}
    vw.save(fresh, os.path.join(root, name + ".torch.safetensors"), steps=3)
    with torch.no_grad():
        case["torchNextLoss"] = vw.loss(fresh.double(), x, first, samples=K, eps=eps).item()
    out[name] = case


class Examples(torch.nn.Module):
    """pytorch/examples' vae/main.py model (784-400-20 there; smaller here)."""

    def __init__(self, D=12, H=7, Z=3):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = torch.nn.Linear(D, H), torch.nn.Linear(H, Z), torch.nn.Linear(H, Z)
        self.fc3, self.fc4 = torch.nn.Linear(Z, H), torch.nn.Linear(H, D)

    def loss(self, x, eps):  # its loss_function: BCE(sum) + KLD, per example here
        h = torch.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        recon = torch.sigmoid(self.fc4(torch.relu(self.fc3(z))))
        bce = torch.nn.functional.binary_cross_entropy(recon, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (bce + kld) / x.shape[0]


# pytorch/examples' names, through the command line both ways
ex = Examples().double()
pt, st, back = (os.path.join(root, f) for f in ("examples.pt", "examples.safetensors", "examples.back.pt"))
torch.save(ex.state_dict(), pt)
tool = os.path.dirname(vw.__file__)  # the package directory runs its __main__
for args in (["from-examples", pt, st], ["to-examples", st, back]):
    r = subprocess.run([sys.executable, tool, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"vae_wasm_torch {' '.join(args)} failed: {r.stderr}")
# a model the examples' VAE cannot hold is refused with exit code 2 and a reason
refused = subprocess.run([sys.executable, tool, "to-examples", os.path.join(root, "conv-grey.safetensors"), os.path.join(root, "no.pt")], capture_output=True, text=True)
x = torch.rand(4, 12).double()  # float32 values, as the file holds them
eps = torch.randn(4, 1, 3).double()
vw.write_safetensors(os.path.join(root, "examples.io.safetensors"), {"x": x, "eps": eps}, {"loss": repr(ex.loss(x, eps[:, 0]).item())})
restored = torch.load(back)
out["examples"] = {"refusedCode": refused.returncode, "refusedMessage": refused.stderr.strip(), "backEqual": sorted(restored) == sorted(ex.state_dict()) and all(torch.equal(restored[k].double(), ex.state_dict()[k].float().double()) for k in restored)}
print(json.dumps(out))
