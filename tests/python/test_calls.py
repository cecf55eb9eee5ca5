"""The calls of the interface as documented: every public call has a
docstring and type hints; multi-file Gadget binary snapshots; P(k) multipoles
against a brute-force NumPy reference; the marked spectrum with a unit mark;
float32 positions reach the library without a copy (tracemalloc), float64
ones with one; the extension uses the installed shared libcosmotl through its
own run path (also after moving the installed tree)."""
import inspect
import os
import shutil
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import cosmotl

PUBLIC_CALLS = [cosmotl.read_snapshot, cosmotl.snapshot_header, cosmotl.Pk, cosmotl.MarkedPk,
                cosmotl.Bk, cosmotl.paint, cosmotl.local_planes, cosmotl.linear_pk,
                cosmotl.read_table, cosmotl.Model.load, cosmotl.Model.predict,
                cosmotl.Model.check_inputs, cosmotl.release_meshes, cosmotl.keep_meshes,
                cosmotl.Table.param]


@pytest.mark.parametrize("fn", PUBLIC_CALLS, ids=lambda f: f.__qualname__)
def test_docstring_and_type_hints(fn):
    assert fn.__doc__ and len(fn.__doc__.strip()) > 40, f"{fn.__qualname__}: no docstring"
    sig = inspect.signature(fn)
    missing = [n for n, p in sig.parameters.items()
               if n not in ("self", "cls") and p.annotation is inspect.Parameter.empty]
    assert not missing, f"{fn.__qualname__}: parameters without type hints: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, \
        f"{fn.__qualname__}: no return type hint"


def test_result_classes_documented():
    for cls in (cosmotl.PkResult, cosmotl.MarkedPkResult, cosmotl.BkResult, cosmotl.Table,
                cosmotl.Model, cosmotl.CosmotlError):
        assert cls.__doc__ and len(cls.__doc__.strip()) > 40, cls.__name__


@pytest.fixture(scope="module")
def snap(data):
    return cosmotl.read_snapshot(data["snap"], fields=("pos", "vel", "id"))


def test_gadget_format2_multifile(data, snap):
    """Format II split over two files (a snapdir folder, and the base name):
    the same arrays as the two-file HDF5 snapshot, bit for bit."""
    d = os.path.join(data["dir"], "gadget2", "snapdir_004")
    for path in (d, os.path.join(d, "snap_004")):
        g = cosmotl.read_snapshot(path, fields=("pos", "vel", "id"))
        h = g["header"]
        assert h["nfiles"] == 2 and "II" in h["format"], h
        for f in ("pos", "vel", "id"):
            assert g[f].tobytes() == snap[f].tobytes(), f
    # on one rank of a communicator the whole snapshot, as without comm
    assert cosmotl.snapshot_header(d)["npart_total"][1] == 24 ** 3


