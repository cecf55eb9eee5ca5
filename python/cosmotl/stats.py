"""Power spectrum, marked power spectrum, bispectrum and mass assignment of
particles (or of a density mesh) through libcosmotl: the same estimator, the
same binning and the same numbers as `cosmotl summarize`."""
from __future__ import annotations

import atexit
import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from ._lib import (ArgumentError, agree, check, comm_size, copy_doubles, copy_int64, ffi, lib,
                   mpi_running, to_comm)

__all__ = ["Pk", "MarkedPk", "Bk", "paint", "local_planes", "PkResult", "MarkedPkResult",
           "BkResult", "release_meshes", "keep_meshes"]

ArrayLike = Union[np.ndarray, Sequence[Sequence[float]]]


# ------------------------------------------------------------------ helpers

def _mas(mas: Optional[str]) -> int:
    if mas is None:
        return 0
    if not isinstance(mas, str):
        raise ArgumentError(f"mas must be 'NGP', 'CIC', 'TSC' or 'PCS', not {mas!r}")
    out = ffi.new("ct_mas *")
    if lib.ct_mas_parse(mas.encode(), out) != lib.CT_OK:
        lib.ct_error_clear()
        raise ArgumentError(f"mas must be 'NGP', 'CIC', 'TSC' or 'PCS', not {mas!r}")
    return int(out[0])


def _axis(axis: Optional[Union[int, str]]) -> int:
    if axis is None:
        return 2
    names = {"x": 0, "y": 1, "z": 2, 0: 0, 1: 1, 2: 2}
    if isinstance(axis, (bool, np.bool_)) or axis not in names:
        raise ArgumentError(f"axis must be 0, 1, 2 (or 'x', 'y', 'z'), not {axis!r}")
    return names[axis]


def _positive(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a number, not {v!r}") from None
    if not (np.isfinite(f) and f > 0):
        raise ArgumentError(f"{name} must be a positive number, not {v!r}")
    return f


def _grid(grid: Any) -> int:
    if isinstance(grid, (bool, np.bool_)) or not isinstance(grid, (int, np.integer)):
        raise ArgumentError(f"grid must be an even integer >= 2, not {grid!r}")
    if grid < 2 or grid % 2:
        raise ArgumentError(f"grid must be an even integer >= 2, not {grid}")
    return int(grid)


def _threads(threads: Any) -> int:
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)) \
            or threads < 1:
        raise ArgumentError(f"threads must be a positive integer, not {threads!r}")
    lib.ctpy_set_threads(int(threads))
    return int(threads)


def _check_particles(pos: Any, weights: Any, box: float):
    """(pos as C-contiguous float32 (n, 3), weights as float32 (n,) or None,
    error message or None). Arrays that are already float32 and contiguous are
    used as they are (no copy); the caller's arrays are never written."""
    p = np.asarray(pos)
    if p.dtype not in (np.float32, np.float64):
        return None, None, f"pos must be a float32 or float64 array, not {p.dtype}"
    if p.ndim != 2 or p.shape[1] != 3:
        return None, None, f"pos must have shape (n, 3), not {p.shape}"
    p = np.ascontiguousarray(p, dtype=np.float32)
    if p.shape[0]:
        # one pass in C, compared in double (two NumPy reductions cost twice)
        i = int(lib.ct_mesh_first_outside(p.shape[0], ffi.cast("float *", ffi.from_buffer(p)),
                                          box))
        if i >= 0:
            return None, None, (f"pos: particle {i} at ({p[i, 0]:g}, {p[i, 1]:g}, {p[i, 2]:g}) "
                                f"is outside the box [0, {box:g}) or not finite")
    w = None
    if weights is not None:
        w = np.asarray(weights)
        if w.dtype not in (np.float32, np.float64):
            return None, None, f"weights must be a float32 or float64 array, not {w.dtype}"
        if w.shape != (p.shape[0],):
            return None, None, f"weights must have shape ({p.shape[0]},), not {w.shape}"
        w = np.ascontiguousarray(w, dtype=np.float32)
        if w.size and not np.isfinite(w).all():
            return None, None, "weights must be finite"
    return p, w, None


