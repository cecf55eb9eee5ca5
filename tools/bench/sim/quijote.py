"""Pieces shared by tools/bench/sim/validate and tools/bench/sim/calibrate-pgd:
suite configs as text (read, override keys, write), running a command with its
CPU time, and the ratio of a cosmotl P(k) to the real Quijote P(k) of the same
cosmology in the validation bands."""
import os
import resource
import subprocess
import sys
import time

import numpy as np

BANDS = [(0.05, 0.2), (0.2, 0.3), (0.3, 0.5), (0.1, 0.2), (0.3, 0.4), (0.4, 0.5)]
TARGETS = {(0.05, 0.2): 0.03, (0.2, 0.3): 0.05, (0.3, 0.5): 0.08}
# Quijote's released spectra keep their shot noise: 512^3 particles in 1000 Mpc/h
QUIJOTE_SHOT = (1000.0 / 512.0) ** 3


def die(tool, msg):
    print("%s: %s" % (tool, msg), file=sys.stderr)
    sys.exit(1)


def read_ini(path, tool="quijote"):
    """Sections as ordered lists of (key, value) lines; comments dropped."""
    secs, cur = {}, None
    with open(path) as f:
        for line in f:
            s = line.strip()
            if not s or s[0] in ";#":
                continue
            if s.startswith("["):
                cur = s.strip("[]").strip()
                secs.setdefault(cur, [])
                continue
            if cur is None or "=" not in s:
                die(tool, "%s: cannot read line '%s'" % (path, s))
            k, v = s.split("=", 1)
            secs[cur].append([k.strip(), v.strip()])
    return secs


def set_key(secs, sk, value, tool="quijote"):
    if "." not in sk:
        die(tool, "--set needs SECTION.KEY=VALUE (got '%s')" % sk)
    sec, key = sk.split(".", 1)
    lst = secs.setdefault(sec, [])
    for kv in lst:
        if kv[0] == key:
            kv[1] = value
            return
    lst.append([key, value])


def get_key(secs, sec, key, default=None):
    for k, v in secs.get(sec, []):
        if k == key:
            return v
    return default


def write_ini(secs, path):
    with open(path, "w") as f:
        for sec, kvs in secs.items():
            f.write("[%s]\n" % sec)
            for k, v in kvs:
                f.write("%s = %s\n" % (k, v))
            f.write("\n")


def prepare_config(config, sets, tool):
    """The config's sections with its table path made absolute and the
    --set SECTION.KEY=VALUE overrides applied; one z = 0 output in one file."""
    secs = read_ini(config, tool)
    table = get_key(secs, "suite", "table")
    if not table:
        die(tool, "%s: [suite] table is needed (Quijote's LH table)" % config)
    if not os.path.isabs(table):
        cfgdir = os.path.dirname(os.path.abspath(config))
        set_key(secs, "suite.table", os.path.normpath(os.path.join(cfgdir, table)), tool)
    for kv in sets or []:
        if "=" not in kv:
            die(tool, "--set needs SECTION.KEY=VALUE (got '%s')" % kv)
        k, v = kv.split("=", 1)
        set_key(secs, k, v, tool)
    set_key(secs, "sim.redshifts", "0", tool)
    set_key(secs, "sim.nfiles", "1", tool)
    return secs


def run(cmd, log, tool="quijote"):
    """Run cmd (output appended to log); returns (wall seconds, CPU seconds of
    user + system time of the command and its children)."""
    t0 = time.time()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        die(tool, "'%s' failed (exit %d); see %s" % (" ".join(cmd), rc, log))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return time.time() - t0, cpu


def sim_seconds(log):
    """The last 'simulation N done in X s' that simulate printed."""
    t = None
    with open(log) as f:
        for line in f:
            if "done in" in line and "simulation" in line:
                try:
                    t = float(line.split("done in")[1].split()[0])
                except (IndexError, ValueError):
                    pass
    return t


def load_quijote(path):
    """Quijote summaries (LH.h5): k, P with the shot noise 1/n_Q subtracted
    (one row per simulation), the parameter rows (None if absent)."""
    import h5py
    with h5py.File(path, "r") as q:
        qk, qP = q["pk/k"][:], q["pk/P"][:] - QUIJOTE_SHOT
        par = q["params"][:] if "params" in q else None
    return qk, qP, par


def ratio(k, P, box, qk, qPi):
    """P / P_Quijote bin by bin: at 1000 Mpc/h on Quijote's own bins, else on the
    simulation's bins inside Quijote's k range with Quijote's spectrum
    interpolated log-log. Returns (k, ratio)."""
    k, P = np.asarray(k), np.asarray(P)
    if abs(box - 1000.0) < 1e-9 and len(k) >= len(qk) and np.allclose(k[:len(qk)], qk, rtol=1e-4):
        return qk, P[:len(qk)] / qPi
    sel = (k >= qk[0]) & (k <= qk[-1])
    k, P = k[sel], P[sel]
    ref = np.exp(np.interp(np.log(k), np.log(qk), np.log(np.maximum(qPi, 1e-30))))
    return k, P / ref


def bands_of(k, r):
    """Plain means of the ratio over the bins of each band."""
    out = {}
    for lo, hi in BANDS:
        sel = (k >= lo) & (k < hi)
        out["%g-%g" % (lo, hi)] = float(np.mean(r[sel])) if sel.any() else float("nan")
    return out


def outside_box_share(build, par, box):
    """Share of the linear 1-D displacement variance (integral of P_m(k) dk, z = 0)
    carried by modes longer than the box (k < 2 pi / box), from the simulation's
    own linear spectrum (tools/bench/sim/linpk in the build folder; None without
    it). Low Omega_m h cosmologies put most of it there: a reduced box then lacks
    the bulk flows that smear the baryon troughs and move power to small scales,
    and cannot match Quijote's 1000 Mpc/h (nwLH 105: 0.75 of the variance at
    500 Mpc/h, 0.38 at 1000)."""
    exe = os.path.join(build, "tools", "bench", "sim", "linpk")
    if not os.path.exists(exe):
        return None
    kk = np.logspace(-4, 0, 800)
    cmd = [exe] + ["%.10g" % x for x in par[:5]] + ["eh98"]
    if len(par) >= 7:
        cmd += ["%.10g" % par[5], "%.10g" % par[6]]
    out = subprocess.run(cmd, input="\n".join("%.8g" % x for x in kk), capture_output=True,
                         text=True)
    if out.returncode != 0:
        return None
    P = np.array([float(l.split()[1]) for l in out.stdout.split("\n") if l.strip()])
    tot = np.trapz(P, kk)
    m = kk < 2 * np.pi / box
    return float(np.trapz(P[m], kk[m]) / tot)


def box_check(build, i, par, box):
    """outside_box_share of simulation i, with a warning printed when a reduced
    box misses more than 40% of the variance."""
    share = outside_box_share(build, par, box)
    if share is not None and box < 1000.0 - 1e-9 and share > 0.4:
        print("sim %d: WARNING: %.0f%% of the linear displacement variance is in modes longer "
              "than the %g Mpc/h box (%.0f%% at Quijote's 1000 Mpc/h): the reduced box "
              "cannot reproduce Quijote here" % (i, 100 * share, box,
              100 * (outside_box_share(build, par, 1000.0) or 0)), flush=True)
    return share