def multipoles_reference(delta, box, p, axis):
    """P0, P2, P4 by brute force: full-space FFT, CIC window (sinc^p per axis)
    divided out, bins floor(|n|) >= 1, P_l = (2l+1) <|delta_k|^2 L_l(mu)> with
    mu = n_axis / |n|, modes weighted as the half space counts them (weight 2
    for the self-conjugate modes, every component 0 or N/2)."""
    N = delta.shape[0]
    D = np.fft.fftn(delta)
    n = np.fft.fftfreq(N, 1.0 / N)
    g = np.meshgrid(n, n, n, indexing="ij")
    W = (np.sinc(g[0] / N) * np.sinc(g[1] / N) * np.sinc(g[2] / N)) ** p
    P = (box ** 3 * np.abs(D / W) ** 2 / N ** 6).ravel()
    nn = np.sqrt(g[0] ** 2 + g[1] ** 2 + g[2] ** 2)
    mu2 = np.divide(g[axis] ** 2, nn ** 2, out=np.zeros_like(nn), where=nn > 0).ravel()
    b = np.floor(nn).astype(int).ravel()
    edge = lambda a: (a == 0) | (np.abs(a) == N // 2)
    w = np.where(edge(g[0]) & edge(g[1]) & edge(g[2]), 2.0, 1.0).ravel()
    nb = int(np.floor(np.sqrt(3) * N / 2))
    cnt = np.bincount(b, w, minlength=nb + 1)[1:nb + 1]
    L2 = 0.5 * (3 * mu2 - 1)
    L4 = (35 * mu2 ** 2 - 30 * mu2 + 3) / 8
    out = [(2 * l + 1) * np.bincount(b, w * P * L, minlength=nb + 1)[1:nb + 1] / cnt
           for l, L in ((0, 1.0), (2, L2), (4, L4))]
    return np.stack(out, axis=1)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_multipoles_brute_force(data, snap, axis):
    # P0, P2, P4 along each axis against NumPy on a 16^3 mesh. Tolerance:
    # 1e-9 of the bin's monopole (absolute, since P2 and P4 cross zero): the
    # FFTs differ only in round-off (~1e-15 relative per mode)
    grid, box = 16, data["box"]
    m = cosmotl.paint(snap["pos"], grid, box)
    ref = multipoles_reference(m / m.mean() - 1, box, 2, axis)
    r = cosmotl.Pk(snap["pos"], box, grid, axis=axis)
    assert r.Pk.shape == (len(r.k), 3) and r.axis == axis
    bound = np.broadcast_to(1e-9 * np.abs(ref[:, :1]), ref.shape)
    np.testing.assert_array_less(np.abs(r.Pk - ref), bound)
    # the quadrupole is not trivially zero for this clumpy snapshot
    assert np.abs(r.P2).max() > 1e-3 * np.abs(r.P0).max()
    # Pylians' layout: without axis, .Pk is the monopole alone
    r0 = cosmotl.Pk(snap["pos"], box, grid)
    assert r0.Pk.ndim == 1 and r0.Pk.tobytes() == r.Pk[:, 0].tobytes()


def test_marked_pk_with_unit_mark(data, snap):
    """p = 0 makes every mark 1: the marked spectrum and the cross spectrum
    are the plain P(k) (1e-12 relative: the marked field is formed with an
    extra normalisation by the mean mark)."""
    box, grid = data["box"], data["grid"]
    plain = cosmotl.Pk(snap["pos"], box, grid)
    mk = cosmotl.MarkedPk(snap["pos"], box, grid, R=10.0, p=0.0)
    assert mk.mean_mark == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(mk.Mk, plain.P0, rtol=1e-12)
    np.testing.assert_allclose(mk.Xk, plain.P0, rtol=1e-12)
    np.testing.assert_array_equal(mk.Nmodes, plain.Nmodes)
    # and a real mark changes it
    marked = cosmotl.MarkedPk(snap["pos"], box, grid, R=10.0, p=2.0)
    assert np.abs(marked.Mk / plain.P0 - 1).max() > 1e-3


def _peak_traced(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_no_copy_of_float32_positions(data, snap):
    """NumPy reports its allocations to tracemalloc (the library's meshes are
    malloc'd in C and not traced): Pk on float32 C-contiguous positions
    allocates far less than the positions (no copy: results and checks only,
    bound 1/4 of the positions' bytes), float64 positions are converted once
    (at least the float32 copy's bytes)."""
    rng = np.random.default_rng(3)
    pos = (rng.random((200_000, 3)) * data["box"]).astype(np.float32)
    box, grid = data["box"], 16
    cosmotl.Pk(pos, box, grid)  # warm-up (imports, caches)
    peak32 = _peak_traced(lambda: cosmotl.Pk(pos, box, grid))
    assert peak32 < pos.nbytes / 4, f"float32 Pk traced {peak32} bytes for {pos.nbytes}"
    p64 = pos.astype(np.float64)
    peak64 = _peak_traced(lambda: cosmotl.Pk(p64, box, grid))
    assert peak64 >= pos.nbytes, f"float64 Pk traced only {peak64} bytes"
    # read_snapshot's arrays are the library's memory, not NumPy copies
    s = cosmotl.read_snapshot(data["snap"])
    assert not s["pos"].flags.owndata and s["pos"].flags.c_contiguous
    # paint returns a view of the library's mesh
    peakp = _peak_traced(lambda: cosmotl.paint(pos, 64, box))
    assert peakp < 64 ** 3 * 8 / 4, f"paint traced {peakp} bytes"


def _mapped_libcosmotl(code, env):
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()


MAPS = ("import cosmotl, numpy as np\n"
        "r = cosmotl.Pk(np.full((8, 3), 1.0, np.float32), 10.0, 4)\n"
        "print(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'cosmotl' in l}))\n"
        "print(cosmotl.__file__)\n")


def test_extension_uses_installed_shared_library(tmp_path):
    """The installed extension loads libcosmotl.so.0 of the installed tree
    (run.sh unsets LD_LIBRARY_PATH, so only the extension's $ORIGIN-relative
    run path can find it), and holds no copy of the library's code; moving
    the whole installed tree keeps it working."""
    root = os.environ.get("CT_PY_ROOT")
    if not root or not os.path.isdir("/proc/self"):
        pytest.skip("needs run.sh (CT_PY_ROOT) and /proc")
    assert "LD_LIBRARY_PATH" not in os.environ
    env = dict(os.environ)
    maps = eval(_mapped_libcosmotl(MAPS, env)[0])
    libs = [p for p in maps if "libcosmotl.so" in p]
    assert libs and all(p.startswith(os.path.realpath(root)) for p in libs), maps
    ext = [p for p in maps if "_cosmotl" in p]
    assert len(ext) == 1
    # no library code in the extension: small, and none of the estimators'
    # symbols defined in it (readelf when available)
    assert os.path.getsize(ext[0]) < os.path.getsize(libs[0]) / 4
    if shutil.which("readelf"):
        dyn = subprocess.run(["readelf", "-dW", ext[0]], capture_output=True, text=True).stdout
        assert "libcosmotl.so.0" in dyn and "$ORIGIN/" in dyn, dyn
        syms = subprocess.run(["readelf", "-sW", "--dyn-syms", ext[0]], capture_output=True,
                              text=True).stdout
        defined = [l for l in syms.splitlines()
                   if l.split()[-1:] == ["ct_pk_measure"] and " UND " not in l]
        assert any(l.split()[-1:] == ["ct_pk_measure"] for l in syms.splitlines()), \
            "the extension does not call ct_pk_measure?"
        assert not defined, defined
    # relocatable: the same tree elsewhere imports its own copy
    moved = tmp_path / "moved"
    shutil.copytree(root, moved, symlinks=True)
    site = os.environ["CT_PY_SITE"]
    env["PYTHONPATH"] = str(moved) + site[len(root):]
    lines = _mapped_libcosmotl(MAPS, env)
    maps = eval(lines[0])
    assert all(p.startswith(str(moved)) for p in maps), maps
    assert lines[1].startswith(str(moved))


def test_meshes_kept_between_calls(data, snap):
    """Pk, MarkedPk and Bk keep their meshes (and FFT plans) between calls:
    results stay bit for bit those of fresh meshes, whatever ran before on
    the kept meshes (a mesh left in Fourier space, a mesh input), and
    release_meshes / keep_meshes(False) free them."""
    from cosmotl import stats
    box, grid, pos = data["box"], data["grid"], snap["pos"]
    cosmotl.keep_meshes(False)
    try:
        assert not stats._cache.kept()
        fresh = cosmotl.Pk(pos, box, grid, axis=1)
        fresh_i = cosmotl.Pk(pos, box, grid, interlace=True)
        fresh_mk = cosmotl.MarkedPk(pos, box, grid)
        delta = cosmotl.paint(pos, grid, box)
        delta = delta / delta.mean() - 1
        fresh_mesh = cosmotl.Pk(delta, box, mas="CIC")
        assert not stats._cache.kept()
    finally:
        cosmotl.keep_meshes(True)
    runs = [lambda: cosmotl.Pk(pos, box, grid, axis=1).Pk,
            lambda: cosmotl.Pk(pos, box, grid, interlace=True).P0,
            lambda: cosmotl.MarkedPk(pos, box, grid).Mk,
            lambda: cosmotl.Pk(delta, box, mas="CIC").P0]
    want = [fresh.Pk, fresh_i.P0, fresh_mk.Mk, fresh_mesh.P0]
    for order in ([0, 1, 2, 3, 0], [3, 2, 1, 0, 3, 1]):
        for i in order:
            assert runs[i]().tobytes() == want[i].tobytes(), f"call {i} on kept meshes"
        cosmotl.Bk(pos, box, grid, dk=2, kmax=8)
    kept = stats._cache.kept()
    assert len(kept) == 1 and kept[0][:3] == (grid, box, 1) and 1 <= kept[0][3] <= 3, kept
    cosmotl.Pk(pos, box, grid // 2)          # another grid: the old meshes are freed
    assert stats._cache.kept() == [(grid // 2, box, 1, 1)]
    cosmotl.release_meshes()
    assert not stats._cache.kept()
