"""PyTorch peer of bench_unet.c: the same U-Net (the D3M layout: circular pad 1 ->
Conv3d 3^3 -> BatchNorm3d -> ReLU blocks, stride-2 blocks down, ConvTranspose3d
stride 2 with pad (0, 1) and crop (1, 2) up, skip concatenation, 1^3 output conv),
float32, L1 loss, Adam lr 1e-4; seconds per training step (median after one
warm-up) with torch.set_num_threads(T).
  python3 bench_unet_torch.py --base C --depth L --blocks B --size D --batch N
          --steps S --threads T [--check DIR]
--check DIR loads the parameters, input and target that bench_unet --dump DIR
wrote and compares the first step's output, loss and gradients with cosmotl's.
(cosmotl sets the gradient of a bias that feeds batch norm to exactly zero,
PyTorch leaves rounding noise ~1e-9 there. A ReLU input within ~1e-6 of zero can
fall on different sides in the two codes: the gradients then differ by a few %,
as the loss is not differentiable there; a different seed or size avoids it.)
"""
import argparse
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
for name, d in [("base", 16), ("depth", 2), ("blocks", 2), ("size", 32), ("batch", 2),
                ("steps", 5), ("threads", 1)]:
    p.add_argument("--" + name, type=int, default=d)
p.add_argument("--check", default=None)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, stride=stride, padding=0, bias=True)
        self.bn = nn.BatchNorm3d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1, 1, 1), mode="circular"))))


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.deconv = nn.ConvTranspose3d(cin, cout, 3, stride=2, padding=0)
        self.bn = nn.BatchNorm3d(cout)

    def forward(self, x):
        y = self.deconv(F.pad(x, (0, 1, 0, 1, 0, 1), mode="circular"))
        return F.relu(self.bn(y[:, :, 1:-2, 1:-2, 1:-2]))


class UNet(nn.Module):
    """Modules are created in the order of cosmotl's parameter layout."""

    def __init__(self, base, depth, blocks, cin=3, cout=3):
        super().__init__()
        self.depth = depth
        self.down = nn.ModuleList()
        c = cin
        for l in range(depth + 1):
            cl = base << l
            level = []
            if l > 0:
                level.append(Block(c, cl, 2))
                c = cl
            for _ in range(blocks):
                level.append(Block(c, cl, 1))
                c = cl
            self.down.append(nn.Sequential(*level))
        self.up = nn.ModuleList()  # (Up, blocks) pairs, in cosmotl's order
        for l in range(depth, 0, -1):
            cd = base << (l - 1)
            level = [Up(c, cd)]
            c = 2 * cd
            for _ in range(blocks):
                level.append(Block(c, cd, 1))
                c = cd
            self.up.append(nn.ModuleList(level))
        self.out = nn.Conv3d(c, cout, 1)

    def forward(self, x):
        skips = []
        for l, level in enumerate(self.down):
            x = level(x)
            if l < self.depth:
                skips.append(x)
        for level in self.up:
            x = torch.cat((level[0](x), skips.pop()), dim=1)
            for block in level[1:]:
                x = block(x)
        return self.out(x)


net = UNet(a.base, a.depth, a.blocks)
n_params = sum(q.numel() for q in net.parameters())
shape = (a.batch, 3, a.size, a.size, a.size)
if a.check:
    rd = lambda name: np.fromfile(f"{a.check}/{name}.f32", dtype=np.float32)
    flat = torch.from_numpy(rd("params"))
    assert flat.numel() == n_params, (flat.numel(), n_params)
    off = 0
    with torch.no_grad():
        for q in net.parameters():
            q.copy_(flat[off:off + q.numel()].view_as(q))
            off += q.numel()
    x = torch.from_numpy(rd("x")).view(shape)
    t = torch.from_numpy(rd("t")).view(shape)
else:
    x = torch.randn(shape)
    t = x + 0.3 * torch.randn(shape)
opt = torch.optim.Adam(net.parameters(), lr=1e-4)
tw, tc = [], []
for it in range(a.steps + 1):
    w0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad(set_to_none=True)
    y = net(x)
    loss = F.l1_loss(y, t)
    loss.backward()
    if it == 0 and a.check:
        g = torch.cat([q.grad.reshape(-1) for q in net.parameters()]).numpy()
        yc, gc = rd("y"), rd("grads")
        ey = np.abs(y.detach().numpy().reshape(-1) - yc).max() / np.abs(yc).max()
        eg = np.abs(g - gc).max() / np.abs(gc).max()
        lc = float(open(f"{a.check}/loss.txt").read())
        print(f"check vs cosmotl: output max rel diff {ey:.2e}, gradient max rel diff {eg:.2e}, "
              f"loss {loss.item():.7f} vs {lc:.7f}")
        if not (ey < 1e-4 and eg < 1e-3):
            sys.exit(1)
    opt.step()
    if it > 0:
        tw.append(time.perf_counter() - w0), tc.append(time.process_time() - c0)
med = lambda v: sorted(v)[len(v) // 2] if v else float("nan")
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(f"torch   unet base {a.base} depth {a.depth} blocks {a.blocks} in {a.size}^3 batch {a.batch} "
      f"threads {a.threads} ({n_params} params): step {med(tw):.3f} s (cpu {med(tc):.3f}), "
      f"{a.batch / med(tw):.1f} samples/s, peak RSS {rss:.0f} MiB, loss {loss.item():.4f}")
