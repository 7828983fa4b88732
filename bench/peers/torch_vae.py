"""PyTorch peer for bench/index.ts: the same training steps as vae-wasm, timed on this machine.

  python3 bench/peers/torch_vae.py THREADS        ->  one JSON line {"vae": ms, "iwae": ms, ...}
  python3 bench/peers/torch_vae.py THREADS conv   ->  {"conv": ms}: the conv-mnist preset's step

THREADS is torch.set_num_threads; the caller sets OMP/OpenBLAS variables in the environment
(they must be set before torch loads). Models, batch sizes and optimiser match bench/index.ts:
  vae:  784-400-20 ReLU, Bernoulli decoder (logits), analytic KL, batch 100, Adam lr 1e-3
  iwae: 784-200-200-50 tanh, IWAE bound K=5, batch 20, Adam lr 1e-3 eps 1e-4
  conv: Conv(1->32,k4,s2,p1)-Conv(32->64)-256 -> 20 -> 256-3136-ConvT(64->32)-ConvT(32->1), ReLU,
        Bernoulli logits on grey levels, analytic KL, batch 100, Adam lr 1e-3 (vae-wasm's conv-mnist)
Time per step is the median over blocks of 10 steps, after a warm-up.
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(1)
D = 784


def grey(n):
    i = torch.arange(n * D, dtype=torch.int64)
    return (((i * 2654435761) % 4294967296).double() / 4294967296).float().reshape(n, D)


class VAE(nn.Module):
    def __init__(self, hidden, z, act):
        super().__init__()
        self.act = act
        self.enc = nn.ModuleList()
        prev = D
        for h in hidden:
            self.enc.append(nn.Linear(prev, h))
            prev = h
        self.head = nn.Linear(prev, 2 * z)
        self.dec = nn.ModuleList()
        prev = z
        for h in reversed(hidden):
            self.dec.append(nn.Linear(prev, h))
            prev = h
        self.out = nn.Linear(prev, D)
        self.z = z

    def encode(self, x):
        for l in self.enc:
            x = self.act(l(x))
        mu, logvar = self.head(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z):
        for l in self.dec:
            z = self.act(l(z))
        return self.out(z)


def vae_loss(m, x):
    mu, logvar = m.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    logits = m.decode(z)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (rec + kl) / x.shape[0]


def iwae_loss(m, x, K=5):
    mu, logvar = m.encode(x)  # [B, Z]
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(x.shape[0], K, m.z)
    z = mu.unsqueeze(1) + std.unsqueeze(1) * eps  # [B, K, Z]
    logits = m.decode(z)  # [B, K, D]
    logpx = -F.binary_cross_entropy_with_logits(logits, x.unsqueeze(1).expand_as(logits), reduction="none").sum(-1)
    logpz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    logqz = -0.5 * (eps.pow(2) + logvar.unsqueeze(1) + math.log(2 * math.pi)).sum(-1)
    logw = logpx + logpz - logqz
    bound = torch.logsumexp(logw, dim=1) - math.log(K)
    return -bound.mean()


class ConvVAE(nn.Module):
    def __init__(self, z=20):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU())
        self.head = nn.Linear(256, 2 * z)
        self.dec = nn.Sequential(
            nn.Linear(z, 256), nn.ReLU(), nn.Linear(256, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Flatten())
        self.z = z

    def encode(self, x):
        return self.head(self.enc(x.view(-1, 1, 28, 28))).chunk(2, dim=-1)

    def decode(self, z):
        return self.dec(z)


def time_steps(model, loss_fn, x, opt, budget_s=2.0):
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, x)
        loss.backward()
        opt.step()

    for _ in range(20):
        step()
    blocks = []
    t_end = time.perf_counter() + budget_s
    while time.perf_counter() < t_end or len(blocks) < 5:
        t0 = time.perf_counter()
        for _ in range(10):
            step()
        blocks.append((time.perf_counter() - t0) / 10 * 1000)
    return statistics.median(blocks)


out = {"torch": torch.__version__, "threads": threads}
if len(sys.argv) > 2 and sys.argv[2] == "conv":
    m = ConvVAE()
    out["conv"] = time_steps(m, vae_loss, grey(100), torch.optim.Adam(m.parameters(), lr=1e-3))
    print(json.dumps(out))
    sys.exit(0)
m = VAE([400], 20, F.relu)
out["vae"] = time_steps(m, vae_loss, grey(100), torch.optim.Adam(m.parameters(), lr=1e-3))
m = VAE([200, 200], 50, torch.tanh)
out["iwae"] = time_steps(m, iwae_loss, grey(20), torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-4))
print(json.dumps(out))
