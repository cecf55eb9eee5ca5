"""Gadget snapshots (HDF5 in the Quijote layout, single or multi-file, and
legacy binary format I/II) read through libcosmotl."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence

import numpy as np

from ._lib import ArgumentError, check, ffi, lib, owned_array, to_comm

__all__ = ["read_snapshot", "snapshot_header"]

_FIELDS = ("pos", "vel", "id", "mass")


def _header(snap) -> Dict[str, Any]:
    h = lib.ct_snapshot_get_header(snap)
    return {
        "box": float(h.box), "time": float(h.time), "redshift": float(h.redshift),
        "omega_m": float(h.omega_m), "omega_l": float(h.omega_l), "hubble": float(h.hubble),
        "mass_table": [float(h.mass_table[i]) for i in range(6)],
        "npart_total": [int(h.npart_total[i]) for i in range(6)],
        "nfiles": int(lib.ct_snapshot_nfiles(snap)),
        "format": ffi.string(lib.ct_snapshot_format_name(lib.ct_snapshot_get_format(snap))).decode(),
    }


def _open(path, comm):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise ArgumentError(f"path must be a file or folder name, not {type(path).__name__}")
    c = to_comm(comm)
    sp = ffi.new("ct_snapshot **")
    check(lib.ct_snapshot_open(sp, os.fsencode(path), c))
    return sp


def snapshot_header(path: str, comm: Any = None) -> Dict[str, Any]:
    """The header of a snapshot in cosmotl units (box in Mpc/h, masses in
    1e10 Msun/h): box, time, redshift, omega_m, omega_l, hubble, mass_table,
    npart_total, nfiles, format."""
    sp = _open(path, comm)
    try:
        return _header(sp[0])
    finally:
        lib.ct_snapshot_close(sp)


def read_snapshot(path: str, ptype: int = 1, fields: Sequence[str] = ("pos",), *,
                  wrap_positions: bool = False, threads: Optional[int] = None,
                  comm: Any = None) -> Dict[str, Any]:
    """Read particles of one type from a snapshot.

    path: a snapshot file (snap_004.hdf5, snap_004.0.hdf5 or a Gadget binary),
        a multi-file base (snap_004) or a snapdir_XXX folder.
    ptype: particle type (1 CDM, 2 neutrinos). fields: any of "pos" (n, 3)
        float32 Mpc/h, "vel" (n, 3) float32 peculiar km/s, "id" (n,) uint64,
        "mass" ((n,) float32 1e10 Msun/h, or a float when uniform).
    wrap_positions: the library's positions policy, as `cosmotl summarize`:
        by default positions at most 1e-3 box outside [0, box) (Gadget's
        rounding) are wrapped and anything further is an error naming the
        file, row and value; True wraps every finite position
        (`summarize --wrap-positions`).
    threads: threads reading this rank's rows from files that store them as
        plain bytes (Gadget binary, uncompressed contiguous HDF5 such as
        cosmotl's own; Quijote's compressed files are read through HDF5 on one
        thread). None: this rank's share of the node's cores. The arrays are
        the same whatever the count.
    comm: an mpi4py communicator: each rank receives a contiguous, nearly equal
        slice of the particles (rank order = file order).

    Returns a dict with the requested fields (arrays over the library's memory,
    no copy) and "header" (snapshot_header()). Raises FileError with the
    library's message when path is not a readable snapshot."""
    for f in fields:
        if f not in _FIELDS:
            raise ArgumentError(f"unknown field {f!r} (available: {', '.join(_FIELDS)})")
    if isinstance(ptype, (bool, np.bool_)) or not isinstance(ptype, (int, np.integer)) \
            or not 0 <= ptype <= 5:
        raise ArgumentError(f"ptype must be an integer 0..5, not {ptype!r}")
    if threads is not None and (isinstance(threads, (bool, np.bool_))
                                or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ArgumentError(f"threads must be a positive integer or None, not {threads!r}")
    sp = _open(path, comm)
    parts = ffi.new("ct_particles *")
    try:
        header = _header(sp[0])
        rs = ffi.new("ct_read_settings *")
        lib.ct_read_settings_defaults(rs)
        rs.read_vel = 1 if "vel" in fields else 0
        rs.read_id = 1 if "id" in fields else 0
        rs.bounds = lib.CT_BOUNDS_WRAP if wrap_positions else lib.CT_BOUNDS_ERROR
        rs.threads = 0 if threads is None else int(threads)
        check(lib.ct_snapshot_read(sp[0], int(ptype), rs, parts))
        n = int(parts.n)
        out: Dict[str, Any] = {"header": header}
        # each array takes ownership of its block (freed with the array)
        arrays = {
            "pos": (3 * n, np.float32, (n, 3)),
            "vel": (3 * n, np.float32, (n, 3)),
            "id": (n, np.uint64, (n,)),
            "mass": (n, np.float32, (n,)),
        }
        for name, (count, dt, shape) in arrays.items():
            ptr = getattr(parts, name)
            setattr(parts, name, ffi.NULL)  # the array (or free below) owns it now
            if name in fields and ptr != ffi.NULL:
                out[name] = owned_array(ptr, count, dt).reshape(shape)
            elif ptr != ffi.NULL:
                lib.free(ptr)
        if "mass" in fields and "mass" not in out:
            out["mass"] = float(parts.mass_uniform)
        out["n_total"] = int(parts.n_total)
        out["offset"] = int(parts.offset)
        return out
    finally:
        lib.ct_particles_free(parts)
        lib.ct_snapshot_close(sp)