class _MeshCache:
    """Meshes (with their FFTW plans) kept between calls, as `cosmotl
    summarize` keeps them between snapshots: creating a 512^3 mesh (allocation,
    first touch, plans) costs about a tenth of a P(k). Per communicator (up to
    congruence: same ranks in the same order), only the meshes of its last
    (grid, box, threads) are kept, at most as many as one call used. A call on
    one communicator never creates or frees meshes of another, so the ranks of
    every communicator make the same (collective) mesh calls in the same order
    even when some ranks also work alone (comm=None) in between."""

    def __init__(self):
        self.groups = []        # [key, [ct_mesh ** not in use]], one per communicator
        self.enabled = True

    def _group(self, c):
        for g in self.groups:
            if lib.ctpy_comm_congruent(lib.ct_mesh_comm(g[1][0][0]), c):
                return g
        return None

    def take(self, key, c, count):
        g = self._group(c)
        if g is None:
            return []
        if g[0] != key:  # another size on this communicator: free the old meshes
            self._destroy(g)
            return []
        out, g[1] = g[1][:count], g[1][count:]
        if not g[1]:
            self.groups.remove(g)
        return out

    def give(self, key, c, ptrs):
        if not ptrs:
            return
        if not (self.enabled and mpi_running()):
            for p in ptrs:
                lib.ct_mesh_destroy(p)
            return
        g = self._group(c)
        if g is not None and g[0] != key:
            self._destroy(g)
            g = None
        if g is None:
            self.groups.append([key, list(ptrs)])
        else:
            g[1].extend(ptrs)

    def _destroy(self, g):
        if mpi_running():
            for p in g[1]:
                lib.ct_mesh_destroy(p)
        self.groups.remove(g)

    def release(self):
        for g in list(self.groups):
            self._destroy(g)

    def kept(self):
        """[(grid, box, threads, number of meshes)] of the kept meshes (of
        either precision: a float32 call keeps float32 meshes)."""
        return [(*g[0][:3], len(g[1])) for g in self.groups]


_cache = _MeshCache()
atexit.register(_cache.release)  # before MPI is finalised (atexit runs in reverse order)


def release_meshes() -> None:
    """Free the meshes that Pk, MarkedPk and Bk keep between calls (per
    communicator, the last grid size's meshes and FFT plans, (grid/2 + 1) * 2 *
    grid^2 reals each, split over the ranks). Call it on every rank: freeing
    a mesh frees its communicator."""
    _cache.release()


def keep_meshes(enabled: bool = True) -> None:
    """Keep meshes between calls (the default) or free them after every call
    (False, which also frees the ones kept now)."""
    _cache.enabled = bool(enabled)
    if not enabled:
        _cache.release()


class _Meshes:
    """The meshes of one measurement: taken from the cache or created, given
    back on exit."""

    def __init__(self, grid: int, box: float, threads: int, c, count: int, float32: bool = False):
        self.key = (grid, box, threads, float32)
        self.grid, self.box, self.threads, self.c, self.count = grid, box, threads, c, count
        self.float32 = float32
        self.ptrs = []

    def __enter__(self):
        self.ptrs = _cache.take(self.key, self.c, self.count)
        s = ffi.new("ct_mesh_settings *")
        lib.ct_mesh_settings_defaults(s)
        s.n, s.box, s.threads = self.grid, self.box, self.threads
        s.float32 = 1 if self.float32 else 0
        try:
            while len(self.ptrs) < self.count:
                p = ffi.new("ct_mesh **")
                check(lib.ct_mesh_create(p, s, self.c))
                self.ptrs.append(p)
        except BaseException:
            self.__exit__()
            raise
        return [p[0] for p in self.ptrs]

    def __exit__(self, *exc):
        _cache.give(self.key, self.c, self.ptrs)
        self.ptrs = []
        return False


class _Particles:
    """This rank's particles on the ranks that own their slabs. One rank: the
    caller's (checked) arrays as they are. Several ranks: the library's
    exchange reads the caller's arrays (never writes them, no copy) and returns
    this rank's particles in new arrays, freed on exit."""

    def __init__(self, m, p: np.ndarray, w: Optional[np.ndarray], c):
        self.keep = (p, w)
        self.n = p.shape[0]
        self.pos = ffi.cast("float *", ffi.from_buffer(p)) if self.n else ffi.NULL
        self.w = ffi.cast("float *", ffi.from_buffer(w)) if w is not None and self.n else ffi.NULL
        self.owned = []
        if comm_size(c) == 1:
            return
        npay = 0
        pay = ffi.new("ct_payload_in[1]")
        if w is not None:
            pay[0].data, pay[0].size, npay = self.w, 4, 1
        n = ffi.new("int64_t *")
        pp = ffi.new("float **")
        wp = ffi.new("void *[1]")
        check(lib.ct_mesh_exchange_const(m, self.n, self.pos, npay, pay, n, pp, wp))
        self.owned = [pp[0]] + ([wp[0]] if npay else [])
        self.n, self.pos = n[0], pp[0]
        self.w = ffi.cast("float *", wp[0]) if npay else ffi.NULL

    def sets(self):
        s = ffi.new("ct_pk_particles[1]")
        s[0].n, s[0].pos, s[0].w, s[0].w_uniform = self.n, self.pos, self.w, 1.0
        return s

    def close(self):
        for ptr in self.owned:
            lib.free(ptr)
        self.owned = []
        self.pos = self.w = ffi.NULL


