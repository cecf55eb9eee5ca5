"""Test data for the Python tests: a small Quijote-layout snapshot (HDF5, two
files, positions in kpc/h) and the same particles as a Gadget format-I binary
file, plus the CLI's summaries of the snapshot on 1 and 2 ranks.

    make_data.py DIR

needs COSMOTL (the installed `cosmotl` program) and MPIRUN_SH (tests/mpirun.sh)
in the environment. Writes DIR/suite/0/snapdir_004/, DIR/gadget/snap_004,
DIR/gadget2/snapdir_004/snap_004.{0,1} (format II, two files),
DIR/out1/0.h5, DIR/out2/0.h5, DIR/out_tsc/0.h5 (other P(k) settings),
DIR/table.h5 (gathered), DIR/model.h5 (trained on text spectra),
DIR/model_table.h5 (trained on the gathered table DIR/many.h5, k <= 0.3),
DIR/model_pkmk.h5 (on its pk and mk, k <= 0.2) and DIR/settings.json (the
summarize settings the tests repeat from Python)."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

BOX = 250.0      # Mpc/h
NSIDE = 24       # particles per side (13824)
GRID = 32
SETTINGS = {"box": BOX, "grid": GRID, "bk_dk": 2.0, "bk_kmax": 8.0, "mark_R": 10.0,
            "mark_p": 2.0, "mark_ds": 0.25}


def particles():
    """A perturbed lattice with a few clumps (so the spectra have structure),
    positions float32 in kpc/h and inside [0, box)."""
    rng = np.random.default_rng(16)
    q = (np.indices((NSIDE,) * 3).reshape(3, -1).T + 0.5) * (BOX / NSIDE)
    centres = rng.random((12, 3)) * BOX
    pull = centres[rng.integers(0, 12, len(q))]
    d = pull - q
    d -= BOX * np.round(d / BOX)
    x = q + 0.35 * d + rng.normal(0, 2.0, q.shape)
    x = np.mod(x, BOX)
    pos = (x * 1000.0).astype(np.float32)
    pos[pos >= np.float32(BOX * 1000)] = 0
    vel = rng.normal(0, 300, q.shape).astype(np.float32)
    ids = np.arange(1, len(q) + 1, dtype=np.uint32)
    return pos, vel, ids


def write_hdf5(folder, pos, vel, ids, nfiles=2):
    os.makedirs(folder, exist_ok=True)
    n = len(pos)
    cut = np.linspace(0, n, nfiles + 1).astype(int)
    for f in range(nfiles):
        a, b = cut[f], cut[f + 1]
        with h5py.File(os.path.join(folder, f"snap_004.{f}.hdf5"), "w") as h:
            hd = h.create_group("Header")
            hd.attrs["BoxSize"] = BOX * 1000.0
            hd.attrs["Time"] = 1.0
            hd.attrs["Redshift"] = 0.0
            hd.attrs["Omega0"] = 0.3175
            hd.attrs["OmegaLambda"] = 0.6825
            hd.attrs["HubbleParam"] = 0.6711
            hd.attrs["MassTable"] = np.array([0, 65.6, 0, 0, 0, 0], dtype=np.float64)
            hd.attrs["NumPart_ThisFile"] = np.array([0, b - a, 0, 0, 0, 0], dtype=np.int32)
            hd.attrs["NumPart_Total"] = np.array([0, n, 0, 0, 0, 0], dtype=np.uint32)
            hd.attrs["NumPart_Total_HighWord"] = np.zeros(6, dtype=np.uint32)
            hd.attrs["NumFilesPerSnapshot"] = np.int32(nfiles)
            for flag in ("Flag_Sfr", "Flag_Cooling", "Flag_Feedback", "Flag_Metals",
                         "Flag_StellarAge", "Flag_DoublePrecision"):
                hd.attrs[flag] = np.int32(0)
            g = h.create_group("PartType1")
            g["Coordinates"] = pos[a:b]
            g["Velocities"] = vel[a:b]
            g["ParticleIDs"] = ids[a:b]


def write_gadget1(path, pos, vel, ids):
    """Gadget format I: Fortran records of the 256-byte header, POS, VEL, ID."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = len(pos)
    hdr = bytearray(256)
    np.frombuffer(hdr, np.int32, 6, 0)[:] = [0, n, 0, 0, 0, 0]
    np.frombuffer(hdr, np.float64, 6, 24)[:] = [0, 65.6, 0, 0, 0, 0]
    np.frombuffer(hdr, np.float64, 2, 72)[:] = [1.0, 0.0]           # time, redshift
    np.frombuffer(hdr, np.uint32, 6, 96)[:] = [0, n, 0, 0, 0, 0]     # nall
    np.frombuffer(hdr, np.int32, 1, 124)[:] = [1]                    # numfiles
    np.frombuffer(hdr, np.float64, 4, 128)[:] = [BOX * 1000.0, 0.3175, 0.6825, 0.6711]

    def record(f, data):
        b = bytes(data)
        np.array([len(b)], np.int32).tofile(f)
        f.write(b)
        np.array([len(b)], np.int32).tofile(f)
    with open(path, "wb") as f:
        record(f, hdr)
        record(f, pos.tobytes())
        record(f, vel.tobytes())
        record(f, ids.tobytes())


