"""Bad input raises a clear exception (never crashes the interpreter), and the
arrays passed in are never modified."""
import os

import numpy as np
import pytest

import cosmotl


@pytest.fixture(scope="module")
def pos(data):
    return cosmotl.read_snapshot(data["snap"])["pos"]


def test_wrong_dtype(data, pos):
    with pytest.raises(cosmotl.ArgumentError, match="float32 or float64"):
        cosmotl.Pk(pos.astype(np.int64), data["box"], data["grid"])
    with pytest.raises(cosmotl.ArgumentError, match="float32 or float64"):
        cosmotl.Pk(pos.astype(np.complex64), data["box"], data["grid"])


def test_wrong_shape(data, pos):
    with pytest.raises(cosmotl.ArgumentError, match=r"shape \(n, 3\)"):
        cosmotl.Pk(pos[:, :2], data["box"], data["grid"])
    with pytest.raises(cosmotl.ArgumentError, match=r"shape \(n, 3\)"):
        cosmotl.Pk(pos.reshape(-1), data["box"], data["grid"])
    with pytest.raises(cosmotl.ArgumentError, match="weights must have shape"):
        cosmotl.Pk(pos, data["box"], data["grid"], weights=np.ones(3))


@pytest.mark.parametrize("value", [-1.0, 250.0, 1e9, np.nan, np.inf])
def test_positions_outside_box(data, pos, value):
    bad = pos.copy()
    bad[123, 1] = value
    for call in (lambda: cosmotl.Pk(bad, data["box"], data["grid"]),
                 lambda: cosmotl.MarkedPk(bad, data["box"], data["grid"]),
                 lambda: cosmotl.Bk(bad, data["box"], data["grid"], dk=2, kmax=8),
                 lambda: cosmotl.paint(bad, data["grid"], data["box"])):
        with pytest.raises(cosmotl.ArgumentError, match="particle 123 .* outside the box"):
            call()


def test_bad_settings(data, pos):
    with pytest.raises(cosmotl.ArgumentError, match="grid"):
        cosmotl.Pk(pos, data["box"], 33)
    with pytest.raises(cosmotl.ArgumentError, match="box"):
        cosmotl.Pk(pos, -1.0, 32)
    with pytest.raises(cosmotl.ArgumentError, match="mas"):
        cosmotl.Pk(pos, data["box"], 32, mas="XYZ")
    with pytest.raises(cosmotl.ArgumentError, match="axis"):
        cosmotl.Pk(pos, data["box"], 32, axis=3)
    with pytest.raises(cosmotl.ArgumentError, match="threads"):
        cosmotl.Pk(pos, data["box"], 32, threads=0)
    with pytest.raises(cosmotl.ArgumentError, match="beyond the modes"):
        cosmotl.Bk(pos, data["box"], 8, dk=3, kmax=78)
    with pytest.raises(cosmotl.ArgumentError, match="close a triangle"):
        cosmotl.Bk(pos, data["box"], 32, triangles=[[5, 2, 1]], dk=2)
    with pytest.raises(cosmotl.ArgumentError, match="comm must be an mpi4py"):
        cosmotl.Pk(pos, data["box"], 32, comm=42)


def test_not_a_snapshot(tmp_path, data):
    txt = tmp_path / "notes.txt"
    txt.write_text("not a snapshot\n")
    with pytest.raises(cosmotl.FileError, match="notes.txt: not a snapshot"):
        cosmotl.read_snapshot(str(txt))
    with pytest.raises(cosmotl.FileError, match="no such file"):
        cosmotl.read_snapshot(str(tmp_path / "missing"))
    # a summary file is HDF5 but not a snapshot
    with pytest.raises(cosmotl.FileError, match="0.h5"):
        cosmotl.read_snapshot(os.path.join(data["dir"], "out1", "0.h5"))
    with pytest.raises(cosmotl.ArgumentError, match="unknown field"):
        cosmotl.read_snapshot(data["snap"], fields=("position",))
    for bad in (0, -1, True, 1.5, "2"):
        with pytest.raises(cosmotl.ArgumentError, match="threads must be"):
            cosmotl.read_snapshot(data["snap"], threads=bad)


