"""cosmotl.Pk against Pylians' MAS_library.MA + Pk_library.Pk on the same
particles, in one Python process, CPU seconds (time.process_time: comparable
on a loaded machine, unlike wall time), one thread each, alternating, best of
REPS; and how far the two spectra agree.

    PYTHONPATH=build/python:PYLIANS/library /usr/bin/python3 \\
        tools/bench/python/vs_pylians.py SNAPDIR [GRID] [REPS]

Pylians (https://github.com/franciscovillaescusa/Pylians3) is not a Debian
package; build it from its source outside the repository. Both read the same
positions (cosmotl.read_snapshot, float32 Mpc/h); the read is not timed.
Conventions differ: Pylians' Pk bins |k| in bins of kF from kF/2 with the DC
mode excluded and counts full-space modes, cosmotl uses the released Quijote
binning (floor(|n|), half-space counts); the comparison interpolates Pylians'
P(k) to cosmotl's k and reports the relative difference over k < k_Nyquist/2.
"""
import sys
import time

import numpy as np

import cosmotl

try:
    import MAS_library as MASL
    import Pk_library as PKL
except ImportError:
    sys.exit("vs_pylians.py: Pylians (MAS_library, Pk_library) is not importable; add its "
             "library folder to PYTHONPATH")


def main():
    snapdir = sys.argv[1]
    grid = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    snap = cosmotl.read_snapshot(snapdir)
    pos, box = snap["pos"], snap["header"]["box"]
    t_ct, t_py, t_ma, t_pk = [], [], [], []
    for _ in range(reps):
        c0 = time.process_time()
        r = cosmotl.Pk(pos, box, grid, mas="CIC", threads=1)
        c1 = time.process_time()
        delta = np.zeros((grid, grid, grid), dtype=np.float32)
        MASL.MA(pos, delta, box, "CIC", verbose=False)
        delta /= np.mean(delta, dtype=np.float64)
        delta -= 1.0
        c2 = time.process_time()
        p = PKL.Pk(delta, box, axis=0, MAS="CIC", threads=1, verbose=False)
        c3 = time.process_time()
        del delta
        t_ct.append(c1 - c0)
        t_py.append(c3 - c1)
        t_ma.append(c2 - c1)
        t_pk.append(c3 - c2)
    kny = np.pi * grid / box
    sel = r.k < kny / 2
    ppy = np.interp(r.k[sel], p.k3D, p.Pk[:, 0])
    rel = np.abs(r.P0[sel] / ppy - 1)
    print(f"{len(pos)} particles, grid {grid}, box {box:g}, CIC, 1 thread, CPU s best of {reps}: "
          f"cosmotl.Pk {min(t_ct):.2f} (kept meshes after the first call; first "
          f"{t_ct[0]:.2f}) | Pylians MA + Pk {min(t_py):.2f} (MA {min(t_ma):.2f}, Pk "
          f"{min(t_pk):.2f}) | Pylians / cosmotl {min(t_py) / min(t_ct):.2f}")
    print(f"P(k) agreement for k < k_Nyq/2 ({sel.sum()} bins, Pylians interpolated to "
          f"cosmotl's k): median |rel diff| {np.median(rel):.2e}, max {rel.max():.2e} "
          f"(at k = {r.k[sel][np.argmax(rel)]:.4f} h/Mpc)")


if __name__ == "__main__":
    main()