def _pk_settings(mas: int, interlace: bool, axis: int, bin_width: float, shot_noise: bool,
                 float32: bool = False):
    s = ffi.new("ct_pk_settings *")
    lib.ct_pk_settings_defaults(s)
    s.float32 = 1 if float32 else 0
    s.mas = mas
    s.interlace = 1 if interlace else 0
    s.axis = axis
    s.bin_width = bin_width
    s.shot_noise = 1 if shot_noise else 0
    return s


# ------------------------------------------------------------------ results

class PkResult:
    """A binned power spectrum. ``k`` (h/Mpc, mean |k| of each bin's modes),
    ``Pk`` ((Mpc/h)^3: the monopole, or columns monopole, quadrupole,
    hexadecapole when the call gave ``axis``), ``Nmodes`` (half-space mode
    counts); ``P0``, ``P2``, ``P4`` always; Pylians' names ``k3D``, ``Nmodes3D``
    too. ``nbar`` is the particles' effective number density ((h/Mpc)^3; 0 for
    a mesh input): subtract 1/nbar from P0 for the shot noise."""

    k: np.ndarray
    P0: np.ndarray
    P2: np.ndarray
    P4: np.ndarray
    Nmodes: np.ndarray

    def __init__(self, r, multipoles: bool):
        n = r.nbins
        self.k = copy_doubles(r.k, n)
        self.P0 = copy_doubles(r.P0, n)
        self.P2 = copy_doubles(r.P2, n)
        self.P4 = copy_doubles(r.P4, n)
        self.Nmodes = copy_int64(r.nmodes, n)
        self.box, self.grid = float(r.box), int(r.grid)
        self.mas = ffi.string(lib.ct_mas_name(r.mas)).decode() if r.mas else None
        self.interlace, self.axis = bool(r.interlace), int(r.axis)
        self.bin_width, self.nbar = float(r.bin_width), float(r.nbar)
        self.shot_noise, self.npart = float(r.shot_noise), int(r.npart)
        self.float32 = bool(r.float32)
        self.multipoles = multipoles

    @property
    def Pk(self) -> np.ndarray:
        if self.multipoles:
            return np.stack([self.P0, self.P2, self.P4], axis=1)
        return self.P0

    k3D = property(lambda self: self.k)
    Nmodes3D = property(lambda self: self.Nmodes)

    def __repr__(self):
        return (f"PkResult({len(self.k)} bins, k {self.k[0]:.4g}..{self.k[-1]:.4g} h/Mpc, "
                f"grid {self.grid}, box {self.box:g}, {self.mas})") if len(self.k) else "PkResult()"


class MarkedPkResult:
    """The marked power spectrum ``M`` and its cross spectrum ``X`` with the
    unmarked field (both PkResult), ``k`` and ``Mk`` (= M.Pk), ``Xk``,
    ``Nmodes``, the mean mark and the range of the smoothed density contrast at
    the particles."""

    def __init__(self, r, multipoles: bool):
        self.M = PkResult(r.M, multipoles)
        self.X = PkResult(r.X, multipoles)
        self.mean_mark = float(r.mean_mark)
        self.delta_R_range = (float(r.delta_R_range[0]), float(r.delta_R_range[1]))
        self.R, self.p, self.delta_s = float(r.settings.R), float(r.settings.p), \
            float(r.settings.delta_s)

    k = property(lambda self: self.M.k)
    Mk = property(lambda self: self.M.Pk)
    Xk = property(lambda self: self.X.Pk)
    Nmodes = property(lambda self: self.M.Nmodes)


class BkResult:
    """Bispectrum of every triangle in one call. ``triangles`` (ntri, 3) shell
    indices; ``k1``, ``k2``, ``k3`` shell centres in units of kF; ``P1``..``P3``
    shell power (shot noise subtracted), ``B`` raw, ``Bsn`` shot noise, ``B0`` =
    B - Bsn, ``Q`` reduced bispectrum, ``counts`` closed triplets per triangle;
    ``kF`` = 2 pi / box. Pylians-like names: ``B`` and ``Q``."""

    def __init__(self, r, select: Optional[np.ndarray] = None):
        n = r.ntri
        tri = np.frombuffer(ffi.buffer(r.tri, 3 * n * ffi.sizeof("int")), dtype=np.intc) \
            .reshape(n, 3).astype(np.int64) if n else np.empty((0, 3), np.int64)
        k = copy_doubles(r.k, 3 * n).reshape(n, 3)
        P = copy_doubles(r.P, 3 * n).reshape(n, 3)
        cols = {"B": copy_doubles(r.B, n), "Bsn": copy_doubles(r.Bsn, n),
                "B0": copy_doubles(r.B0, n), "Q": copy_doubles(r.Q, n),
                "counts": copy_doubles(r.counts, n)}
        idx = slice(None) if select is None else select
        self.triangles = tri[idx]
        self.k1, self.k2, self.k3 = (k[idx, a] for a in range(3))
        self.P1, self.P2, self.P3 = (P[idx, a] for a in range(3))
        for name, v in cols.items():
            setattr(self, name, v[idx])
        self.box, self.dk, self.nbar, self.grid = float(r.box), float(r.dk), float(r.nbar), int(r.grid)
        self.kF = 2 * np.pi / self.box

    def __len__(self):
        return len(self.B)


