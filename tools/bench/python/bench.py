"""Driver of tools/bench/python/run: whole-process timings of
`cosmotl summarize` and of a Python script doing read_snapshot + Pk.

    bench.py SNAPDIR GRID REPS COSMOTL MPIRUN_SH WORKDIR RANKS...
"""
import os
import resource
import subprocess
import sys
import time

import h5py
import numpy as np

SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
c0 = time.process_time()
import cosmotl
comm = None
if int(sys.argv[3]) > 1:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
t1 = time.perf_counter()
snap = cosmotl.read_snapshot(sys.argv[1], comm=comm)
t2 = time.perf_counter()
r = cosmotl.Pk(snap["pos"], snap["header"]["box"], int(sys.argv[2]), comm=comm)
t3 = time.perf_counter()
c3 = time.process_time()
if comm is None or comm.Get_rank() == 0:
    np.save(sys.argv[4], r.P0)
    print(f"wall: import {t1 - t0:.3f} read {t2 - t1:.3f} Pk {t3 - t2:.3f}; cpu from import "
          f"cosmotl to the result {c3 - c0:.3f}")
"""


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout + out.stderr


def main():
    snap, grid, reps, cli, mpirun, work = sys.argv[1:7]
    grid, reps = int(grid), int(reps)
    script = os.path.join(work, "pk.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    for ranks in map(int, sys.argv[7:]):
        res = {"cli": [], "python": []}
        inner = []
        for rep in range(reps):
            out = os.path.join(work, f"out{ranks}_{rep}")
            res["cli"].append(timed([mpirun, str(ranks), cli, "summarize", snap, "--grid",
                                     str(grid), "--out", out])[:2])
            npy = os.path.join(work, f"p{ranks}_{rep}.npy")
            w, c, text = timed([mpirun, str(ranks), sys.executable, script, snap, str(grid),
                                str(ranks), npy])
            res["python"].append((w, c))
            inner.append(text.strip().splitlines()[-1])
            res.setdefault("bind", []).append(float(inner[-1].split()[-1]))
            with h5py.File(os.path.join(out, "sim.h5") if os.path.exists(
                    os.path.join(out, "sim.h5")) else os.path.join(out, "0.h5"), "r") as f:
                same = f["pk/P0"][...].tobytes() == np.load(npy).tobytes()
            if not same:
                print(f"ranks {ranks}: Python P(k) differs from the CLI's", file=sys.stderr)
                sys.exit(1)
        cw, cc = (min(x[i] for x in res["cli"]) for i in (0, 1))
        pw, pc = (min(x[i] for x in res["python"]) for i in (0, 1))
        print(f"ranks {ranks}, grid {grid}: cosmotl summarize wall {cw:.2f} s cpu {cc:.2f} s | "
              f"python read_snapshot+Pk wall {pw:.2f} s cpu {pc:.2f} s | python/cli wall "
              f"{pw / cw:.3f} cpu {pc / cc:.3f} (best of {reps}); P(k) bit-identical")
        if ranks == 1:
            b = min(res["bind"])
            print(f"ranks 1: python CPU from `import cosmotl` (MPI start-up) to the result "
                  f"{b:.2f} s vs the whole cosmotl summarize process {cc:.2f} s: "
                  f"{b / cc:.3f}; the interpreter and NumPy import add "
                  f"{pc - b:.2f} s CPU")
        for line in inner:
            print(f"  python in-process: {line}")


if __name__ == "__main__":
    main()
