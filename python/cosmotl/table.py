"""Suite tables written by `cosmotl gather` (one row per simulation)."""
from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from ._lib import FileError, ffi, lib

__all__ = ["read_table", "Table"]


class Table:
    """A gathered suite table.

    params: (nsim, nparam) parameter values, with param_names; status: (nsim,)
    1 present, 0 missing, 2 failed, status_reason: the failure messages;
    stats: {"pk": {"P": (nsim, nbin), "k": ..., "nmodes": ..., ...}, "mk": ...,
    "bk": {"P": (nsim, ntri) = B0, "k1": ...}} with every dataset of the group,
    and attrs[stat] its settings (grid, mas, box, ...).
    present: indices of the simulations with status 1."""

    def __init__(self, path: str):
        import h5py  # the table is plain HDF5; the library checked its kind

        self.path = str(path)
        with h5py.File(path, "r") as f:
            self.suite = _text(f.attrs.get("suite", ""))
            self.params = np.asarray(f["params"][...], dtype=np.float64)
            self.param_names: List[str] = [_text(x) for x in f["params"].attrs["names"]]
            self.status = np.asarray(f["status"][...], dtype=np.uint8)
            self.status_reason = [_text(x) for x in f["status_reason"][...]] \
                if "status_reason" in f else [""] * len(self.status)
            self.stats: Dict[str, Dict[str, np.ndarray]] = {}
            self.attrs: Dict[str, Dict[str, object]] = {}
            for name, g in f.items():
                if isinstance(g, h5py.Group):
                    self.stats[name] = {k: g[k][...] for k in g if isinstance(g[k], h5py.Dataset)}
                    self.attrs[name] = {k: _text(v) for k, v in g.attrs.items()}
        self.present = np.flatnonzero(self.status == 1)

    @property
    def nsim(self) -> int:
        return len(self.status)

    def param(self, name: str) -> np.ndarray:
        """The column of one parameter (by its name in the table)."""
        try:
            return self.params[:, self.param_names.index(name)]
        except ValueError:
            raise KeyError(f"{self.path}: no parameter {name!r} (have: "
                           f"{', '.join(self.param_names)})") from None

    def __getitem__(self, stat: str) -> Dict[str, np.ndarray]:
        return self.stats[stat]

    def __repr__(self):
        return (f"Table({self.path!r}: {self.nsim} simulations, {len(self.present)} present, "
                f"params {self.param_names}, stats {sorted(self.stats)})")


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return [_text(x) for x in v.tolist()]
    return v


def read_table(path: str) -> Table:
    """Read a suite table written by `cosmotl gather`; FileError if path is
    not one (a per-simulation summary or any other file)."""
    if not os.path.exists(path):
        raise FileError(f"{path}: no such file", "CT_ERR_IO")
    kind = lib.ct_summary_kind(os.fsencode(path))
    lib.ct_error_clear()
    if kind == 1:
        raise FileError(f"{path}: a per-simulation summary, not a suite table "
                        "(gather a folder of them with `cosmotl gather`)", "CT_ERR_FORMAT")
    if kind != 2:
        raise FileError(f"{path}: not a cosmotl suite table", "CT_ERR_FORMAT")
    return Table(path)