# ------------------------------------------------------------------ calls

def local_planes(grid: int, box: float = 1.0, comm: Any = None) -> tuple:
    """(x0, nx): the x-planes [x0, x0 + nx) of a grid^3 mesh that this rank
    holds under comm (the slab that paint() returns on several ranks)."""
    c = to_comm(comm)
    with _Meshes(_grid(grid), _positive("box", box), 1, c, 1) as (m,):
        x0, nx = ffi.new("ptrdiff_t *"), ffi.new("ptrdiff_t *")
        lib.ct_mesh_local(m, x0, nx)
        return int(x0[0]), int(nx[0])


def _measure_particles(what: str, pos, box, grid, mas, interlace, axis, threads, weights,
                       bin_width, shot_noise, comm, extra_meshes, body, keep_particles=False,
                       keep_field=True, float32=False):
    """Paint, transform and bin the particles (ct_pk_paint, then
    ct_pk_measure_painted: ct_pk_measure's result bit for bit), then body().
    Unless body needs the particles (keep_particles), the exchanged copies of
    several ranks are freed after painting, so that the transform's buffers
    reuse their memory instead of touching fresh memory; keep_field=False lets
    the binning leave the mesh in any state (nothing reads delta(k) after it:
    one pass over the mesh fewer, as `cosmotl summarize` does for P(k) alone)."""
    box = _positive("box", box)
    grid = _grid(grid)
    mas_i = _mas(mas)
    if mas_i == 0:
        raise ArgumentError("mas is needed for particles ('NGP', 'CIC', 'TSC' or 'PCS')")
    ax = _axis(axis)
    threads = _threads(threads)
    bin_width = _positive("bin_width", bin_width)
    c = to_comm(comm)
    p, w, msg = _check_particles(pos, weights, box)
    agree(c, None if msg is None else f"{what}: {msg}")
    ps = _pk_settings(mas_i, interlace, ax, bin_width, shot_noise, float32)
    ps.discard_field = 0 if keep_field else 1
    nmesh = 1 + (1 if interlace else 0) + extra_meshes
    with _Meshes(grid, box, threads, c, nmesh, float32) as meshes:
        m = meshes[0]
        ms = meshes[1] if interlace else ffi.NULL
        parts = _Particles(m, p, w, c)
        try:
            sets = parts.sets()
            sw, sw2, npart = ffi.new("double *"), ffi.new("double *"), ffi.new("int64_t *")
            check(lib.ct_pk_paint(m, ms, ps, 1, sets, sw, sw2, npart))
            if not keep_particles:
                parts.close()
            r = ffi.new("ct_pk_result *")
            try:
                check(lib.ct_pk_measure_painted(m, ms, ps, sw[0], sw2[0], npart[0], r))
                return body(m, ms, meshes[1 + (1 if interlace else 0):], ps, sets, r)
            finally:
                lib.ct_pk_result_free(r)
        finally:
            parts.close()