def test_pk_of_a_path(tmp_path, data, pos):
    """Pk(path): a file that is not a snapshot, a missing grid, settings a
    snapshot path does not take, and a box other than the snapshot's."""
    txt = tmp_path / "notes.txt"
    txt.write_text("not a snapshot\n")
    with pytest.raises(cosmotl.FileError, match="notes.txt: not a snapshot"):
        cosmotl.Pk(str(txt), grid=data["grid"])
    with pytest.raises(cosmotl.FileError, match="no such file"):
        cosmotl.Pk(tmp_path / "missing", grid=data["grid"])
    with pytest.raises(cosmotl.ArgumentError, match="grid is needed"):
        cosmotl.Pk(data["snap"])
    with pytest.raises(cosmotl.ArgumentError, match="one thread per rank"):
        cosmotl.Pk(data["snap"], grid=data["grid"], threads=2)
    with pytest.raises(cosmotl.ArgumentError, match="weights"):
        cosmotl.Pk(data["snap"], grid=data["grid"], weights=np.ones(len(pos)))
    with pytest.raises(cosmotl.ArgumentError, match="species"):
        cosmotl.Pk(data["snap"], grid=data["grid"], species="cdm")
    with pytest.raises(cosmotl.ArgumentError, match="differs from the snapshot's"):
        cosmotl.Pk(data["snap"], 2 * data["box"], data["grid"])
    with pytest.raises(cosmotl.ArgumentError, match="box is needed"):
        cosmotl.Pk(pos, grid=data["grid"])


def test_library_message_is_one_line(tmp_path):
    with pytest.raises(cosmotl.FileError) as e:
        cosmotl.read_snapshot(str(tmp_path / "missing"))
    assert "\n" not in str(e.value) and e.value.status == "CT_ERR_IO"


def test_inputs_not_modified(data, pos):
    # float32 (used without a copy), float64 (converted) and weights
    p32 = np.array(pos)
    p64 = pos.astype(np.float64)
    w = np.linspace(0.5, 1.5, len(pos)).astype(np.float32)
    keep = (p32.copy(), p64.copy(), w.copy())
    cosmotl.Pk(p32, data["box"], data["grid"], weights=w)
    cosmotl.Pk(p64, data["box"], data["grid"], interlace=True)
    cosmotl.MarkedPk(p32, data["box"], data["grid"])
    cosmotl.Bk(p32, data["box"], data["grid"], dk=2, kmax=8)
    cosmotl.paint(p32, data["grid"], data["box"], weights=w)
    for a, b in zip((p32, p64, w), keep):
        assert a.tobytes() == b.tobytes()
    # read-only arrays are accepted (the library only reads them)
    p32.setflags(write=False)
    cosmotl.Pk(p32, data["box"], data["grid"])


def test_float64_equals_float32(data, pos):
    a = cosmotl.Pk(pos, data["box"], data["grid"])
    b = cosmotl.Pk(pos.astype(np.float64), data["box"], data["grid"])
    assert a.P0.tobytes() == b.P0.tobytes()


def test_positions_policy_of_the_reader(tmp_path, data):
    """read_snapshot applies summarize's positions policy: Gadget's rounding
    (x = BoxSize) wrapped, a position 5 boxes out an error naming it, all
    wrapped with wrap_positions=True."""
    import shutil

    import h5py
    d = tmp_path / "snapdir_004"
    shutil.copytree(data["snap"], d)
    f1 = d / "snap_004.1.hdf5"
    with h5py.File(f1, "r+") as f:
        c = f["PartType1/Coordinates"]
        c[3, 0] = data["box"] * 1000.0          # exactly BoxSize: wrapped to 0
    s = cosmotl.read_snapshot(str(d))
    assert (s["pos"] < data["box"]).all()
    with h5py.File(f1, "r+") as f:
        f["PartType1/Coordinates"][3, 0] = 5 * data["box"] * 1000.0
    with pytest.raises(cosmotl.CosmotlError, match="snap_004.1.hdf5"):
        cosmotl.read_snapshot(str(d))
    s = cosmotl.read_snapshot(str(d), wrap_positions=True)
    assert (s["pos"] >= 0).all() and (s["pos"] < data["box"]).all()
