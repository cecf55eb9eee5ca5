"""Trained networks (model files written by `cosmotl train`)."""
from __future__ import annotations

import os
from typing import Any, List, Sequence, Union

import numpy as np

from ._lib import ArgumentError, check, ffi, lib, to_comm

__all__ = ["Model"]


class Model:
    """A network loaded from a model file: inputs (n, n_in) in the units it
    was trained on (e.g. P(k) of its k bins), outputs the parameters in
    physical units (n, n_out)."""

    def __init__(self, ptr):
        self._p = ptr
        m = ptr[0]
        self.n_in = int(m.n_in)
        self.n_targets = int(m.n_targets)
        self.n_out = int(m.n_out)
        self.target_names: List[str] = [ffi.string(m.target_name[i]).decode()
                                        for i in range(self.n_targets)]
        self.log10_inputs = bool(m.in_log10)
        self.config_text = ffi.string(m.config_text).decode() if m.config_text != ffi.NULL else ""

    @classmethod
    def load(cls, path: str, comm: Any = None) -> "Model":
        """Load a model file (every rank of comm reads it). FileError with the
        library's message if path is not a readable model."""
        c = to_comm(comm)
        p = ffi.new("ct_mlp **")
        check(lib.ct_mlp_load(p, os.fsencode(path), c))
        return cls(ffi.gc(p, lib.ct_mlp_destroy))

    def predict(self, x: Union[np.ndarray, Sequence[float], Sequence[Sequence[float]]]) -> np.ndarray:
        """Outputs for inputs x (n, n_in) or (n_in,), float64 (other float
        types are converted); returns (n, n_out) (or (n_out,))."""
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise ArgumentError(f"x must be a numeric array, not {a.dtype}")
        one = a.ndim == 1
        if one:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.n_in:
            raise ArgumentError(f"x must have shape (n, {self.n_in}) for this model "
                                f"(inputs: {self.n_in} bins), not {np.shape(x)}")
        a = np.ascontiguousarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ArgumentError("x has non-finite values")
        out = np.empty((a.shape[0], self.n_out))
        if a.shape[0]:
            check(lib.ct_mlp_predict(self._p[0], ffi.cast("double *", ffi.from_buffer(a)),
                                     a.shape[0], ffi.cast("double *", ffi.from_buffer(out))))
        return out[0] if one else out

    def __repr__(self):
        return f"Model({self.n_in} inputs -> {', '.join(self.target_names)})"
