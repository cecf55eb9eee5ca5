#!/usr/bin/env python3
"""P(k) of a Quijote snapshot from Python, plotted against linear theory.

    python3 pk_quijote.py SNAPDIR [--grid 512] [--out pk.png]
    mpirun -n 4 python3 pk_quijote.py SNAPDIR --grid 512     # the same on 4 ranks

SNAPDIR is a snapdir_XXX folder, a snapshot file or a multi-file base. On
several ranks each reads its share of the particles and the mesh is split
over the ranks (comm=MPI.COMM_WORLD); rank 0 writes the plot and the table.
See docs/python.md."""
# %% imports: numpy, matplotlib (no display needed) and cosmotl
import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import cosmotl  # noqa: E402

# %% arguments
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("snapshot")
ap.add_argument("--grid", type=int, default=512)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--out", default="pk.png")
args = ap.parse_args()

# %% one rank or many: with mpi4py under mpirun, share the work over the ranks
comm = None
rank = 0
try:
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_size() > 1:
        comm, rank = MPI.COMM_WORLD, MPI.COMM_WORLD.Get_rank()
except ImportError:
    pass

# %% read the CDM particles (positions in Mpc/h, float32, no copy)
snap = cosmotl.read_snapshot(args.snapshot, ptype=1, fields=("pos",), comm=comm)
h = snap["header"]
box, z = h["box"], h["redshift"]

# %% the power spectrum: CIC, window compensated, Quijote binning
pk = cosmotl.Pk(snap["pos"], box, args.grid, mas="CIC", threads=args.threads, comm=comm)

# %% linear theory at the snapshot's redshift (the header's Omega_m, fiducial otherwise)
plin = cosmotl.linear_pk({"omega_m": h["omega_m"]}, pk.k, z=z)

# %% rank 0: the table and the plot
if rank == 0:
    print(f"# {args.snapshot}: {snap['n_total']} particles, box {box:g} Mpc/h, z = {z:g}, "
          f"grid {args.grid}, {1 if comm is None else comm.Get_size()} rank(s)")
    print("# k [h/Mpc]  P(k) [(Mpc/h)^3]  Nmodes  P_lin(k)")
    for k, p, n, pl in zip(pk.k, pk.Pk, pk.Nmodes, plin):
        print(f"{k:.6f} {p:.6e} {n:d} {pl:.6e}")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog(pk.k, pk.Pk, label="cosmotl.Pk (CIC)")
    ax.loglog(pk.k, plin, "--", label="linear theory")
    ax.axhline(1 / pk.nbar, color="grey", lw=0.8, label="shot noise 1/nbar")
    ax.set_xlabel("k [h/Mpc]")
    ax.set_ylabel("P(k) [(Mpc/h)$^3$]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"# wrote {args.out}", file=sys.stderr)
