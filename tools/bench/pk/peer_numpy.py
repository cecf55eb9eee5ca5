#!/usr/bin/python3
"""Side-by-side peer for tools/bench/pk: the same measurement written the way a
cosmologist would in NumPy (CIC by np.bincount, np.fft.rfftn, Pylians' binning and
half-space rule), one core. Prints its timings and, given a cosmotl summary of the
same snapshot, the largest relative difference of P0 (an independent check of
the conventions).

usage: peer_numpy.py SNAPDIR GRID [SUMMARY.h5]
"""
import glob
import sys
import time

import h5py
import numpy as np


def main():
    snapdir, grid = sys.argv[1], int(sys.argv[2])
    summary = sys.argv[3] if len(sys.argv) > 3 else None
    t0 = time.time()
    files = sorted(glob.glob(snapdir + "/*.hdf5"))
    pos = []
    box = None
    for f in files:
        with h5py.File(f, "r") as h:
            box = h["Header"].attrs["BoxSize"] / 1e3
            pos.append(h["PartType1/Coordinates"][:] / 1e3)
    pos = np.concatenate(pos).astype(np.float64)
    t_read = time.time() - t0

    t0 = time.time()
    N = grid
    s = pos * (N / box)
    i0 = np.floor(s).astype(np.int64)
    u = s - i0
    i0 %= N
    i1 = (i0 + 1) % N
    rho = np.zeros(N ** 3)
    for cx in (0, 1):
        ix = i1[:, 0] if cx else i0[:, 0]
        wx = u[:, 0] if cx else 1 - u[:, 0]
        for cy in (0, 1):
            iy = i1[:, 1] if cy else i0[:, 1]
            wy = u[:, 1] if cy else 1 - u[:, 1]
            for cz in (0, 1):
                iz = i1[:, 2] if cz else i0[:, 2]
                wz = u[:, 2] if cz else 1 - u[:, 2]
                rho += np.bincount((ix * N + iy) * N + iz, weights=wx * wy * wz, minlength=N ** 3)
    rho = rho.reshape(N, N, N)
    delta = rho / rho.mean() - 1
    t_paint = time.time() - t0

    t0 = time.time()
    D = np.fft.rfftn(delta)
    t_fft = time.time() - t0

    t0 = time.time()
    n = np.fft.fftfreq(N, 1.0 / N)
    nz = np.arange(N // 2 + 1)
    nx, ny, nzz = np.meshgrid(n, n, nz, indexing="ij")
    nx = np.where(nx == -N // 2, N // 2, nx)  # Nyquist is +N/2
    ny = np.where(ny == -N // 2, N // 2, ny)

    def sinc(x):
        return np.where(x == 0, 1.0, np.sin(np.pi * x / N) / np.where(x == 0, 1, np.pi * x / N))

    W = (sinc(nx) * sinc(ny) * sinc(nzz)) ** 2
    P = np.abs(D / W) ** 2
    n2 = nx ** 2 + ny ** 2 + nzz ** 2
    b = np.floor(np.sqrt(n2) + 1e-9).astype(np.int64)
    keep = np.ones(D.shape, bool)
    edge = (nzz == 0) | (nzz == N // 2)
    keep &= ~(edge & (nx < 0))
    keep &= ~(edge & ((nx == 0) | (nx == N // 2)) & (ny < 0))
    nb = int(np.floor(np.sqrt(3) * (N // 2))) + 1
    cnt = np.bincount(b[keep], minlength=nb)
    ksum = np.bincount(b[keep], weights=np.sqrt(n2[keep]), minlength=nb)
    psum = np.bincount(b[keep], weights=P[keep], minlength=nb)
    kf = 2 * np.pi / box
    with np.errstate(invalid="ignore", divide="ignore"):
        k = kf * ksum / cnt
        pk = psum / cnt * box ** 3 / float(N) ** 6
    k, pk, cnt = k[1:], pk[1:], cnt[1:]
    t_bin = time.time() - t0
    tot = t_read + t_paint + t_fft + t_bin
    print("peer-numpy N=%d grid=%d 1 core: read %.2f paint %.2f fft %.2f bin %.2f total %.2f s"
          % (round(len(pos) ** (1 / 3)), N, t_read, t_paint, t_fft, t_bin, tot))
    if summary:
        with h5py.File(summary, "r") as h:
            p0 = h["pk/P0"][:]
            kk = h["pk/k"][:]
            nm = h["pk/nmodes"][:]
        ok = cnt > 0
        print("peer-numpy vs cosmotl: max |dP/P| = %.2e, max |dk/k| = %.2e, counts equal: %s"
              % (np.max(np.abs(pk[ok] / p0[ok] - 1)), np.max(np.abs(k[ok] / kk[ok] - 1)),
                 bool(np.all(nm == cnt))))


if __name__ == "__main__":
    main()