def Pk(data: Union[ArrayLike, str, "os.PathLike[str]"], box: Optional[float] = None,
       grid: Optional[int] = None, mas: Optional[str] = "CIC", interlace: bool = False,
       axis: Optional[Union[int, str]] = None, threads: int = 1, *,
       weights: Optional[ArrayLike] = None, bin_width: float = 1.0, shot_noise: bool = False,
       species: str = "total", float32: bool = False, comm: Any = None) -> PkResult:
    """Power spectrum of particles, of an overdensity mesh or of a snapshot.

    data: particle positions (n, 3) in [0, box) Mpc/h, float32 or float64 (on
        several ranks: this rank's particles, any subset), or an overdensity
        mesh delta (grid, grid, grid) (on several ranks: the whole mesh or this
        rank's x-slab, see local_planes), or the path of a snapshot (as
        read_snapshot takes it): then the library reads and measures it as
        `cosmotl summarize SNAP --grid GRID` does (ct_pk_of_snapshot: /pk bit
        for bit on the same number of ranks; each rank streams its share of
        one particle type in chunks, several exchanging each chunk; on
        several ranks with more than 2^20 particles per rank it then differs
        from Pk of read_snapshot's positions by round-off), total matter or,
        with species="cb", PartType1 alone; box comes from the snapshot (give
        None or the same value), one thread per rank, no weights.
    box: side of the periodic box, Mpc/h. grid: mesh points per side (even;
        required for particles and snapshots, taken from the mesh otherwise).
    mas: 'NGP', 'CIC', 'TSC', 'PCS' (the window divided out; for a mesh, the
        scheme that painted it, None for no compensation). interlace: a second
        grid shifted by half a cell (particles only). axis: line of sight of the
        multipoles (0, 1, 2 or 'x', 'y', 'z'); with it, .Pk has the columns P0,
        P2, P4. threads: OpenMP threads per rank. weights: per-particle
        weights (n,). bin_width: in units of kF = 2 pi / box. shot_noise:
        subtract 1/nbar from P0. float32: particles and snapshots only: paint
        into a float mesh and transform in single precision (FFTW's float
        library; the sums stay double), as Pylians does: half the memory and
        memory traffic; the same k and Nmodes, P within 1e-6 relative below the
        Nyquist wavenumber (`cosmotl summarize --pk-float32`; .float32 is set).
        comm: an mpi4py communicator; the mesh is distributed over its ranks
        and every rank gets the whole result.

    Raises ArgumentError (a ValueError) for bad arguments, positions outside
    the box or non-finite values, CosmotlError for failures in the library.
    The arrays passed in are never modified."""
    multipoles = axis is not None
    if not isinstance(float32, (bool, np.bool_)):
        raise ArgumentError(f"float32 must be True or False, not {float32!r}")
    if _is_path(data):
        return _pk_snapshot(data, box, grid, mas, interlace, axis, threads, weights, bin_width,
                            shot_noise, species, comm, multipoles, bool(float32))
    if box is None:
        raise ArgumentError("box is needed for particles or a mesh")
    arr = np.asarray(data)
    if arr.ndim == 3:
        if weights is not None or interlace or float32:
            raise ArgumentError("weights, interlace and float32 apply to particles, not to a "
                                "mesh")
        return _pk_mesh(arr, box, grid, mas, axis, threads, bin_width, comm, multipoles)
    if grid is None:
        raise ArgumentError("grid is needed for particles")

    def body(m, ms, extra, ps, sets, r):
        return PkResult(r, multipoles)
    return _measure_particles("Pk", arr, box, grid, mas, interlace, axis, threads, weights,
                              bin_width, shot_noise, comm, 0, body, keep_field=False,
                              float32=bool(float32))


def _is_path(data) -> bool:
    return isinstance(data, (str, bytes, os.PathLike))


def _snapshot_call(path, box, grid, mas, interlace, axis, threads, weights, bin_width,
                   shot_noise, species, comm, call, float32=False):
    """A statistic of the snapshot at path through the library's one call (the
    summarizer's measure step): checks the arguments as Pk(path) does, then
    call(path, grid, ps, species_cb, comm) returns (result, its box)."""
    if grid is None:
        raise ArgumentError("grid is needed for a snapshot")
    grid = _grid(grid)
    mas_i = _mas(mas)
    if mas_i == 0:
        raise ArgumentError("mas is needed for a snapshot ('NGP', 'CIC', 'TSC' or 'PCS')")
    ax = _axis(axis)
    bin_width = _positive("bin_width", bin_width)
    if weights is not None:
        raise ArgumentError("weights apply to particle arrays, not to a snapshot path")
    if isinstance(threads, (bool, np.bool_)) or threads != 1:
        raise ArgumentError(f"a snapshot path is measured with one thread per rank, not "
                            f"threads={threads!r} (pass the positions of read_snapshot)")
    if species not in ("total", "cb"):
        raise ArgumentError(f"species must be 'total' or 'cb', not {species!r}")
    want_box = None if box is None else _positive("box", box)
    c = to_comm(comm)
    ps = _pk_settings(mas_i, interlace, ax, bin_width, shot_noise, float32)
    res, got_box = call(os.fsencode(path), grid, ps, 1 if species == "cb" else 0, c)
    if want_box is not None and abs(got_box - want_box) > 1e-9 * want_box:
        raise ArgumentError(f"box {want_box:g} differs from the snapshot's {got_box:g} Mpc/h "
                            f"({os.fsdecode(path)})")
    return res


