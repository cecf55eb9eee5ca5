"""Pk, MarkedPk and Bk from Python equal the CLI's summary files bit for bit
(tolerance 0: the same library calls on the same particles in the same order
on the same number of ranks), on 1 rank and, under `mpirun -n 2`, on 2 ranks;
and the 2-rank results agree with the 1-rank ones to round-off (1e-12
relative: only the order of floating-point sums changes)."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import cosmotl


@pytest.fixture(scope="module")
def snap(data, comm):
    return cosmotl.read_snapshot(data["snap"], comm=comm)


@pytest.fixture(scope="module")
def cli(data, nranks):
    path = os.path.join(data["dir"], f"out{nranks}", "0.h5")
    with h5py.File(path, "r") as f:
        return {g: {k: f[g][k][...] for k in f[g]} for g in ("pk", "mk", "bk")}


def same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    # bit for bit: compare the bytes (so that -0.0/0.0 or NaN payloads count too)
    assert a.astype(b.dtype).tobytes() == b.tobytes(), \
        f"{what}: differs, max |diff| {np.max(np.abs(a - b))}"


def test_pk(data, snap, comm, cli):
    r = cosmotl.Pk(snap["pos"], data["box"], data["grid"], axis=2, comm=comm)
    same(r.k, cli["pk"]["k"], "k")
    same(r.P0, cli["pk"]["P0"], "P0")
    same(r.P2, cli["pk"]["P2"], "P2")
    same(r.P4, cli["pk"]["P4"], "P4")
    same(r.Nmodes, cli["pk"]["nmodes"], "nmodes")
    assert r.Pk.shape == (len(r.k), 3)
    # Pylians' names
    assert r.k3D is r.k and r.Nmodes3D is r.Nmodes


def test_pk_of_a_path(data, snap, comm, cli):
    """Pk(path): the library reads and measures the snapshot as summarize does
    (ct_pk_of_snapshot; one rank streams it): the CLI's /pk and the Pk of
    read_snapshot's positions, bit for bit."""
    r = cosmotl.Pk(data["snap"], grid=data["grid"], axis=2, comm=comm)
    same(r.k, cli["pk"]["k"], "k")
    same(r.P0, cli["pk"]["P0"], "P0")
    same(r.P2, cli["pk"]["P2"], "P2")
    same(r.P4, cli["pk"]["P4"], "P4")
    same(r.Nmodes, cli["pk"]["nmodes"], "nmodes")
    a = cosmotl.Pk(snap["pos"], data["box"], data["grid"], axis=2, comm=comm)
    same(r.P0, a.P0, "P0 of the path vs of the positions")
    assert r.box == data["box"] and r.npart == a.npart
    # the snapshot's own box may be given
    same(cosmotl.Pk(data["snap"], data["box"], data["grid"], comm=comm).P0, cli["pk"]["P0"], "P0")


def test_pk_other_settings(data, snap, comm, nranks):
    """TSC, interlacing, line of sight x, bin width 2 kF, shot noise: the
    settings reach the library as the CLI's options do (1 rank: the CLI ran
    on 1 rank)."""
    if nranks != 1:
        pytest.skip("the CLI reference with these settings is from 1 rank")
    r = cosmotl.Pk(snap["pos"], data["box"], data["grid"], mas="TSC", interlace=True, axis="x",
                   bin_width=2, shot_noise=True, comm=comm)
    with h5py.File(os.path.join(data["dir"], "out_tsc", "0.h5"), "r") as f:
        g = f["pk"]
        for name in ("k", "P0", "P2", "P4", "nmodes"):
            mine = r.Nmodes if name == "nmodes" else getattr(r, name)
            same(mine, g[name][...], name)
        assert r.shot_noise == g.attrs["shot_noise"] and r.shot_noise > 0
    assert r.mas == "TSC" and r.interlace and r.axis == 0


def test_marked_pk(data, snap, comm, cli):
    r = cosmotl.MarkedPk(snap["pos"], data["box"], data["grid"], R=data["mark_R"],
                         p=data["mark_p"], delta_s=data["mark_ds"], axis=2, comm=comm)
    same(r.k, cli["mk"]["k"], "k")
    same(r.M.P0, cli["mk"]["P0"], "M P0")
    same(r.M.P2, cli["mk"]["P2"], "M P2")
    same(r.X.P0, cli["mk"]["X0"], "X0")
    same(r.Nmodes, cli["mk"]["nmodes"], "nmodes")


