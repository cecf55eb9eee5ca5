#!/usr/bin/python3
"""Pylians3 peer for tools/bench/pk: the same snapshot read with Pylians'
readgadget, painted by MAS_library.MA (CIC) and measured by Pk_library.Pk, as a
Quijote user does it. Prints its own timings (read / paint / Pk) and, given a
cosmotl summary of the same snapshot, the largest relative difference of P0 and
whether the mode counts are identical.

Needs a Pylians3 build on PYTHONPATH (tools/bench/peer/build-pylians).

usage: peer_pylians.py SNAPDIR GRID THREADS [SUMMARY.h5 ...]
(one comparison line per summary, e.g. the double and the --pk-float32 one)
"""
import glob
import sys
import time

t_start = time.time()
import numpy as np  # noqa: E402
import MAS_library as MASL  # noqa: E402
import Pk_library as PKL  # noqa: E402
import readgadget  # noqa: E402

t_import = time.time() - t_start


def main():
    snapdir, grid, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    summaries = sys.argv[4:]
    first = sorted(glob.glob(snapdir + "/*.0.hdf5"))
    if not first:
        sys.exit("peer_pylians: %s: no *.0.hdf5 snapshot file" % snapdir)
    snap = first[0][: -len(".0.hdf5")]
    t0 = time.time()
    head = readgadget.header(snap)
    box = head.boxsize / 1e3  # Mpc/h
    pos = readgadget.read_block(snap, "POS ", [1]) / 1e3  # Mpc/h, float32
    t_read = time.time() - t0

    t0 = time.time()
    delta = np.zeros((grid, grid, grid), dtype=np.float32)
    MASL.MA(pos, delta, box, "CIC", verbose=False)
    delta /= np.mean(delta, dtype=np.float64)
    delta -= 1.0
    t_paint = time.time() - t0

    t0 = time.time()
    pk = PKL.Pk(delta, box, 0, "CIC", threads, False)
    t_pk = time.time() - t0
    print("peer-pylians N=%d grid=%d threads=%d: import %.2f read %.2f paint %.2f pk %.2f "
          "(in-process total %.2f s)"
          % (round(len(pos) ** (1 / 3)), grid, threads, t_import, t_read, t_paint, t_pk,
             time.time() - t_start))
    for summary in summaries:
        import h5py

        with h5py.File(summary, "r") as h:
            p0 = h["pk/P0"][:]
            nm = h["pk/nmodes"][:]
            f32 = int(h["pk"].attrs.get("float32", 0))
        n = min(len(p0), len(pk.Pk[:, 0]))
        ok = nm[:n] > 0
        rel = np.abs(pk.Pk[:n, 0][ok] / p0[:n][ok] - 1)
        print("peer-pylians vs cosmotl%s (%d bins): |dP/P| median %.1e max %.1e; "
              "mode counts identical: %s"
              % (" --pk-float32" if f32 else "", n, np.median(rel), np.max(rel),
                 bool(np.all(pk.Nmodes3D[:n] == nm[:n]))))


if __name__ == "__main__":
    main()
