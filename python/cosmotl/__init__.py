"""cosmotl: the cosmotl library from Python.

    import cosmotl
    snap = cosmotl.read_snapshot("Quijote/0/snapdir_004", fields=("pos",))
    pk = cosmotl.Pk(snap["pos"], box=snap["header"]["box"], grid=512)
    pk.k, pk.Pk, pk.Nmodes

Every call runs in libcosmotl (C, MPI, FFTW); NumPy arrays go in and come out
without copies where the layout allows. Pass comm=MPI.COMM_WORLD (mpi4py) to
distribute a call over the ranks of `mpirun -n R python3 script.py`; without
comm each process works alone. Errors raise CosmotlError (ArgumentError,
FileError, NumericError) with the library's one-line message. See
docs/python.md."""
from ._lib import ArgumentError, CosmotlError, FileError, NumericError, lib as _lib
from .cosmology import FIDUCIAL, linear_pk
from .model import Model
from .snapshot import read_snapshot, snapshot_header
from .stats import (Bk, BkResult, MarkedPk, MarkedPkResult, Pk, PkResult, keep_meshes,
                    local_planes, paint, release_meshes)
from .table import Table, read_table

__version__ = "0.1.0"
__all__ = ["read_snapshot", "snapshot_header", "Pk", "MarkedPk", "Bk", "paint",
           "local_planes", "release_meshes", "keep_meshes", "linear_pk", "read_table", "Table",
           "Model", "PkResult",
           "MarkedPkResult", "BkResult", "CosmotlError", "ArgumentError", "FileError",
           "NumericError", "FIDUCIAL"]
