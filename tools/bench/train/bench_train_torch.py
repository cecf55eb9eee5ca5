"""PyTorch peer of bench_train.c: the same network (79 -> 3 x 256 -> 6, LeakyReLU
0.2, dropout, sigmoid), AdamW betas (0.5, 0.999), batch 32, the same synthetic
data, torch.set_num_threads(T); prints seconds per epoch (median after the first).
  python3 bench_train_torch.py [--samples N] [--epochs E] [--threads T] [--dtype float32|float64]
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--samples", type=int, default=20000)
p.add_argument("--epochs", type=int, default=6)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--dropout", type=float, default=0.2)
p.add_argument("--dtype", default="float64")
a = p.parse_args()
torch.set_num_threads(a.threads)
dtype = getattr(torch, a.dtype)
torch.manual_seed(1)
rng = np.random.default_rng(1)
n = a.samples
ab = rng.uniform(size=(n, 2))
j = np.arange(1, 80)
x = (1 + ab[:, :1]) * 1e4 * (j / 10.0) ** (-1 - ab[:, 1:2]) * (1 + 0.01 * rng.normal(size=(n, 79)))
x = np.log10(x)
x = (x - x.mean(0)) / x.std(0)
y = np.concatenate([ab, rng.uniform(size=(n, 4))], axis=1)
X = torch.tensor(x, dtype=dtype)
Y = torch.tensor(y, dtype=dtype)

layers = []
w_in = 79
for _ in range(3):
    layers += [nn.Linear(w_in, 256), nn.LeakyReLU(0.2), nn.Dropout(a.dropout)]
    w_in = 256
layers += [nn.Linear(w_in, 6), nn.Sigmoid()]
model = nn.Sequential(*layers).to(dtype)
for mod in model:
    if isinstance(mod, nn.Linear):
        nn.init.kaiming_normal_(mod.weight)
        nn.init.zeros_(mod.bias)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.5, 0.999), weight_decay=0.01)
loss_fn = nn.MSELoss()
times = []
cpu = []
for epoch in range(a.epochs):
    t0 = time.perf_counter()
    c0 = time.process_time()
    model.train()
    perm = torch.randperm(n)
    total = 0.0
    for i in range(0, n, a.batch):
        idx = perm[i:i + a.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(X[idx]), Y[idx])
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
med = float(np.median(times[1:])) if len(times) > 1 else times[0]
cmed = float(np.median(cpu[1:])) if len(cpu) > 1 else cpu[0]
print(f"pytorch  {a.dtype} threads {a.threads}  samples {n} batch {a.batch}  {med:.3f} s/epoch "
      f"(median of {max(len(times) - 1, 1)}), cpu {cmed:.3f} s/epoch  torch {torch.__version__}  final loss {total / n:.4e}")
