"""The compiled binding (cffi, API mode) and what every call shares: MPI
start-up, communicators, error translation, NumPy views of library memory."""
from __future__ import annotations

import atexit
from typing import Any, Optional

import numpy as np

from ._cosmotl import ffi, lib  # type: ignore[import-not-found]

__all__ = ["ffi", "lib", "CosmotlError"]

# MPI: started here unless the program already did (mpi4py, another library);
# finalised at exit only if started here (mpi4py finalises what it started).
if lib.ctpy_mpi_init():
    atexit.register(lib.ctpy_mpi_finalize)
lib.ct_log_setup(lib.ctpy_comm_world(), lib.CT_LOG_WARN)
lib.ct_h5_quiet()


class CosmotlError(RuntimeError):
    """An error reported by libcosmotl. ``str(e)`` is the library's one-line
    message (with its chain of calls); ``e.status`` the status name
    ("CT_ERR_IO", ...)."""

    def __init__(self, message: str, status: str = "CT_ERR_ARG"):
        super().__init__(message)
        self.status = status


class ArgumentError(CosmotlError, ValueError):
    """A bad argument or value (CT_ERR_ARG, CT_ERR_RANGE, CT_ERR_CONFIG)."""


class FileError(CosmotlError, OSError):
    """A file that is missing, unreadable or not what was expected
    (CT_ERR_IO, CT_ERR_FORMAT, CT_ERR_UNSUPPORTED)."""


class NumericError(CosmotlError, ArithmeticError):
    """Non-finite values or a failed computation (CT_ERR_NUMERIC)."""


_CLASS = {
    lib.CT_ERR_ARG: ("CT_ERR_ARG", ArgumentError),
    lib.CT_ERR_RANGE: ("CT_ERR_RANGE", ArgumentError),
    lib.CT_ERR_CONFIG: ("CT_ERR_CONFIG", ArgumentError),
    lib.CT_ERR_IO: ("CT_ERR_IO", FileError),
    lib.CT_ERR_FORMAT: ("CT_ERR_FORMAT", FileError),
    lib.CT_ERR_UNSUPPORTED: ("CT_ERR_UNSUPPORTED", FileError),
    lib.CT_ERR_NUMERIC: ("CT_ERR_NUMERIC", NumericError),
    lib.CT_ERR_MEMORY: ("CT_ERR_MEMORY", CosmotlError),
    lib.CT_ERR_MPI: ("CT_ERR_MPI", CosmotlError),
    lib.CT_ERR_STATE: ("CT_ERR_STATE", CosmotlError),
    lib.CT_ERR_REMOTE: ("CT_ERR_REMOTE", CosmotlError),
}
_PY_FRAME = " (py:0)"  # the frame agree() records for Python-side messages


def _str(p) -> str:
    return ffi.string(p).decode("utf-8", "replace") if p != ffi.NULL else ""


def check(status: int) -> None:
    """Raise the library's error (its one-line message) if status is not CT_OK."""
    if status != lib.CT_OK:
        name, cls = _CLASS.get(int(status), ("CT_ERR_UNKNOWN", CosmotlError))
        msg = _str(lib.ct_error_message()) or _str(lib.ct_status_name(status))
        lib.ct_error_clear()
        raise cls(msg.replace(_PY_FRAME, ""), name)


def agree(comm, message: Optional[str], status: int = lib.CT_ERR_ARG) -> None:
    """Collective check of a local condition: every rank passes None (fine) or
    a message; all ranks raise if any rank failed (the lowest failing rank's
    message), so that no rank waits in a collective call that others left."""
    if lib.ctpy_comm_size(comm) == 1:
        if message is not None:
            name, cls = _CLASS[status]
            raise cls(message, name)
        return
    local = lib.CT_OK
    if message is not None:
        local = lib.ct_error_set(status, b"py", 0, b"%s", ffi.new("char[]", message.encode()))
    check(lib.ct_agree_msg(comm, local))


def to_comm(comm: Any):
    """An MPI_Comm from an mpi4py communicator; None means MPI_COMM_SELF (this
    process alone)."""
    if comm is None:
        return lib.ctpy_comm_self()
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover
        raise ArgumentError("comm= needs mpi4py", "CT_ERR_ARG") from e
    if not isinstance(comm, MPI.Comm):
        raise ArgumentError(f"comm must be an mpi4py communicator, not {type(comm).__name__}",
                            "CT_ERR_ARG")
    if comm == MPI.COMM_NULL:
        raise ArgumentError("comm is MPI.COMM_NULL", "CT_ERR_ARG")
    return ffi.cast("MPI_Comm *", MPI._addressof(comm))[0]


def mpi_running() -> bool:
    """False once MPI has been finalised (objects left at exit then skip the
    MPI calls of their destructors)."""
    return bool(lib.ctpy_mpi_running())


def comm_size(c) -> int:
    return lib.ctpy_comm_size(c)


def comm_rank(c) -> int:
    return lib.ctpy_comm_rank(c)


def owned_array(ptr, count: int, dtype, free=True) -> np.ndarray:
    """A NumPy array over count items of library-allocated memory, without a
    copy; the memory is free()d when the array is garbage collected."""
    dtype = np.dtype(dtype)
    if count == 0 or ptr == ffi.NULL:
        if free and ptr != ffi.NULL:
            lib.free(ptr)
        return np.empty(0, dtype)
    if free:
        ptr = ffi.gc(ptr, lib.free)
    return np.frombuffer(ffi.buffer(ptr, count * dtype.itemsize), dtype=dtype)


def copy_doubles(ptr, count: int) -> np.ndarray:
    if count == 0 or ptr == ffi.NULL:
        return np.empty(0, np.float64)
    return np.frombuffer(ffi.buffer(ptr, count * 8), dtype=np.float64).copy()


def copy_int64(ptr, count: int) -> np.ndarray:
    if count == 0 or ptr == ffi.NULL:
        return np.empty(0, np.int64)
    return np.frombuffer(ffi.buffer(ptr, count * 8), dtype=np.int64).copy()