def test_bk(data, snap, comm, cli):
    r = cosmotl.Bk(snap["pos"], data["box"], data["grid"], dk=data["bk_dk"],
                   kmax=data["bk_kmax"], comm=comm)
    assert len(r) == 17  # 4 shells: 1 + 3 + 5 + 8 triangles
    for mine, theirs in (("k1", "k1"), ("k2", "k2"), ("k3", "k3"), ("P1", "P1"), ("P2", "P2"),
                         ("P3", "P3"), ("B", "B"), ("B0", "B0"), ("Q", "Q"), ("Bsn", "B_SN"),
                         ("counts", "counts")):
        same(getattr(r, mine), cli["bk"][theirs], mine)


def test_marked_pk_of_a_path(data, snap, comm, cli):
    """MarkedPk(path): the library reads and measures the snapshot as
    summarize does (ct_mk_of_snapshot): the CLI's /mk and the MarkedPk of
    read_snapshot's positions, bit for bit."""
    r = cosmotl.MarkedPk(data["snap"], grid=data["grid"], R=data["mark_R"], p=data["mark_p"],
                         delta_s=data["mark_ds"], axis=2, comm=comm)
    same(r.k, cli["mk"]["k"], "k")
    same(r.M.P0, cli["mk"]["P0"], "M P0")
    same(r.M.P2, cli["mk"]["P2"], "M P2")
    same(r.M.P4, cli["mk"]["P4"], "M P4")
    same(r.X.P0, cli["mk"]["X0"], "X0")
    same(r.Nmodes, cli["mk"]["nmodes"], "nmodes")
    a = cosmotl.MarkedPk(snap["pos"], data["box"], data["grid"], R=data["mark_R"],
                         p=data["mark_p"], delta_s=data["mark_ds"], axis=2, comm=comm)
    same(r.M.P0, a.M.P0, "M P0 of the path vs of the positions")
    assert r.mean_mark == a.mean_mark
    with pytest.raises(cosmotl.ArgumentError, match="box 1 differs"):
        cosmotl.MarkedPk(data["snap"], 1.0, data["grid"], comm=comm)


def test_bk_of_a_path(data, snap, comm, cli):
    """Bk(path): ct_bk_of_snapshot, the CLI's /bk bit for bit (one rank
    streams the snapshot in chunks of ct_pk_measure's paint block, the same
    painting as the CLI's, which read it whole for the marks)."""
    r = cosmotl.Bk(data["snap"], grid=data["grid"], dk=data["bk_dk"], kmax=data["bk_kmax"],
                   comm=comm)
    assert len(r) == 17
    for mine, theirs in (("k1", "k1"), ("k2", "k2"), ("k3", "k3"), ("P1", "P1"), ("P2", "P2"),
                         ("P3", "P3"), ("B", "B"), ("B0", "B0"), ("Q", "Q"), ("Bsn", "B_SN"),
                         ("counts", "counts")):
        same(getattr(r, mine), cli["bk"][theirs], mine)
    want = np.array([[4, 2, 2], [3, 2, 1]])
    part = cosmotl.Bk(data["snap"], grid=data["grid"], triangles=want, dk=data["bk_dk"],
                      comm=comm)
    for t, row in zip(want.tolist(), range(2)):
        assert part.B0[row] == r.B0[r.triangles.tolist().index(t)]
    with pytest.raises(cosmotl.ArgumentError, match="grid is needed"):
        cosmotl.Bk(data["snap"], comm=comm)


def test_bk_chosen_triangles(data, snap, comm):
    full = cosmotl.Bk(snap["pos"], data["box"], data["grid"], dk=data["bk_dk"],
                      kmax=data["bk_kmax"], comm=comm)
    want = np.array([[4, 2, 2], [2, 2, 2], [3, 2, 1]])
    part = cosmotl.Bk(snap["pos"], data["box"], data["grid"], triangles=want,
                      dk=data["bk_dk"], comm=comm)
    np.testing.assert_array_equal(part.triangles, want)
    for t, row in zip(want.tolist(), range(3)):
        i = full.triangles.tolist().index(t)
        assert part.B0[row] == full.B0[i]


def test_ranks_agree_with_one_rank(data, snap, comm, nranks):
    if nranks == 1:
        pytest.skip("needs mpirun -n 2 (run.sh runs this file on 2 ranks too)")
    with h5py.File(os.path.join(data["dir"], "out1", "0.h5"), "r") as f:
        p1 = f["pk"]["P0"][...]
    r = cosmotl.Pk(snap["pos"], data["box"], data["grid"], comm=comm)
    np.testing.assert_allclose(r.P0, p1, rtol=1e-12, atol=0)
    # every rank holds the whole result
    from mpi4py import MPI
    allp = MPI.COMM_WORLD.allgather(r.P0.tobytes())
    assert all(a == allp[0] for a in allp)


