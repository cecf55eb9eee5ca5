"""The worked example of docs/python.md (tools/examples/pk_quijote.py) runs on
the test snapshot, on 1, 2 and 4 ranks: it prints the same P(k) table (bit for
bit equal to the CLI's summary on 1 rank; 1e-12 relative on 2 and 4 ranks, printed
with 7 digits so identical text) and writes the plot."""
import os
import subprocess
import sys

import h5py
import numpy as np

EXAMPLE = os.path.join(os.environ.get("CT_SOURCE_ROOT", ""), "tools", "examples", "pk_quijote.py")


def run(data, tmp_path, ranks):
    png = tmp_path / f"pk{ranks}.png"
    cmd = [sys.executable, EXAMPLE, data["snap"], "--grid", str(data["grid"]), "--out", str(png)]
    if ranks > 1:
        cmd = [os.environ["MPIRUN_SH"], str(ranks)] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    assert png.exists() and png.stat().st_size > 1000
    rows = np.array([list(map(float, l.split())) for l in out.splitlines() if not l.startswith("#")])
    return out, rows


def test_example(data, tmp_path):
    assert os.path.isfile(EXAMPLE), EXAMPLE
    out1, rows1 = run(data, tmp_path, 1)
    with h5py.File(os.path.join(data["dir"], "out1", "0.h5"), "r") as f:
        np.testing.assert_allclose(rows1[:, 1], f["pk/P0"][...], rtol=1e-6)  # printed with 7 digits
        np.testing.assert_array_equal(rows1[:, 2], f["pk/nmodes"][...])
    assert "13824 particles" in out1 and "1 rank(s)" in out1
    for ranks in (2, 4):
        out, rows = run(data, tmp_path, ranks)
        assert f"{ranks} rank(s)" in out
        np.testing.assert_array_equal(rows1, rows)
