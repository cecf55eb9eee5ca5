"""Trained networks (model files written by `cosmotl train` or `cosmotl study`)."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ._lib import ArgumentError, check, copy_doubles, ffi, lib, to_comm
from .table import Table

__all__ = ["Model"]

ArrayLike = Union[np.ndarray, Sequence[float], Sequence[Sequence[float]]]


def _text(b) -> str:
    return ffi.string(b).decode("utf-8", "replace")


class Model:
    """A network loaded from a model file: inputs (n, n_in) in the units it
    was trained on (e.g. P(k) of its k bins), outputs the parameters in
    physical units (n, n_out). ``provenance`` says what it was trained on
    (statistics, k of every input, k cut, source table); predict() checks
    inputs against it through the library when given their k (or a PkResult)."""

    def __init__(self, ptr, path: str = ""):
        self._p = ptr
        self.path = path
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
        return cls(ffi.gc(p, lib.ct_mlp_destroy), os.fspath(path))

    @property
    def provenance(self) -> Optional[Dict[str, Any]]:
        """What the model was trained on (the model file's /provenance):
        statistics ("pk", "pk,mk"), k (h/Mpc of every input, empty if the
        training data had no k grid), k_hash, k_cut (0: none), n_bins_cut,
        n_in, input_log10, params (target names), source (the training table
        or folder), writer, version. None for a file written before
        provenance was recorded."""
        p = lib.ct_mlp_provenance(self._p[0])
        if p == ffi.NULL:
            return None
        params = _text(p.params)
        return {
            "statistics": _text(p.statistics), "k": copy_doubles(p.k, int(p.n_k)),
            "k_hash": _text(p.k_hash), "k_cut": float(p.k_cut),
            "n_bins_cut": int(p.n_bins_cut), "n_in": int(p.n_in),
            "input_log10": bool(p.input_log10),
            "params": params.split(",") if params else [],
            "source": _text(p.source), "writer": _text(p.writer), "version": _text(p.version),
        }

    def check_inputs(self, n_in: int, k: Optional[ArrayLike] = None, statistics: str = "pk",
                     source: str = "the Python input") -> None:
        """The library's provenance check (ct_mlp_check_inputs) of an input
        of n_in values of `statistics` at wavenumbers k (h/Mpc, one per
        input; None: unknown, then only the length and statistics are
        compared): raises FileError with one line naming the model file and
        the attribute that differs (input length, statistics, k grid to 1e-6
        relative, k cut). A model without provenance is checked on the length
        only."""
        if not isinstance(statistics, str) or not statistics:
            raise ArgumentError(f"statistics must be a name such as 'pk' or 'pk,mk', "
                                f"not {statistics!r}")
        kk = None
        if k is not None:
            kk = np.ascontiguousarray(k, dtype=np.float64)
            if kk.ndim != 1 or kk.size != n_in:
                raise ArgumentError(f"k must have one value per input ({n_in}), not shape "
                                    f"{np.shape(k)}")
        prov = ffi.new("ct_model_prov *")
        lib.ct_model_prov_init(prov)
        try:
            kp = ffi.cast("double *", ffi.from_buffer(kk)) if kk is not None and kk.size \
                else ffi.NULL
            check(lib.ct_model_prov_set_k(prov, statistics.encode(), kp,
                                          0 if kp == ffi.NULL else kk.size, int(n_in)))
            prov.source = source.encode()[:1023]
            check(lib.ct_mlp_check_inputs(self._p[0], os.fsencode(self.path or "model"), prov))
        finally:
            lib.ct_model_prov_free(prov)

    def predict(self, x: Union[ArrayLike, Any], *, k: Optional[ArrayLike] = None,
                statistics: Optional[str] = None) -> np.ndarray:
        """Outputs for inputs x (n, n_in) or (n_in,), float64 (other float
        types are converted); returns (n, n_out) (or (n_out,)).

        With k (the h/Mpc of each input column) and/or statistics ("pk",
        "pk,mk"), the inputs are first checked against the model's
        provenance by the library (check_inputs). x may also be a PkResult
        (cosmotl.Pk): its first n_in bins of P0 are the inputs, checked
        against the model's k grid (statistics "pk").

        x may also be a Table (read_table): the library selects the columns
        the model's provenance names (its statistics, concatenated, with
        its k cut and bin cap), describes them (k of every column) and checks
        them against the provenance (FileError naming the model file and the
        attribute that differs: statistics, input length, k grid), then reads
        the rows of the present simulations from table.path. Returns (n,
        n_out) in the order of table.present. k and statistics cannot be
        given with a Table (they come from the model). A model file without
        provenance takes the table's "pk" columns, checked on their number
        only."""
        if isinstance(x, Table):
            if k is not None or statistics is not None:
                raise ArgumentError("with a Table the statistics and k come from the model's "
                                    "provenance; do not pass k or statistics")
            return self.predict(self._table_inputs(x))
        if hasattr(x, "P0") and hasattr(x, "k") and not isinstance(x, np.ndarray):
            if len(x.P0) < self.n_in:
                raise ArgumentError(f"the spectrum has {len(x.P0)} bins, the model takes "
                                    f"{self.n_in}")
            k = np.asarray(x.k)[:self.n_in]
            statistics = statistics or "pk"
            x = np.asarray(x.P0)[:self.n_in]
        a = np.asarray(x)
        if a.dtype.kind not in "fiu":
            raise ArgumentError(f"x must be a numeric array, not {a.dtype}")
        one = a.ndim == 1
        if one:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.n_in:
            raise ArgumentError(f"x must have shape (n, {self.n_in}) for this model "
                                f"(inputs: {self.n_in} bins), not {np.shape(x)}")
        if k is not None or statistics is not None:
            self.check_inputs(a.shape[1], k, statistics or "pk")
        a = np.ascontiguousarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ArgumentError("x has non-finite values")
        out = np.empty((a.shape[0], self.n_out))
        if a.shape[0]:
            check(lib.ct_mlp_predict(self._p[0], ffi.cast("double *", ffi.from_buffer(a)),
                                     a.shape[0], ffi.cast("double *", ffi.from_buffer(out))))
        return out[0] if one else out

    def _table_inputs(self, table: Table) -> np.ndarray:
        """The rows of table's present simulations that this model takes:
        selected (ct_table_describe), checked (ct_mlp_check_inputs) and read
        (ct_dataset_read_table) by the library, as `cosmotl explain` does."""
        path = os.fsencode(table.path)
        sel = ffi.new("ct_table_select *")
        lib.ct_table_select_defaults(sel)
        prov = lib.ct_mlp_provenance(self._p[0])
        stats = ffi.new("char[]", ffi.string(prov.statistics) if prov != ffi.NULL else b"pk")
        sel.stats = stats
        if prov != ffi.NULL:
            sel.k_max, sel.n_bins = prov.k_cut, prov.n_bins_cut
        desc = ffi.new("ct_model_prov *")
        lib.ct_model_prov_init(desc)
        d = ffi.new("ct_dataset *")
        try:
            check(lib.ct_table_describe(path, sel, desc))
            check(lib.ct_mlp_check_inputs(self._p[0], os.fsencode(self.path or "model"), desc))
            check(lib.ct_dataset_read_table(path, sel, lib.ctpy_comm_self(), d))
            n, n_in = int(d.n), int(d.n_in)
            if n == 0:
                return np.empty((0, self.n_in))
            return np.frombuffer(ffi.buffer(d.x, n * n_in * 8), dtype=np.float64) \
                .reshape(n, n_in).copy()
        finally:
            lib.ct_dataset_free(d)
            lib.ct_model_prov_free(desc)

    def __repr__(self):
        return f"Model({self.n_in} inputs -> {', '.join(self.target_names)})"
