"""PyTorch peer of bench_conv3d.c: the same layer (torch.nn.functional.conv3d or
conv_transpose3d, float32, no padding), the same shapes and thread count;
forward and backward (input, weight and bias gradients), median of R after one
warm-up.
  python3 bench_conv3d_torch.py --layer conv|deconv --cin C --cout C --k K
          --stride S --size D --batch N --reps R --threads T
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--layer", default="conv")
for name, d in [("cin", 64), ("cout", 64), ("k", 3), ("stride", 1), ("size", 34),
                ("batch", 2), ("reps", 5), ("threads", 1)]:
    p.add_argument("--" + name, type=int, default=d)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
deconv = a.layer == "deconv"
x = torch.randn(a.batch, a.cin, a.size, a.size, a.size, requires_grad=True)
if deconv:
    w = (0.05 * torch.randn(a.cin, a.cout, a.k, a.k, a.k)).requires_grad_()
else:
    w = (0.05 * torch.randn(a.cout, a.cin, a.k, a.k, a.k)).requires_grad_()
b = torch.zeros(a.cout, requires_grad=True)


def fwd():
    if deconv:
        return F.conv_transpose3d(x, w, b, stride=a.stride)
    return F.conv3d(x, w, b, stride=a.stride)


y = fwd()
dy = torch.randn_like(y)
small = x.shape[2] ** 3 if deconv else y.shape[2] ** 3
flops = 2.0 * a.batch * a.cin * a.cout * a.k ** 3 * small
tf, tb, cf, cb = [], [], [], []
for it in range(a.reps + 1):
    t0, c0 = time.perf_counter(), time.process_time()
    y = fwd()
    t1, c1 = time.perf_counter(), time.process_time()
    x.grad = w.grad = b.grad = None
    y.backward(dy)
    t2, c2 = time.perf_counter(), time.process_time()
    if it > 0:
        tf.append(t1 - t0), tb.append(t2 - t1), cf.append(c1 - c0), cb.append(c2 - c1)
med = lambda v: sorted(v)[len(v) // 2]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(f"torch   {a.layer} cin {a.cin} cout {a.cout} k {a.k} s {a.stride} in {a.size}^3 "
      f"batch {a.batch} threads {a.threads}: fwd {med(tf):.4f} s (cpu {med(cf):.4f}, "
      f"{flops / med(tf) * 1e-9:.1f} GFLOP/s) bwd {med(tb):.4f} s (cpu {med(cb):.4f}, "
      f"{2 * flops / med(tb) * 1e-9:.1f} GFLOP/s) fwd+bwd {med(tf) + med(tb):.4f} s, "
      f"peak RSS {rss:.0f} MiB")
