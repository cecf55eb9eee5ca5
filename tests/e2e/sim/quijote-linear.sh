#!/bin/bash
# tools/bench/sim/quijote-linear --offset on synthetic suites: 250 "LH" and 250
# "nwLH" cosmologies drawn in Quijote's ranges (nwLH with M_nu < 0.05 eV, w = -1),
# spectra = Quijote's shot noise + this project's linear P(k) x exp(g), with g a
# smooth function of k, sigma_8 and f_b shared by both suites, plus an injected
# excess e = 0.5 f_b^2 in the nwLH suite only. The tool must recover e as the nwLH
# residual of each f_b group (mean of e over the group's simulations, within 0.01:
# the cubic LH fit absorbs g but leaves a few 1e-3) and keep the LH control within
# 0.005 of zero; without --lh it must refuse --offset with one line.
# --held-out on a synthetic validate run of nwLH simulations 0-19 whose cosmotl/Quijote
# is exp(-e) (a simulator that follows the LH suite exactly) must give a mean
# measured/predicted of 1 within 0.01 in both bands (the group means of e over the
# other simulations differ from each simulation's own e by the group's spread).
#   quijote-linear.sh
set -u
: "${CT_SOURCE_ROOT:?}" "${CT_BUILD_ROOT:?}"
. "$(dirname "$0")/../common.sh" e2e_quijote_linear
py=/usr/bin/python3
$py -c "import h5py, numpy" 2>/dev/null || { echo "SKIP: needs numpy, h5py"; exit 77; }
[ -d "$CT_BUILD_ROOT/python/cosmotl" ] || { echo "SKIP: the Python package is not built"; exit 77; }
tool=$CT_SOURCE_ROOT/tools/bench/sim/quijote-linear
PYTHONPATH=$CT_BUILD_ROOT/python $py - <<'PY' || fail "writing the synthetic suites"
import h5py, numpy as np, cosmotl
rng = np.random.default_rng(3)
k = np.linspace(0.01, 0.5, 60)
shot = (1000.0 / 512.0) ** 3
def suite(path, nw):
    n = 250
    lo = np.array([0.1, 0.03, 0.5, 0.8, 0.6]); hi = np.array([0.5, 0.07, 0.9, 1.2, 1.0])
    par = lo + rng.random((n, 5)) * (hi - lo)
    if nw:
        par = np.column_stack([par, 0.05 * rng.random(n), -np.ones(n)])
    P, fbs = [], []
    for row in par:
        c = dict(zip(["Om", "Ob", "h", "ns", "s8", "Mnu", "w"], row))
        fb = c["Ob"] / (c["Om"] - c.get("Mnu", 0.0) / (93.14 * c["h"] ** 2))
        g = 2.0 * (c["s8"] - 0.8) * k + 0.1 * fb * k / 0.1 + (0.5 * fb * fb if nw else 0.0)
        P.append(cosmotl.linear_pk(c, k, 0.0) * np.exp(g) + shot)
        fbs.append(fb)
    with h5py.File(path, "w") as f:
        f["pk/P"] = np.array(P); f["pk/k"] = k; f["pk/nmodes"] = np.full(len(k), 100.0)
        f["params"] = par; f["status"] = np.ones(n, dtype=np.int8)
    return np.array(fbs)
suite("LH.h5", False)
fb = suite("nwLH.h5", True)
import json
json.dump({"sims": [{"index": i, "k": k.tolist(), "ratio": np.exp(-0.5 * fb[i] ** 2 + 0 * k).tolist(),
                     "bands": {}} for i in range(20)]}, open("run.json", "w"))
edges = [0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.8]
with open("expect.txt", "w") as f:
    for a, b in zip(edges[:-1], edges[1:]):
        s = (fb >= a) & (fb < b)
        if s.sum() >= 3:
            f.write("%.2f–%.2f %.5f\n" % (a, b, np.mean(0.5 * fb[s] ** 2)))
PY
run 0 "--offset on the synthetic suites" $py "$tool" --lh LH.h5 --nwlh nwLH.h5 --build "$CT_BUILD_ROOT" --offset
$py - <<'PY' || fail "recovered excess"
import re, sys
out = open("out.txt").read()
exp = dict(l.split() for l in open("expect.txt"))
rows = re.findall(r"^\| (\d\.\d\d–\d\.\d\d) \| \d+ \| \d+ \| (.*) \|$", out, re.M)
assert len(rows) >= 5, "only %d f_b rows in the offset table" % len(rows)
bad = 0
for grp, cells in rows:
    for cell in cells.split(" | "):
        m = re.match(r"([+-]\d\.\d+) ± \d\.\d+ \(([+-]\d\.\d+)\)", cell)
        assert m, "cannot read cell %r" % cell
        nwres, lhres = float(m.group(1)), float(m.group(2))
        if abs(nwres - float(exp[grp])) > 0.01 or abs(lhres) > 0.005:
            print("group %s: nwLH %+.3f (expected %+.3f), LH %+.3f" % (grp, nwres, float(exp[grp]), lhres))
            bad += 1
sys.exit(1 if bad else 0)
PY
run 0 "--held-out" $py "$tool" --lh LH.h5 --nwlh nwLH.h5 --build "$CT_BUILD_ROOT" --offset --held-out run.json
$py - <<'PY' || fail "held-out check of a simulator that follows the LH suite"
import re
m = re.search(r"mean over 20 simulations \(all\): .* ratio (\d\.\d+) ± \d\.\d+ / (\d\.\d+) ± ", open("out.txt").read())
assert m, "no mean line for the 20 simulations"
assert all(abs(float(x) - 1.0) < 0.01 for x in m.groups()), m.group(0)
PY
run 1 "--held-out without --offset" $py "$tool" --lh LH.h5 --nwlh nwLH.h5 --build "$CT_BUILD_ROOT" --held-out run.json
run 1 "--offset without --lh" $py "$tool" --nwlh nwLH.h5 --build "$CT_BUILD_ROOT" --offset
grep -q "needs both" err.txt || fail "one-line error for --offset without --lh"
finish
