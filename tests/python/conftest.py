"""Shared fixtures: the test data made by make_data.py (CT_PY_DATA) and the
communicator of the run (MPI.COMM_WORLD when started under mpirun with more
than one rank, else None)."""
import json
import os

import pytest


@pytest.fixture(scope="session")
def data():
    d = os.environ.get("CT_PY_DATA")
    if not d or not os.path.isdir(d):
        pytest.fail("CT_PY_DATA must name the folder make_data.py wrote (tests/python/run.sh)")
    with open(os.path.join(d, "settings.json")) as f:
        s = json.load(f)
    s["dir"] = d
    s["snap"] = os.path.join(d, "suite", "0", "snapdir_004")
    return s


@pytest.fixture(scope="session")
def comm():
    from mpi4py import MPI
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


@pytest.fixture(scope="session")
def nranks():
    from mpi4py import MPI
    return MPI.COMM_WORLD.Get_size()