def _pk_snapshot(path, box, grid, mas, interlace, axis, threads, weights, bin_width, shot_noise,
                 species, comm, multipoles, float32):
    def call(p, g, ps, cb, c):
        r = ffi.new("ct_pk_result *")
        try:
            check(lib.ct_pk_of_snapshot(p, g, ps, cb, c, r))
            res = PkResult(r, multipoles)
        finally:
            lib.ct_pk_result_free(r)
        return res, res.box
    return _snapshot_call(path, box, grid, mas, interlace, axis, threads, weights, bin_width,
                          shot_noise, species, comm, call, float32)


def _pk_mesh(delta, box, grid, mas, axis, threads, bin_width, comm, multipoles):
    box = _positive("box", box)
    mas_i = _mas(mas)
    ax = _axis(axis)
    threads = _threads(threads)
    bin_width = _positive("bin_width", bin_width)
    c = to_comm(comm)
    if delta.dtype not in (np.float32, np.float64):
        raise ArgumentError(f"delta must be a float32 or float64 array, not {delta.dtype}")
    N = delta.shape[1]
    if grid is not None and _grid(grid) != N:
        raise ArgumentError(f"grid {grid} does not match the mesh's {N} points per side")
    N = _grid(N)
    msg = None
    if delta.shape[1:] != (N, N):
        msg = f"Pk: delta must have shape (n, n, n) or an x-slab (nx, n, n), not {delta.shape}"
    with _Meshes(N, box, threads, c, 1) as (m,):
        x0, nx = ffi.new("ptrdiff_t *"), ffi.new("ptrdiff_t *")
        lib.ct_mesh_local(m, x0, nx)
        x0, nx = int(x0[0]), int(nx[0])
        if msg is None:
            if delta.shape[0] == N:
                src = delta[x0:x0 + nx]
            elif delta.shape[0] == nx:
                src = delta
            else:
                msg = (f"Pk: delta has {delta.shape[0]} x-planes: give all {N} or this rank's "
                       f"{nx} (local_planes)")
        if msg is None and not np.isfinite(src).all():
            msg = "Pk: delta has non-finite values"
        agree(c, msg)
        row = int(lib.ct_mesh_row(m))
        rsize = ffi.sizeof("ct_real")
        lib.ct_mesh_zero(m)  # a mesh kept from an earlier call is in Fourier space
        if nx:
            view = np.frombuffer(ffi.buffer(lib.ct_mesh_real(m), nx * N * row * rsize),
                                 dtype=np.float64 if rsize == 8 else np.float32)
            view.reshape(nx, N, row)[:, :, :N] = src
        check(lib.ct_mesh_r2c(m))
        if mas_i:
            check(lib.ct_mesh_compensate(m, mas_i))
        ps = _pk_settings(mas_i or lib.CT_MAS_CIC, False, ax, bin_width, False)
        r = ffi.new("ct_pk_result *")
        try:
            check(lib.ct_pk_bin(m, ffi.NULL, ps, r))
            res = PkResult(r, multipoles)
        finally:
            lib.ct_pk_result_free(r)
        res.mas = mas.upper() if mas else None
        return res


def MarkedPk(pos: Union[ArrayLike, str, "os.PathLike[str]"], box: Optional[float] = None,
             grid: Optional[int] = None, R: float = 10.0, p: float = 2.0,
             delta_s: float = 0.25, mas: str = "CIC", interlace: bool = False,
             axis: Optional[Union[int, str]] = None, threads: int = 1, *,
             weights: Optional[ArrayLike] = None, bin_width: float = 1.0,
             species: str = "total", comm: Any = None) -> MarkedPkResult:
    """Marked power spectrum (White 2016; Massara et al. 2021) of particles
    or of a snapshot: mark m = [(1 + delta_s) / (1 + delta_s + delta_R)]^p
    with delta_R the density contrast smoothed by a top-hat of radius R
    (Mpc/h) at each particle; the marked field is binned like Pk. Arguments
    as Pk; for a snapshot path the library reads and measures it as
    `cosmotl summarize SNAP --stats mk --grid GRID --mark-R R ...` does
    (ct_mk_of_snapshot: /mk bit for bit on the same number of ranks). Returns
    M(k) (.Mk), the cross spectrum with the unmarked field (.Xk), .k,
    .Nmodes, .mean_mark."""
    mk = ffi.new("ct_mk_settings *")
    lib.ct_mk_settings_defaults(mk)
    for name, v in (("R", R), ("p", p), ("delta_s", delta_s)):
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise ArgumentError(f"{name} must be a number, not {v!r}") from None
        if not np.isfinite(fv):
            raise ArgumentError(f"{name} must be finite, not {v!r}")
    if float(R) < 0 or float(delta_s) <= -1:
        raise ArgumentError("R must be >= 0 and delta_s > -1")
    mk.R, mk.p, mk.delta_s = float(R), float(p), float(delta_s)
    multipoles = axis is not None
    if _is_path(pos):
        def call(path, g, ps, cb, c):
            out = ffi.new("ct_mk_result *")
            try:
                check(lib.ct_mk_of_snapshot(path, g, ps, mk, cb, c, out))
                res = MarkedPkResult(out, multipoles)
            finally:
                lib.ct_mk_result_free(out)
            return res, res.M.box
        return _snapshot_call(pos, box, grid, mas, interlace, axis, threads, weights, bin_width,
                              False, species, comm, call)
    if box is None or grid is None:
        raise ArgumentError("box and grid are needed for particles")

    def body(m, ms, extra, ps, sets, r):
        out = ffi.new("ct_mk_result *")
        try:
            check(lib.ct_mk_measure(m, extra[0], ms, ps, mk, 1, sets, out))
            return MarkedPkResult(out, multipoles)
        finally:
            lib.ct_mk_result_free(out)
    return _measure_particles("MarkedPk", pos, box, grid, mas, interlace, axis, threads,
                              weights, bin_width, False, comm, 1, body, keep_particles=True)


