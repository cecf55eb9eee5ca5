#!/usr/bin/python3
"""Pylians3 peer for tools/bench/bk: the cost of Pylians' bispectrum
(Pk_library Bk, one call per triangle with one theta, as a Quijote user measures
the 1898 triangles) on a white-noise field of GRID^3 cells, box 1000 Mpc/h. The
cost does not depend on the field. Times NTRI calls (triangles spread over the
Quijote set: dk = 3 kF, k1 <= 78 kF) and prints wall and CPU seconds per
triangle and scaled to the 1898 triangles.

Needs a Pylians3 build on PYTHONPATH (tools/bench/peer/build-pylians).

usage: peer_pylians.py GRID NTRI THREADS
"""
import contextlib
import io
import sys
import time

import numpy as np
from Pk_library.bispectrum_library import Bk


def quijote_triangles(dk=3.0, kmax=78.0):
    ns = int(np.floor(kmax / dk + 1e-9))
    return [(i, j, l) for i in range(1, ns + 1) for j in range(1, i + 1)
            for l in range(max(i - j, 1), j + 1)]


def main():
    grid, ntri, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    box, dk = 1000.0, 3.0
    kf = 2 * np.pi / box
    rng = np.random.default_rng(1)
    delta = rng.standard_normal((grid, grid, grid), dtype=np.float32)
    tri = quijote_triangles()
    # on grids below 2 x 78 kF only the triangles within Nyquist exist (tests)
    ok = [t for t in tri if t[0] * dk < grid // 2]
    pick = [ok[int(q)] for q in np.linspace(0, len(ok) - 1, ntri)]
    w0, c0 = time.time(), time.process_time()
    for (i, j, l) in pick:
        k1, k2, k3 = i * dk * kf, j * dk * kf, l * dk * kf
        # angle between k1 and k2 with k3 = |k1 + k2| (Pylians' convention)
        c = np.clip((k3 * k3 - k1 * k1 - k2 * k2) / (2 * k1 * k2), -1.0, 1.0)
        with contextlib.redirect_stdout(io.StringIO()):  # Bk prints progress
            Bk(delta, box, k1, k2, np.array([np.arccos(c)]), "CIC", threads)
    w, c = (time.time() - w0) / ntri, (time.process_time() - c0) / ntri
    print("bk-peer-pylians grid=%d threads=%d: %d triangles, %.2f s wall (cpu %.2f) per "
          "triangle; x %d triangles = %.0f s wall (cpu %.0f)"
          % (grid, threads, ntri, w, c, len(tri), w * len(tri), c * len(tri)))


if __name__ == "__main__":
    main()
