"""The calls against independent references: snapshot formats, brute-force
mass assignment and power spectrum in NumPy on the test mesh, the linear
spectrum's sigma8, the suite table and a trained model's predictions; and the
package imported is the installed one."""
import os
import shutil

import h5py
import numpy as np
import pytest

import cosmotl


def test_installed_package_is_used():
    site = os.environ.get("CT_PY_SITE")
    assert site, "run through run.sh (installs the package first)"
    assert os.path.realpath(cosmotl.__file__).startswith(os.path.realpath(site))


@pytest.fixture(scope="module")
def snap(data):
    return cosmotl.read_snapshot(data["snap"], fields=("pos", "vel", "id", "mass"))


def test_read_snapshot_formats(data, snap):
    h = snap["header"]
    assert h["box"] == data["box"] and h["nfiles"] == 2 and "HDF5" in h["format"]
    assert snap["pos"].shape == (24 ** 3, 3) and snap["pos"].dtype == np.float32
    assert snap["vel"].shape == (24 ** 3, 3) and snap["id"].dtype == np.uint64
    assert snap["mass"] == pytest.approx(65.6)
    np.testing.assert_array_equal(snap["id"], np.arange(1, 24 ** 3 + 1))
    # the same particles written as a Gadget format-I file: identical arrays
    g = cosmotl.read_snapshot(os.path.join(data["dir"], "gadget", "snap_004"),
                              fields=("pos", "vel", "id"))
    assert "binary" in g["header"]["format"]
    for f in ("pos", "vel", "id"):
        assert g[f].tobytes() == snap[f].tobytes(), f
    # positions in Mpc/h: the file's kpc/h divided by 1000 (float32 rounding)
    with h5py.File(os.path.join(data["snap"], "snap_004.0.hdf5"), "r") as f:
        raw = f["PartType1/Coordinates"][:5]
    np.testing.assert_allclose(snap["pos"][:5], raw / 1000.0, rtol=1e-6)
    assert (snap["pos"] >= 0).all() and (snap["pos"] < data["box"]).all()


def test_read_snapshot_threads(data, snap):
    """The library reads these contiguous files with pread on any number of
    threads (default: this rank's cores): the same bytes on 1, 2 and 3, and
    each position is the file's kpc/h value times 1e-3 in double, rounded to
    float32, over both files (h5py reads them independently)."""
    for t in (1, 2, 3):
        s = cosmotl.read_snapshot(data["snap"], fields=("pos", "vel", "id", "mass"), threads=t)
        for f in ("pos", "vel", "id"):
            assert s[f].tobytes() == snap[f].tobytes(), (t, f)
    raw = []
    for i in range(2):
        with h5py.File(os.path.join(data["snap"], f"snap_004.{i}.hdf5"), "r") as f:
            raw.append(f["PartType1/Coordinates"][...])
    want = (np.concatenate(raw).astype(np.float64) * 1e-3).astype(np.float32)
    assert want.tobytes() == snap["pos"].tobytes()


def cic_reference(pos, grid, box):
    """Brute-force CIC: grid points at x = i H, weights 1 - u and u per axis."""
    s = pos.astype(np.float64) / (box / grid)
    i0 = np.floor(s).astype(int)
    u = s - i0
    m = np.zeros((grid,) * 3)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = ((u[:, 0] if dx else 1 - u[:, 0]) * (u[:, 1] if dy else 1 - u[:, 1]) *
                     (u[:, 2] if dz else 1 - u[:, 2]))
                np.add.at(m, ((i0[:, 0] + dx) % grid, (i0[:, 1] + dy) % grid,
                              (i0[:, 2] + dz) % grid), w)
    return m


def test_paint_brute_force(data, snap):
    # tolerance 1e-12 relative to the cell mass: only the summation order differs
    pos = snap["pos"][:3000]
    m = cosmotl.paint(pos, 16, data["box"])
    ref = cic_reference(pos, 16, data["box"])
    assert m.shape == (16, 16, 16)
    np.testing.assert_allclose(m, ref, rtol=0, atol=1e-12 * ref.max())
    assert m.sum() == pytest.approx(3000, rel=1e-12)