def Bk(pos: Union[ArrayLike, str, "os.PathLike[str]"], box: Optional[float] = None,
       grid: Optional[int] = None, triangles: Union[str, ArrayLike] = "quijote",
       mas: str = "CIC", interlace: bool = False, threads: int = 1, *, dk: float = 3.0,
       kmax: float = 78.0, weights: Optional[ArrayLike] = None, mem_budget: float = 0.0,
       cache_dir: Optional[str] = None, shell_float32: bool = False, species: str = "total",
       comm: Any = None) -> BkResult:
    """FFT bispectrum (Scoccimarro estimator) of particles or of a snapshot,
    every triangle in one call. For a snapshot path (arguments as for
    Pk(path)) the library reads and measures it as `cosmotl summarize SNAP
    --stats bk --grid GRID --bk-dk DK --bk-kmax KMAX` does (ct_bk_of_snapshot:
    /bk bit for bit on the same number of ranks). Shells of width dk (units of kF) hold the modes with
    floor(|n|/dk + 1/2) = j; triangles="quijote" measures all triangles
    j1 >= j2 >= j3 >= max(j1 - j2, 1) with shell centres k1 <= kmax (units of
    kF; the defaults dk = 3, kmax = 78 give Quijote's 1898 triangles); an
    integer array (ntri, 3) of shell indices (j1 >= j2 >= j3) measures those
    triangles (in the given order). Shot noise uses the particles' nbar.
    mem_budget: bytes per rank the estimator may use (0: automatic);
    cache_dir: folder of the triangle-count cache (None: no cache);
    shell_float32: keep the shell fields in float32 (half their memory, B
    within 1e-6 relative of the float64 path; counts stay float64)."""
    if isinstance(triangles, str):
        if triangles.lower() != "quijote":
            raise ArgumentError(f"triangles must be 'quijote' or an array (ntri, 3), not {triangles!r}")
        tri = None
    else:
        tri = np.asarray(triangles)
        if tri.ndim != 2 or tri.shape[1] != 3 or tri.shape[0] == 0 or \
                not np.issubdtype(tri.dtype, np.integer):
            raise ArgumentError(f"triangles must be an integer array (ntri, 3), not "
                                f"{tri.dtype} {tri.shape}")
        if (tri < 1).any() or (tri[:, 0] < tri[:, 1]).any() or (tri[:, 1] < tri[:, 2]).any():
            raise ArgumentError("triangles: shell indices must be >= 1 with j1 >= j2 >= j3")
        if (tri[:, 2] < tri[:, 0] - tri[:, 1]).any():
            raise ArgumentError("triangles: j3 < j1 - j2 does not close a triangle")
        kmax = float(tri[:, 0].max()) * float(dk)
    bs = ffi.new("ct_bk_settings *")
    lib.ct_bk_settings_defaults(bs)
    bs.dk = _positive("dk", dk)
    bs.kmax = _positive("kmax", kmax)
    bs.mem_budget = float(mem_budget)
    bs.shell_f32 = 1 if shell_float32 else 0
    cache = ffi.new("char[]", str(cache_dir).encode()) if cache_dir is not None else ffi.NULL
    bs.cache_dir = cache
    if grid is None or (box is None and not _is_path(pos)):
        raise ArgumentError("grid is needed, and box for particles")
    g = _grid(grid)
    if bs.kmax < bs.dk:
        raise ArgumentError(f"kmax {bs.kmax:g} is below the first shell centre (dk {bs.dk:g})")
    if bs.kmax + 0.5 * bs.dk > 0.5 * g * np.sqrt(3.0):
        raise ArgumentError(f"kmax {bs.kmax:g} kF (shells to {bs.kmax + 0.5 * bs.dk:g} kF) is "
                            f"beyond the modes of grid {g}; use a larger grid or a smaller kmax")

    def result(out):
        """BkResult of out[0], the chosen triangles (if any) in their order"""
        select = None
        if tri is not None:
            n = out[0].ntri
            have = np.frombuffer(ffi.buffer(out[0].tri, 3 * n * ffi.sizeof("int")),
                                 dtype=np.intc).reshape(n, 3)
            index = {tuple(t): i for i, t in enumerate(have.tolist())}
            missing = [tuple(t) for t in tri.tolist() if tuple(t) not in index]
            if missing:
                raise ArgumentError(f"triangles: {missing[0]} is not a triangle of the "
                                    f"shells (dk {bs.dk:g})")
            select = np.array([index[tuple(t)] for t in tri.tolist()], dtype=np.int64)
        return BkResult(out[0], select)

    if _is_path(pos):
        def call(path, g_, ps, cb, c):
            out = ffi.new("ct_bk_result **")
            try:
                check(lib.ct_bk_of_snapshot(path, g_, ps, bs, cb, c, out))
                res = result(out)
            finally:
                lib.ct_bk_result_destroy(out)
            return res, res.box
        return _snapshot_call(pos, box, g, mas, interlace, None, threads, weights, 1.0, False,
                              species, comm, call)

    def body(m, ms, extra, ps, sets, r):
        out = ffi.new("ct_bk_result **")
        try:
            check(lib.ct_bk_measure(m, bs, r.nbar, out))
            return result(out)
        finally:
            lib.ct_bk_result_destroy(out)
    return _measure_particles("Bk", pos, box, g, mas, interlace, None, threads, weights, 1.0,
                              False, comm, 0, body)