def test_read_snapshot_slices(data, snap, comm, nranks):
    """Under comm each rank reads a contiguous slice; together they are the
    whole snapshot in file order."""
    whole = cosmotl.read_snapshot(data["snap"])["pos"]
    if nranks == 1:
        assert snap["pos"].tobytes() == whole.tobytes()
        return
    from mpi4py import MPI
    parts = MPI.COMM_WORLD.allgather(snap["pos"])
    assert np.concatenate(parts).tobytes() == whole.tobytes()
    assert abs(len(parts[0]) - len(parts[-1])) <= 1


def test_bad_input_on_one_rank_raises_on_all(data, snap, comm, nranks):
    """A bad position on the last rank only: every rank raises the same
    error (the ranks agree before any collective call, so none waits)."""
    pos = np.array(snap["pos"])
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == nranks - 1:
        pos[5, 0] = -3.0
    with pytest.raises(cosmotl.ArgumentError, match="particle 5 .* outside the box"):
        cosmotl.Pk(pos, data["box"], data["grid"], comm=comm)
    # and the next call works again on every rank
    cosmotl.Pk(snap["pos"], data["box"], data["grid"], comm=comm)


def test_paint_slabs_and_mesh_pk(data, snap, comm, nranks):
    """paint() under comm gives this rank's x-slab (local_planes); the slabs
    together hold every particle, and Pk of the slab-distributed overdensity
    equals Pk of the particles (1e-10 relative: delta is formed in NumPy
    instead of in the library, so only round-off differs)."""
    grid, box = data["grid"], data["box"]
    m = cosmotl.paint(snap["pos"], grid, box, comm=comm)
    x0, nx = cosmotl.local_planes(grid, box, comm=comm)
    assert m.shape == (nx, grid, grid)
    total = m.sum()
    if comm is not None:
        total = comm.allreduce(total)
    n = snap["n_total"]
    assert total == pytest.approx(n, rel=1e-12)
    delta = m / (n / grid ** 3) - 1
    a = cosmotl.Pk(delta, box, mas="CIC", comm=comm)
    b = cosmotl.Pk(snap["pos"], box, grid, comm=comm)
    np.testing.assert_allclose(a.P0, b.P0, rtol=1e-10)
    np.testing.assert_array_equal(a.Nmodes, b.Nmodes)


