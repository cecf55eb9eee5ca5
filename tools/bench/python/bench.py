"""Driver of tools/bench/python/run: whole-process timings of
`cosmotl summarize` and of a Python script doing read_snapshot + Pk.

    bench.py SNAPDIR GRID REPS COSMOTL MPIRUN_SH WORKDIR RANKS...

A third process runs `cosmotl.Pk(SNAPDIR, grid=GRID)` (the library reads
the snapshot itself). Every process of the three runs is started under /usr/bin/time (inside mpirun,
so each rank reports its own user and system CPU seconds, peak resident
memory and minor page faults); the three alternate, REPS times each. Printed:
the median and the best of the wall times and their ratio, then per rank the
medians over the repetitions of user s, system s, peak MB and minor faults
(the fresh memory a process touches costs system time: compare the faults
and the system seconds, not only the wall clock, on a loaded machine); last,
in-process: the CLI's own seconds on the snapshot (its `--timing` line: read
to write) against Python's read_snapshot + Pk and the Pk call alone."""
import os
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
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
if comm is None or comm.Get_rank() == 0:
    np.save(sys.argv[4], r.P0)
    print(f"INPROC {t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""

SCRIPT_PATH = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
import cosmotl
comm = None
if int(sys.argv[3]) > 1:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
t1 = time.perf_counter()
r = cosmotl.Pk(sys.argv[1], grid=int(sys.argv[2]), comm=comm)
t2 = time.perf_counter()
if comm is None or comm.Get_rank() == 0:
    np.save(sys.argv[4], r.P0)
    print(f"INPROC {t1 - t0:.3f} 0 {t2 - t1:.3f}")
"""

TIME_FMT = "CTTIME %e %U %S %M %R"
WORK = [None]  # the work folder, set by main


def timed(cmd, ranks, mpirun):
    """Wall seconds of the whole run and per rank [user, sys, maxrss kB,
    minor faults] (from /usr/bin/time, one file per rank), and the output."""
    # each rank's /usr/bin/time writes its own file (ranks writing to one
    # stream can interleave their lines)
    prefix = os.path.join(WORK[0], "cttime")
    for f in os.listdir(WORK[0]):
        if f.startswith("cttime."):
            os.unlink(os.path.join(WORK[0], f))
    wrap = ['sh', '-c', 'f=$0; o=$1; shift; exec /usr/bin/time -f "$f" -o "$o.${OMPI_COMM_WORLD_RANK:-0}" "$@"',
            TIME_FMT, prefix]
    t = time.perf_counter()
    out = subprocess.run([mpirun, str(ranks)] + wrap + cmd,
                         check=False, capture_output=True, text=True)
    wall = time.perf_counter() - t
    text = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{text}")
    per = []
    for f in sorted(os.listdir(WORK[0])):
        if f.startswith("cttime."):
            with open(os.path.join(WORK[0], f)) as fh:
                per += [[float(v) for v in line.split()[2:6]] for line in fh
                        if line.startswith("CTTIME ")]
    if len(per) != ranks:
        sys.exit(f"expected {ranks} /usr/bin/time lines, got {len(per)}:\n{text}")
    per.sort(key=lambda r: -r[0] - r[1])  # busiest rank first
    return wall, per, text


def cli_inproc(text):
    """Seconds of rank 0's work on the snapshot (read, plan, exchange, paint,
    FFT, binning, write) from `summarize --timing`'s line "timing 0: ..."."""
    for line in text.splitlines():
        if "[rank 0]" in line and "timing 0:" in line:
            f = line.split("timing 0:")[1].split()
            return sum(float(f[i + 1]) for i in range(0, len(f) - 1, 2)
                       if f[i] in ("read", "plan", "exchange", "paint", "fft", "bin", "write"))
    sys.exit("summarize --timing printed no 'timing 0:' line for rank 0:\n" + text)


def med(values):
    return statistics.median(values)