def paint(pos: ArrayLike, grid: int, box: float, mas: str = "CIC", *,
          weights: Optional[ArrayLike] = None, threads: int = 1, comm: Any = None) -> np.ndarray:
    """Mass assignment: the mesh (grid, grid, grid) float64 holding the sum of
    the particles' weights (1 each by default) per cell, with grid points at
    x = i box / grid (Pylians' MASL.MA convention). On several ranks (comm),
    each rank gets its x-slab (nx, grid, grid) of the whole mesh, planes
    [x0, x0 + nx) of local_planes(). The array is a view of the library's mesh
    (no copy; rows keep FFTW's padding in the strides)."""
    box = _positive("box", box)
    grid = _grid(grid)
    mas_i = _mas(mas)
    if mas_i == 0:
        raise ArgumentError("mas must be 'NGP', 'CIC', 'TSC' or 'PCS'")
    threads = _threads(threads)
    c = to_comm(comm)
    p, w, msg = _check_particles(pos, weights, box)
    agree(c, None if msg is None else f"paint: {msg}")
    mp = ffi.new("ct_mesh **")
    s = ffi.new("ct_mesh_settings *")
    lib.ct_mesh_settings_defaults(s)
    s.n, s.box, s.threads = grid, box, threads
    check(lib.ct_mesh_create(mp, s, c))
    try:
        parts = _Particles(mp[0], p, w, c)
        try:
            ps = ffi.new("ct_paint_settings *")
            lib.ct_paint_settings_defaults(ps)
            ps.mas = mas_i
            check(lib.ct_mesh_paint(mp[0], ps, parts.n, parts.pos, parts.w, 1.0))
        finally:
            parts.close()
        x0, nx = ffi.new("ptrdiff_t *"), ffi.new("ptrdiff_t *")
        lib.ct_mesh_local(mp[0], x0, nx)
        nx = int(nx[0])
        row = int(lib.ct_mesh_row(mp[0]))
    except BaseException:
        lib.ct_mesh_destroy(mp)
        raise
    if nx == 0:
        lib.ct_mesh_destroy(mp)
        return np.empty((0, grid, grid))
    rsize = ffi.sizeof("ct_real")
    mesh = mp[0]

    def destroy(_):
        if mpi_running():  # an array that outlives MPI (at exit) keeps its mesh
            lib.ct_mesh_destroy(ffi.new("ct_mesh **", mesh))
    keep = ffi.gc(lib.ct_mesh_real(mesh), destroy)
    flat = np.frombuffer(ffi.buffer(keep, nx * grid * row * rsize),
                         dtype=np.float64 if rsize == 8 else np.float32)
    return flat.reshape(nx, grid, row)[:, :, :grid]
