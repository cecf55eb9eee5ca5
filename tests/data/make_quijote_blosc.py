#!/usr/bin/python3
"""Write tests/data/quijote_blosc/snapdir_004: a tiny snapshot laid out and
compressed exactly like Quijote's (Gadget-III HDF5, 2 files, chunked datasets
with the Blosc filter 32001, zstd level 5 + byte shuffle), for the reader test.

Run once with h5py and the Blosc plugin (Debian: python3-h5py,
hdf5-filter-plugin-blosc-serial):
  HDF5_PLUGIN_PATH=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins \
    /usr/bin/python3 tests/data/make_quijote_blosc.py
The values follow formulas that tests/unit/io/test_snapshot_blosc.c recomputes."""
import os
import h5py
import numpy as np

N, NFILES, BOX = 64, 2, 1.0e6
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quijote_blosc", "snapdir_004")
os.makedirs(out, exist_ok=True)
g = np.arange(N, dtype=np.int64)
pos = np.stack([((g * 37 + a * 11) % 1000) * 1000.0 + 0.25 for a in range(3)], axis=1).astype("f4")
vel = np.stack([(g - 32) * 1.5 + a for a in range(3)], axis=1).astype("f4")
ids = (g + 1).astype("u4")
blosc = dict(compression=32001, compression_opts=(0, 0, 0, 0, 5, 1, 5))
for f in range(NFILES):
    lo, hi = N * f // NFILES, N * (f + 1) // NFILES
    with h5py.File(os.path.join(out, "snap_004.%d.hdf5" % f), "w") as h:
        hd = h.create_group("Header").attrs
        hd.create("BoxSize", BOX, dtype="f8")
        hd.create("Time", 1.0, dtype="f8")
        hd.create("Redshift", 0.0, dtype="f8")
        hd.create("Omega0", 0.3175, dtype="f8")
        hd.create("OmegaLambda", 0.6825, dtype="f8")
        hd.create("HubbleParam", 0.6711, dtype="f8")
        hd.create("MassTable", [0, 656.56, 0, 0, 0, 0], dtype="f8")
        hd.create("NumPart_ThisFile", [0, hi - lo, 0, 0, 0, 0], dtype="i4")
        hd.create("NumPart_Total", [0, N, 0, 0, 0, 0], dtype="u4")
        hd.create("NumPart_Total_HighWord", [0] * 6, dtype="u4")
        hd.create("NumFilesPerSnapshot", NFILES, dtype="i4")
        for k in ("Flag_Cooling", "Flag_DoublePrecision", "Flag_Feedback", "Flag_IC_Info",
                  "Flag_Metals", "Flag_Sfr", "Flag_StellarAge"):
            hd.create(k, 0, dtype="i4")
        p = h.create_group("PartType1")
        p.create_dataset("Coordinates", data=pos[lo:hi], chunks=(16, 3), **blosc)
        p.create_dataset("Velocities", data=vel[lo:hi], chunks=(16, 3), **blosc)
        p.create_dataset("ParticleIDs", data=ids[lo:hi], chunks=(16,), **blosc)
print("wrote", out)