def write_gadget2(folder, pos, vel, ids, nfiles=2):
    """Gadget format II (each block preceded by a record with its 4-character
    label) split over nfiles files snap_004.0, snap_004.1, ..."""
    os.makedirs(folder, exist_ok=True)
    n = len(pos)
    cut = np.linspace(0, n, nfiles + 1).astype(int)

    def record(f, data):
        b = bytes(data)
        np.array([len(b)], np.int32).tofile(f)
        f.write(b)
        np.array([len(b)], np.int32).tofile(f)

    def block(f, label, data):
        record(f, label.ljust(4).encode() + np.array([len(bytes(data)) + 8], np.int32).tobytes())
        record(f, data)
    for i in range(nfiles):
        a, b = cut[i], cut[i + 1]
        hdr = bytearray(256)
        np.frombuffer(hdr, np.int32, 6, 0)[:] = [0, b - a, 0, 0, 0, 0]
        np.frombuffer(hdr, np.float64, 6, 24)[:] = [0, 65.6, 0, 0, 0, 0]
        np.frombuffer(hdr, np.float64, 2, 72)[:] = [1.0, 0.0]
        np.frombuffer(hdr, np.uint32, 6, 96)[:] = [0, n, 0, 0, 0, 0]
        np.frombuffer(hdr, np.int32, 1, 124)[:] = [nfiles]
        np.frombuffer(hdr, np.float64, 4, 128)[:] = [BOX * 1000.0, 0.3175, 0.6825, 0.6711]
        with open(os.path.join(folder, f"snap_004.{i}"), "wb") as f:
            block(f, "HEAD", hdr)
            block(f, "POS", pos[a:b].tobytes())
            block(f, "VEL", vel[a:b].tobytes())
            block(f, "ID", ids[a:b].tobytes())


def write_quijote_dir(folder, nsim=40):
    """A folder of Quijote-style text spectra DIR/<i>/Pk_m_z=0.txt whose shape
    depends on two parameters, and DIR/params.txt, for a small training run."""
    rng = np.random.default_rng(7)
    k = np.linspace(0.01, 0.5, 20)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "params.txt"), "w") as f:
        f.write("# Omega_m sigma_8\n")
        for i in range(nsim):
            om, s8 = 0.1 + 0.4 * rng.random(), 0.6 + 0.4 * rng.random()
            f.write(f"{om:.6f} {s8:.6f}\n")
            d = os.path.join(folder, str(i))
            os.makedirs(d, exist_ok=True)
            p = 2e4 * s8 ** 2 * (k / 0.05) ** (-1.0 - om) * (1 + 0.01 * rng.normal(size=k.size))
            np.savetxt(os.path.join(d, "Pk_m_z=0.txt"), np.stack([k, p], axis=1))


TRAIN_INI = """[data]
quijote_dir = txt
params = txt/params.txt
stats = pk
split = 0.7,0.15
[model]
hidden = 8
[train]
epochs = 5
batch = 8
lr = 3e-3
log_every = 0
[output]
model = model.h5
log = train.log
metrics = test.csv
"""