def pk_reference(delta, box, p):
    """P0 by brute force in NumPy: full-space FFT, window sinc^p per axis
    divided out, bins b = floor(|n|) for b >= 1, k = mean |k| of the bin,
    modes counted over the half space: each (k, -k) pair once and each
    self-conjugate mode (every component 0 or N/2) once, i.e. weight 2 for the
    self-conjugate ones when summing over the full space."""
    N = delta.shape[0]
    D = np.fft.fftn(delta)
    n = np.fft.fftfreq(N, 1.0 / N)
    nx, ny, nz = np.meshgrid(n, n, n, indexing="ij")
    W = (np.sinc(nx / N) * np.sinc(ny / N) * np.sinc(nz / N)) ** p
    P = box ** 3 * np.abs(D / W) ** 2 / N ** 6
    nn = np.sqrt(nx ** 2 + ny ** 2 + nz ** 2)
    b = np.floor(nn).astype(int).ravel()
    edge = lambda a: (a == 0) | (np.abs(a) == N // 2)
    w = np.where(edge(nx) & edge(ny) & edge(nz), 2.0, 1.0).ravel()
    nb = int(np.floor(np.sqrt(3) * N / 2))
    kf = 2 * np.pi / box
    cnt = np.bincount(b, w, minlength=nb + 1)[1:nb + 1]
    Pk = np.bincount(b, w * P.ravel(), minlength=nb + 1)[1:nb + 1] / cnt
    k = np.bincount(b, w * nn.ravel(), minlength=nb + 1)[1:nb + 1] / cnt * kf
    return k, Pk


def test_pk_brute_force(data, snap):
    # the monopole from particles and from the painted mesh against NumPy:
    # 1e-9 relative (round-off of FFTs of different length orders)
    grid, box = 16, data["box"]
    m = cosmotl.paint(snap["pos"], grid, box)
    delta = m / m.mean() - 1
    k, P = pk_reference(delta, box, 2)
    r = cosmotl.Pk(snap["pos"], box, grid)
    np.testing.assert_allclose(r.k, k, rtol=1e-12)
    np.testing.assert_allclose(r.P0, P, rtol=1e-9)
    rm = cosmotl.Pk(delta, box, mas="CIC")
    np.testing.assert_allclose(rm.P0, P, rtol=1e-9)
    assert rm.nbar == 0 and r.nbar == pytest.approx(24 ** 3 / box ** 3)
    # half-space mode counts over all bins plus DC: (N^3 - 8)/2 + 8
    assert r.Nmodes.sum() + 1 == (grid ** 3 - 8) // 2 + 8
    # float32 mesh input works too (converted)
    r32 = cosmotl.Pk(delta.astype(np.float32), box, mas="CIC")
    np.testing.assert_allclose(r32.P0, P, rtol=1e-5)


def test_linear_pk_sigma8():
    # sigma8 from integrating the returned P(k) with the top-hat window equals
    # the requested normalisation (1e-3: trapezoid rule on 4000 log points)
    k = np.logspace(-4, 2, 4000)
    for s8 in (0.834, 0.7):
        P = cosmotl.linear_pk({"sigma8": s8, "Om": 0.3}, k)
        x = 8 * k
        W = 3 * (np.sin(x) - x * np.cos(x)) / x ** 3
        s2 = np.trapz(k ** 3 * P * W ** 2 / (2 * np.pi ** 2), np.log(k))
        assert np.sqrt(s2) == pytest.approx(s8, rel=1e-3)
    # growth: P(z) / P(0) is scale independent in LCDM and below 1
    r = cosmotl.linear_pk(None, [0.01, 0.1], z=1) / cosmotl.linear_pk(None, [0.01, 0.1])
    assert r[0] == pytest.approx(r[1], rel=1e-9) and 0.3 < r[0] < 0.5
    with pytest.raises(cosmotl.ArgumentError, match="unknown parameter"):
        cosmotl.linear_pk({"omega_k": 0.1}, [0.1])
    with pytest.raises(cosmotl.ArgumentError):
        cosmotl.linear_pk({"omega_m": -1}, [0.1])


def test_read_table(data):
    t = cosmotl.read_table(os.path.join(data["dir"], "table.h5"))
    assert t.nsim == 2 and list(t.present) == [0] and list(t.status) == [1, 0]
    assert t.param_names == ["Omega_m", "sigma_8"]
    np.testing.assert_array_equal(t.param("sigma_8"), [0.834, 0.8])
    with h5py.File(os.path.join(data["dir"], "out1", "0.h5"), "r") as f:
        assert t["pk"]["P"][0].tobytes() == f["pk/P0"][...].tobytes()
        assert t["bk"]["P"][0].tobytes() == f["bk/B0"][...].tobytes()
    assert np.isnan(t["pk"]["P"][1]).all() or (t["pk"]["P"][1] == 0).all()
    with pytest.raises(cosmotl.FileError, match="per-simulation summary"):
        cosmotl.read_table(os.path.join(data["dir"], "out1", "0.h5"))
    with pytest.raises(KeyError, match="no parameter"):
        t.param("h")


def mlp_reference(path, x):
    """The network's forward pass in NumPy from the model file's datasets."""
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
        h = np.log10(x) if a["input_log10"] else x
        h = (h - f["input/mean"][...]) / f["input/std"][...]
        n = int(a["n_layers"])
        for l in range(n):
            h = h @ f[f"layers/{l}/W"][...].T + f[f"layers/{l}/b"][...]
            if l < n - 1:
                h = np.where(h > 0, h, a["leaky_slope"] * h)
        assert a["out_act"] in (b"sigmoid", "sigmoid")
        h = 1 / (1 + np.exp(-h))
        lo, hi = f["targets/lo"][...], f["targets/hi"][...]
    return lo + h * (hi - lo)


def test_model_predict(data):
    path = os.path.join(data["dir"], "model.h5")
    m = cosmotl.Model.load(path)
    assert m.n_in == 20 and m.target_names == ["Omega_m", "sigma_8"]
    x = np.loadtxt(os.path.join(data["dir"], "txt", "3", "Pk_m_z=0.txt"))[:, 1]
    X = np.stack([x, 1.1 * x])
    y = m.predict(X)
    # 1e-12: the same arithmetic in another order (BLAS vs NumPy)
    np.testing.assert_allclose(y, mlp_reference(path, X), rtol=1e-12)
    np.testing.assert_allclose(m.predict(x), y[0], rtol=1e-14)  # one row: BLAS may take another path
    with pytest.raises(cosmotl.ArgumentError, match=r"shape \(n, 20\)"):
        m.predict(X[:, :10])
    with pytest.raises(cosmotl.FileError, match="0.h5"):
        cosmotl.Model.load(os.path.join(data["dir"], "out1", "0.h5"))


def test_model_provenance_checks(data):
    """Provenance through the library (ct_mlp_provenance, ct_mlp_check_inputs):
    a model trained on a gathered table records the k of its inputs; inputs
    at those k pass, inputs at other k, of other statistics or of another
    length raise FileError naming the model file and the attribute; a
    PkResult of the same binning is taken as input directly."""
    path = os.path.join(data["dir"], "model_table.h5")
    m = cosmotl.Model.load(path)
    prov = m.provenance
    assert prov["statistics"] == "pk" and prov["k_cut"] == pytest.approx(0.3)
    assert prov["params"] == ["Omega_m", "sigma_8"] and prov["writer"] == "cosmotl train"
    assert prov["source"].endswith("many.h5") and len(prov["k_hash"]) == 16
    with h5py.File(os.path.join(data["dir"], "out1", "0.h5"), "r") as f:
        k, P = f["pk/k"][...], f["pk/P0"][...]
    n = m.n_in
    assert n == int((k <= 0.3).sum()) == prov["n_in"]
    np.testing.assert_array_equal(prov["k"], k[:n])
    y = m.predict(P[:n])
    np.testing.assert_array_equal(m.predict(P[:n], k=k[:n]), y)
    np.testing.assert_array_equal(m.predict(P[:n], k=k[:n], statistics="pk"), y)
    with pytest.raises(cosmotl.FileError, match=r"model_table\.h5: model attribute k"):
        m.predict(P[:n], k=k[:n] * 1.01)
    with pytest.raises(cosmotl.FileError, match=r"model_table\.h5: model attribute statistics"):
        m.predict(P[:n], statistics="pk,mk")
    with pytest.raises(cosmotl.FileError, match=r"model_table\.h5"):
        m.check_inputs(n + 1, statistics="pk")
    with pytest.raises(cosmotl.ArgumentError, match="one value per input"):
        m.predict(P[:n], k=k[:n - 1])
    # a PkResult with the training binning is the input as it is
    snap = cosmotl.read_snapshot(data["snap"])
    r = cosmotl.Pk(snap["pos"], data["box"], data["grid"])
    np.testing.assert_array_equal(m.predict(r), m.predict(r.P0[:n]))
    # another binning (bin width 2 kF): the k grid differs and the library says so
    r2 = cosmotl.Pk(snap["pos"], data["box"], data["grid"], bin_width=2)
    with pytest.raises(cosmotl.FileError, match="model attribute k"):
        m.predict(r2)
    # a model trained on text spectra records their k column: inputs at those
    # k pass, inputs at other k (a PkResult of another grid) do not
    txt = cosmotl.Model.load(os.path.join(data["dir"], "model.h5"))
    x = np.loadtxt(os.path.join(data["dir"], "txt", "3", "Pk_m_z=0.txt"))
    assert txt.provenance["source"].endswith("txt") and txt.provenance["statistics"] == "pk"
    np.testing.assert_array_equal(txt.provenance["k"], x[:, 0])
    assert len(txt.provenance["k_hash"]) == 16
    np.testing.assert_array_equal(txt.predict(x[:, 1], k=x[:, 0]), txt.predict(x[:, 1]))
    with pytest.raises(cosmotl.FileError, match=r"model\.h5: model attribute k .* at bin 0"):
        txt.predict(x[:, 1], k=x[:, 0] * 1.01)
    if len(r.P0) >= txt.n_in:
        with pytest.raises(cosmotl.FileError, match=r"model\.h5: model attribute k"):
            txt.predict(r)


def rows_of(t, stat, kcut):
    """The columns k <= kcut of statistic stat for the present simulations,
    selected in NumPy (the reference for Model.predict(Table))."""
    k = t[stat]["k"]
    return t[stat]["P"][t.present][:, k <= kcut * (1 + 1e-12)]


def test_model_predict_table(data, tmp_path):
    """Model.predict(Table): the library selects the columns the model's
    provenance names (statistics in order, k cut), checks them against it
    and reads the present rows; mismatches raise FileError naming the model
    file (or the table) and what differs."""
    many = os.path.join(data["dir"], "many.h5")
    t = cosmotl.read_table(many)
    assert len(t.present) == 30
    m = cosmotl.Model.load(os.path.join(data["dir"], "model_table.h5"))
    X = rows_of(t, "pk", 0.3)
    assert X.shape == (30, m.n_in)
    np.testing.assert_array_equal(m.predict(t), m.predict(X))
    # two statistics, concatenated in the provenance's order
    m2 = cosmotl.Model.load(os.path.join(data["dir"], "model_pkmk.h5"))
    assert m2.provenance["statistics"] == "pk,mk" and m2.provenance["k_cut"] == 0.2
    X2 = np.concatenate([rows_of(t, "pk", 0.2), rows_of(t, "mk", 0.2)], axis=1)
    assert X2.shape == (30, m2.n_in)
    np.testing.assert_array_equal(m2.predict(t), m2.predict(X2))
    # k and statistics come from the model, not the caller
    with pytest.raises(cosmotl.ArgumentError, match="provenance"):
        m.predict(t, k=t["pk"]["k"][:m.n_in])
    # a model trained on text spectra at other k: the library names the attribute
    txt = cosmotl.Model.load(os.path.join(data["dir"], "model.h5"))
    with pytest.raises(cosmotl.FileError, match=r"model\.h5: model attribute (n_in|k)"):
        txt.predict(t)
    # a table whose k grid differs (1%), and one without the model's second statistic
    other_k, no_mk = str(tmp_path / "other_k.h5"), str(tmp_path / "no_mk.h5")
    for path in (other_k, no_mk):
        shutil.copy(many, path)
    with h5py.File(other_k, "r+") as f:
        f["pk/k"][...] = f["pk/k"][...] * 1.01
    with h5py.File(no_mk, "r+") as f:
        del f["mk"]
    with pytest.raises(cosmotl.FileError, match=r"model_table\.h5: model attribute k .*other_k\.h5"):
        m.predict(cosmotl.read_table(other_k))
    with pytest.raises(cosmotl.FileError, match=r"no_mk\.h5: no statistic 'mk'"):
        m2.predict(cosmotl.read_table(no_mk))
    m.predict(cosmotl.read_table(no_mk))  # pk alone is still there