def main():
    snap, grid, reps, cli, mpirun, work = sys.argv[1:7]
    grid, reps = int(grid), int(reps)
    WORK[0] = work
    script = os.path.join(work, "pk.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    script_path = os.path.join(work, "pk_path.py")
    with open(script_path, "w") as f:
        f.write(SCRIPT_PATH)
    for ranks in map(int, sys.argv[7:]):
        res = {"cli": [], "python": [], "pypath": []}
        inner, cli_inner = [], []
        for rep in range(reps):
            out = os.path.join(work, f"out{ranks}_{rep}")
            w, per, text = timed([cli, "summarize", snap, "--grid", str(grid), "--out", out,
                                  "--timing"], ranks, mpirun)
            res["cli"].append((w, per))
            cli_inner.append(cli_inproc(text))
            npy = os.path.join(work, f"p{ranks}_{rep}.npy")
            w, per, text = timed([sys.executable, script, snap, str(grid), str(ranks), npy],
                                 ranks, mpirun)
            res["python"].append((w, per))
            inner.append([float(v) for v in next(line for line in text.splitlines()
                                                 if line.startswith("INPROC ")).split()[1:]])
            npp = os.path.join(work, f"q{ranks}_{rep}.npy")
            w, per, _ = timed([sys.executable, script_path, snap, str(grid), str(ranks), npp],
                              ranks, mpirun)
            res["pypath"].append((w, per))
            h5 = os.path.join(out, "sim.h5")
            with h5py.File(h5 if os.path.exists(h5) else os.path.join(out, "0.h5"), "r") as f:
                cli_p0 = f["pk/P0"][...].tobytes()
            if cli_p0 != np.load(npy).tobytes():
                sys.exit(f"ranks {ranks}: Python P(k) differs from the CLI's")
            if cli_p0 != np.load(npp).tobytes():
                sys.exit(f"ranks {ranks}: Python Pk(path) differs from the CLI's")
        cw = [x[0] for x in res["cli"]]
        pw = [x[0] for x in res["python"]]
        print(f"ranks {ranks}, grid {grid}, {reps} reps: wall median cosmotl summarize "
              f"{med(cw):.2f} s, python read_snapshot+Pk {med(pw):.2f} s: python/cli "
              f"{med(pw) / med(cw):.3f} (best {min(cw):.2f} / {min(pw):.2f} s: "
              f"{min(pw) / min(cw):.3f}); P(k) bit-identical")
        qw = [x[0] for x in res["pypath"]]
        print(f"  python Pk(path) {med(qw):.2f} s: python/cli {med(qw) / med(cw):.3f} "
              f"(best {min(qw):.2f} s: {min(qw) / min(cw):.3f}); P(k) bit-identical")
        print("  per rank, medians over the reps (busiest rank first): user s, sys s, "
              "user+sys s, peak MB, minor faults")
        totals = {}
        for name in ("cli", "python", "pypath"):
            for r in range(ranks):
                u = med([x[1][r][0] for x in res[name]])
                s = med([x[1][r][1] for x in res[name]])
                rss = med([x[1][r][2] for x in res[name]]) / 1024
                flt = med([x[1][r][3] for x in res[name]])
                print(f"  {name:6s} rank {r}: user {u:6.2f}  sys {s:6.2f}  cpu {u + s:6.2f}  "
                      f"peak {rss:7.0f} MB  faults {flt:9.0f}")
            totals[name] = med([sum(p[0] + p[1] for p in x[1]) for x in res[name]])
        print(f"  cpu of all ranks (median): cli {totals['cli']:.2f} s, python "
              f"{totals['python']:.2f} s: python/cli {totals['python'] / totals['cli']:.3f}, "
              f"Pk(path) {totals['pypath']:.2f} s: {totals['pypath'] / totals['cli']:.3f}")
        imp, rd, pk = (med([x[i] for x in inner]) for i in range(3))
        print(f"  python rank 0 wall (median): imports {imp:.3f} s, read_snapshot {rd:.3f} s, "
              f"Pk {pk:.3f} s")
        ci = med(cli_inner)
        print(f"  in-process, rank 0 (median): CLI read + measure + write {ci:.3f} s; python "
              f"read_snapshot + Pk {rd + pk:.3f} s: {(rd + pk) / ci:.3f}; Pk call alone "
              f"(NumPy hand-over, measure) {pk:.3f} s: {pk / ci:.3f}")


if __name__ == "__main__":
    main()