def main():
    out = sys.argv[1]
    pos, vel, ids = particles()
    write_hdf5(os.path.join(out, "suite", "0", "snapdir_004"), pos, vel, ids)
    write_gadget1(os.path.join(out, "gadget", "snap_004"), pos, vel, ids)
    write_gadget2(os.path.join(out, "gadget2", "snapdir_004"), pos, vel, ids)
    with open(os.path.join(out, "settings.json"), "w") as f:
        json.dump(SETTINGS, f)
    cli = os.environ["COSMOTL"]
    mpirun = os.environ["MPIRUN_SH"]
    opts = ["--stats", "pk,mk,bk", "--grid", str(GRID), "--bk-dk", "2", "--bk-kmax", "8",
            "--mark-R", "10", "--mark-p", "2", "--mark-ds", "0.25"]
    # a suite table of the two-row suite (simulation 1 missing) and a model
    with open(os.path.join(out, "suite", "params.txt"), "w") as f:
        f.write("# Omega_m sigma_8\n0.3175 0.834\n0.3 0.8\n")
    write_quijote_dir(os.path.join(out, "txt"))
    with open(os.path.join(out, "train.ini"), "w") as f:
        f.write(TRAIN_INI)
    subprocess.run([cli, "train", "train.ini"], check=True, cwd=out, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    for ranks in (1, 2):
        subprocess.run([mpirun, str(ranks), cli, "summarize", os.path.join(out, "suite", "0"),
                        *opts, "--out", os.path.join(out, f"out{ranks}")], check=True,
                       stdout=subprocess.DEVNULL)
    # other settings: TSC, interlacing, multipoles along x, bin width 2, shot noise
    subprocess.run([mpirun, "1", cli, "summarize", os.path.join(out, "suite", "0"), "--grid",
                    str(GRID), "--mas", "tsc", "--interlace", "--los", "x", "--bin-width", "2",
                    "--shot-noise", "--out", os.path.join(out, "out_tsc")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([cli, "gather", os.path.join(out, "out1"), "--out", os.path.join(out, "table.h5"),
                    "--params", os.path.join(out, "suite", "params.txt")], check=True,
                   stdout=subprocess.DEVNULL)

    # a model trained on a gathered table (so that its provenance records the
    # k of every input, k <= 0.3 h/Mpc): 30 copies of the summary with P(k)
    # scaled by two made-up parameters
    rng = np.random.default_rng(5)
    many = os.path.join(out, "many")
    os.makedirs(many, exist_ok=True)
    with open(os.path.join(out, "many_params.txt"), "w") as f:
        f.write("# Omega_m sigma_8\n")
        for i in range(30):
            om, s8 = 0.1 + 0.4 * rng.random(), 0.6 + 0.4 * rng.random()
            dst = os.path.join(many, f"{i}.h5")
            shutil.copy(os.path.join(out, "out1", "0.h5"), dst)
            with h5py.File(dst, "r+") as h:
                p = h["pk/P0"]
                p[...] = p[...] * s8 ** 2 * (1 + om * np.linspace(0, 1, p.shape[0]))
            f.write(f"{om:.6f} {s8:.6f}\n")
    subprocess.run([cli, "gather", many, "--out", os.path.join(out, "many.h5"), "--params",
                    os.path.join(out, "many_params.txt")], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "train_table.ini"), "w") as f:
        f.write(TRAIN_TABLE_INI)
    subprocess.run([cli, "train", "train_table.ini"], check=True, cwd=out,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # and one on two statistics of it (P(k) then M(k), k <= 0.2 h/Mpc each)
    with open(os.path.join(out, "train_pkmk.ini"), "w") as f:
        f.write(TRAIN_TABLE_INI.replace("stats = pk", "stats = pk,mk")
                .replace("k_max = 0.3", "k_max = 0.2").replace("_table.", "_pkmk."))
    subprocess.run([cli, "train", "train_pkmk.ini"], check=True, cwd=out,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


TRAIN_TABLE_INI = """[data]
suite = many.h5
stats = pk
k_max = 0.3
split = 0.7,0.15
[model]
hidden = 8
[train]
epochs = 3
batch = 8
log_every = 0
[output]
model = model_table.h5
log = train_table.log
metrics = test_table.csv
"""


if __name__ == "__main__":
    main()