def test_kept_meshes_and_other_communicators(data, snap, comm, nranks):
    """Meshes kept from a call on one communicator are reused only on a
    congruent one (a Dup: same ranks and order); a call on each rank alone
    (COMM_SELF) or on a split communicator gets its own meshes, and the next
    call on the first communicator still equals the CLI bit for bit."""
    if nranks == 1:
        pytest.skip("needs mpirun -n 2")
    from mpi4py import MPI
    with h5py.File(os.path.join(data["dir"], "out2", "0.h5"), "r") as f:
        ref = f["pk"]["P0"][...]
    box, grid = data["box"], data["grid"]
    a = cosmotl.Pk(snap["pos"], box, grid, comm=comm)
    same(a.P0, ref, "P0")
    dup = comm.Dup()
    try:
        same(cosmotl.Pk(snap["pos"], box, grid, comm=dup).P0, ref, "P0 on a Dup")
    finally:
        dup.Free()
    # each rank alone: its own particles only (a different spectrum), no hang;
    # on the last rank only, and on another grid (the communicator's own
    # kept meshes are untouched, so the ranks still agree on what to create)
    if comm.Get_rank() == nranks - 1:
        alone = cosmotl.Pk(snap["pos"], box, grid // 2)
        assert alone.npart == len(snap["pos"])
    kept = {k[:3] for k in cosmotl.stats._cache.kept()}
    assert (grid, box, 1) in kept
    rev = comm.Split(0, nranks - 1 - comm.Get_rank())   # same ranks, reversed order
    try:
        r = cosmotl.Pk(snap["pos"], box, grid, comm=rev)
        np.testing.assert_allclose(r.P0, ref, rtol=1e-12)
    finally:
        rev.Free()
    same(cosmotl.Pk(snap["pos"], box, grid, comm=comm).P0, ref, "P0 after other communicators")


def test_exchange_reads_the_callers_arrays(data, snap, comm, nranks):
    """On several ranks the particles reach their slab owners through the
    library's exchange, which reads the caller's arrays: positions and weights
    (read-only arrays here) come back unmodified, byte for byte, and the
    weights travel with their particles: weighted Pk and paint on R ranks
    equal the one-rank results of the same particles and weights to 1e-12
    relative (only the order of floating-point sums changes)."""
    pos = np.array(snap["pos"])
    w = (1.0 + 0.5 * np.sin(pos[:, 0])).astype(np.float32)  # a function of the particle
    pos.flags.writeable = False
    w.flags.writeable = False
    before = (pos.tobytes(), w.tobytes())
    r = cosmotl.Pk(pos, data["box"], data["grid"], weights=w, comm=comm)
    mesh = cosmotl.paint(pos, data["grid"], data["box"], weights=w, comm=comm)
    assert (pos.tobytes(), w.tobytes()) == before
    x0, nx = cosmotl.local_planes(data["grid"], data["box"], comm=comm)
    if nranks == 1:
        allpos = pos
    else:
        from mpi4py import MPI
        allpos = np.concatenate(MPI.COMM_WORLD.allgather(pos))
    allw = (1.0 + 0.5 * np.sin(allpos[:, 0])).astype(np.float32)
    r1 = cosmotl.Pk(allpos, data["box"], data["grid"], weights=allw)
    np.testing.assert_allclose(r.P0, r1.P0, rtol=1e-12, atol=0)
    m1 = cosmotl.paint(allpos, data["grid"], data["box"], weights=allw)
    np.testing.assert_allclose(mesh, m1[x0:x0 + nx], rtol=1e-12, atol=1e-12 * float(m1.max()))


def test_pk_streamed_snapshot(tmp_path, nranks):
    """More particles than one paint block (CT_PK_PAINT_BLOCK = 2^20): on one
    rank the CLI streams the snapshot in chunks and paints each as it arrives;
    Python's Pk of the same particles in one array must still give the same
    P(k) bit for bit (the library paints an array in the same blocks). Before
    the blocks were shared the two differed at 1e-15 relative."""
    if nranks != 1:
        pytest.skip("streaming is the one-rank path")
    sys.path.insert(0, os.path.dirname(__file__))
    import make_data
    n = (1 << 20) + 54321
    rng = np.random.default_rng(20)
    pos = (rng.random((n, 3)) * make_data.BOX * 1000.0).astype(np.float32)
    pos[pos >= np.float32(make_data.BOX * 1000)] = 0
    vel = np.zeros((n, 3), dtype=np.float32)
    ids = np.arange(1, n + 1, dtype=np.uint32)
    snapdir = tmp_path / "sim" / "snapdir_004"
    make_data.write_hdf5(str(snapdir), pos, vel, ids, nfiles=3)
    out = tmp_path / "out"
    subprocess.run([os.environ["COSMOTL"], "summarize", str(snapdir), "--grid", "32",
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(next(out.glob("*.h5")), "r") as f:
        cli_p0, cli_k = f["pk/P0"][...], f["pk/k"][...]
    snap = cosmotl.read_snapshot(str(snapdir))
    r = cosmotl.Pk(snap["pos"], snap["header"]["box"], 32)
    same(r.k, cli_k, "k")
    same(r.P0, cli_p0, "P0 (streamed CLI vs one-array Python)")


def test_pk_float32(data, snap, comm, cli):
    """float32=True: the single-precision path. The same k and Nmodes as the
    double path bit for bit; P0 within 1e-6 relative below the Nyquist
    wavenumber (the issue's bound for float32 paths; this clumpy snapshot's
    bins there all hold power well above the float FFT's round-off); a
    snapshot path (the CLI's --pk-float32 path) equals the particle array bit
    for bit; a mesh refuses it."""
    a = cosmotl.Pk(snap["pos"], data["box"], data["grid"], float32=True, comm=comm)
    assert a.float32 and not cosmotl.Pk(snap["pos"], data["box"], data["grid"], comm=comm).float32
    same(a.k, cli["pk"]["k"], "k")
    same(a.Nmodes, cli["pk"]["nmodes"], "Nmodes")
    below = a.k < np.pi * data["grid"] / data["box"]
    rel = np.abs(a.P0 / cli["pk"]["P0"] - 1)[below]
    assert rel.max() <= 1e-6, f"float32 P0 max rel diff {rel.max():.3g}"
    assert rel.max() > 0, "float32 gave the double path's numbers: not the float path"
    b = cosmotl.Pk(data["snap"], grid=data["grid"], float32=True, comm=comm)
    assert b.float32
    same(b.P0, a.P0, "P0 of the path vs the array (float32)")
    with pytest.raises(cosmotl.ArgumentError):
        cosmotl.Pk(np.zeros((8, 8, 8)), data["box"], float32=True, comm=comm)
