#!/bin/bash
# tools/bench/sim/validate --replot redraws the docs block from a results file:
# with one simulation (no standard error: the table says "one sim." and the
# figure has no error bar; this crashed in matplotlib before) and with two
# (mean ± standard error). Synthetic ratios, no simulation is run.
#   validate-replot.sh
set -u
: "${CT_SOURCE_ROOT:?}"
. "$(dirname "$0")/../common.sh" e2e_validate_replot
py=/usr/bin/python3
$py -c "import h5py, matplotlib, numpy" 2>/dev/null || { echo "SKIP: needs numpy, h5py, matplotlib"; exit 77; }
v=$CT_SOURCE_ROOT/tools/bench/sim/validate
mkdir -p w docs
$py - <<'PY'
import json
import numpy as np
k = np.linspace(0.01, 0.5, 80)
def sim(i, a):
    return {"index": i, "k": k.tolist(), "ratio": (a + 0.1 * k).tolist(),
            "bands": {b: a for b in ["0.05-0.2", "0.2-0.3", "0.3-0.5", "0.1-0.2", "0.3-0.4", "0.4-0.5"]},
            "sim_seconds": 10.0, "wall_seconds": 11.0, "cpu_seconds": 20.0, "load": 1.0,
            "outside_box_share": None}
base = {"config": "configs/suites/quijote-lh-256.ini", "set": [], "particles": 32, "box": 1000.0,
        "grid": 64, "ranks": 2}
json.dump(dict(base, label="one", sims=[sim(100, 1.01)]), open("w/one.json", "w"))
json.dump(dict(base, label="two", sims=[sim(100, 1.00), sim(101, 1.02)]), open("w/two.json", "w"))
PY
touch Q.h5
echo "# doc" > docs/v.md
run 0 "replot of one simulation" $py "$v" --quijote Q.h5 --replot --work w --label one --range 100:101 --doc docs/v.md
grep -q "1.010\*\* (one sim.)" docs/v.md || fail "one-simulation table row"
[ -s docs/validation/quijote_one.png ] || fail "one-simulation figure"
run 0 "replot of two simulations" $py "$v" --quijote Q.h5 --replot --work w --label two --range 100:102 --doc docs/v.md
grep -q "1.010 ± 0.010" docs/v.md || fail "two-simulation mean ± standard error"
grep -q "quijote:one" docs/v.md || fail "the first block is kept"
grep -q -- "--quijote QUIJOTE/Q.h5" docs/v.md || fail "command names the Quijote file"
run 1 "replot without results" $py "$v" --quijote Q.h5 --replot --work w --label none --range 100:101
finish
