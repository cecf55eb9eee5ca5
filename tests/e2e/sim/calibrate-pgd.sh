#!/bin/bash
# tools/bench/sim/calibrate-pgd on a tiny setting (32^3 in 125 Mpc/h, the
# particle spacing of 256^3 in 1000 Mpc/h; 4 steps from z = 24), LH simulations
# 0 and 1, three alpha values, 2 ranks:
# - it runs and writes the per-simulation results and a fit;
# - it is faithful: P(k) of the PGD it applies offline at alpha = 0.01 equals
#   P(k) of `cosmotl simulate` with pgd_alpha = 0.01 summarized by `cosmotl
#   summarize` (relative 1e-6 below the grid's Nyquist frequency: the two paint
#   and displace the same particles in another order on the ranks, and the
#   offline step starts from positions that went through the snapshot's float
#   kpc/h; measured 1e-7; the corner bins beyond the Nyquist frequency hold a
#   shot-noise-subtracted P near 0, where relative differences mean nothing);
#   at alpha = 0 the two agree to 1e-12;
# - simulations outside LH 0-99 are refused with one line and no results;
# - --fit s8lin (alpha0 max(0, 1 + L (sigma8 - 0.8))) refits the kept results
#   without simulating again and prints the [sim] lines of that form;
# - --evaluate A0,P,Q,L runs on a held-out simulation and applies the law.
#   calibrate-pgd.sh
set -u
: "${CT_SOURCE_ROOT:?}" "${CT_BUILD_ROOT:?}" "${COSMOTL:?}"
. "$(dirname "$0")/../common.sh" e2e_calibrate_pgd
py=/usr/bin/python3
$py -c "import h5py, numpy" 2>/dev/null || { echo "SKIP: needs numpy, h5py"; exit 77; }
lh=$(ct_shared quijote-summaries/LH.h5)
table=$(ct_shared quijote-params/LH_params.txt)
[ -f "$lh" ] && [ -f "$table" ] || { echo "SKIP: needs $lh and $table"; exit 77; }
tool=$CT_SOURCE_ROOT/tools/bench/sim/calibrate-pgd

cat > tiny.ini <<INI
[suite]
name = tiny-lh
table = $table
seed = 0
[cosmology]
transfer = eh98
[sim]
particles = 32
box = 125
mesh_factor = 2
steps = 4
z_init = 24
force = deconv
pgd_alpha = 0.012
pgd_kl = 0.2
pgd_ks = 1.5
INI

run 0 "calibrate-pgd on LH 0, 1" $py "$tool" --quijote "$lh" --config tiny.ini --sims 0,1 \
  --alphas 0,0.01,0.02 --build "$CT_BUILD_ROOT" --work w --label t --keep
grep -q "^| 1 | 0.2139 | 0.8619 |" out.txt || { fail "per-simulation table"; cat out.txt >&2; }
grep -q "^\[sim\] lines (joint fit): pgd_alpha = " out.txt || { fail "[sim] lines"; cat out.txt >&2; }

# the simulator's own PGD at alpha = 0.01 for simulation 0, and the alpha = 0
# snapshot the tool kept, both through summarize
sed 's/^pgd_alpha = 0.012/pgd_alpha = 0.01/' tiny.ini > a01.ini
printf 'redshifts = 0\nnfiles = 1\n' >> a01.ini
run 0 "simulate at alpha 0.01" "$mpirun_sh" 2 "$COSMOTL" simulate a01.ini --out s01 --range 0:1
run 0 "summarize alpha 0.01" "$mpirun_sh" 2 "$COSMOTL" summarize s01/0 --stats pk --mas cic \
  --grid 64 --shot-noise --out p01
run 0 "summarize alpha 0" "$mpirun_sh" 2 "$COSMOTL" summarize w/t-sims/0 --stats pk --mas cic \
  --grid 64 --shot-noise --out p00
run 0 "offline PGD equals the simulator's" $py - <<'PY'
import json, sys
import h5py
import numpy as np
r = json.load(open("w/t.json"))
assert [s["index"] for s in r["sims"]] == [0, 1], r["sims"]
assert r["alphas"] == [0.0, 0.01, 0.02]
assert r["fit"] is None or "pgd_alpha" in r["fit"]
j = r["fit_joint"]  # the [sim] lines: always a config the simulator accepts
assert 0 < j["pgd_alpha"] <= 0.02 and abs(j["pgd_alpha_om_slope"]) <= 5, j
assert j["pgd_alpha_s8_slope"] == 0, j  # two simulations: ln alpha0 and the Omega_m slope only
s = r["sims"][0]
kN = np.pi * 64 / 125.0
bad = 0
for a, d, tol in ((0.01, "p01", 1e-6), (0.0, "p00", 1e-12)):
    P = np.array(s["P"][r["alphas"].index(a)])
    k = np.array(s["k_sim"])
    with h5py.File(d + "/0.h5", "r") as f:
        k2, P2 = f["pk/k"][:], f["pk/P0"][:]
    if len(k) != len(k2) or np.max(np.abs(k / k2 - 1)) > 1e-12:
        print("alpha %g: bins differ" % a); bad += 1; continue
    sel = k < kN
    rel = np.max(np.abs(P[sel] / P2[sel] - 1))
    print("alpha %g: max relative difference %.2e below k_N (%d bins)" % (a, rel, sel.sum()))
    bad += rel > tol
# PGD did something: alpha 0.01 is not alpha 0
P0, P1 = np.array(s["P"][0]), np.array(s["P"][1])
sel = (np.array(s["k_sim"]) > 0.3) & (np.array(s["k_sim"]) < 1.0)
if not np.all(P1[sel] > P0[sel]):
    print("PGD did not raise P(k) at 0.3-1 h/Mpc"); bad += 1
sys.exit(1 if bad else 0)
PY
cat out.txt

# the linear form: the same work folder and label reuse both simulations
run 0 "refit with --fit s8lin" $py "$tool" --quijote "$lh" --config tiny.ini --sims 0,1 \
  --alphas 0,0.01,0.02 --build "$CT_BUILD_ROOT" --work w --label t --fit s8lin
grep -q "^\[sim\] lines (joint fit): pgd_alpha = [0-9.]*, pgd_alpha_s8_linear = " out.txt ||
  { fail "s8lin [sim] lines"; cat out.txt >&2; }
grep -q "simulate" w/t.log && [ "$(grep -c 'cosmotl simulate' w/t.log)" -gt 2 ] && fail "s8lin refit simulated again"
$py -c "
import json, sys
r = json.load(open('w/t.json')); j = r['fit_joint']
ok = j['form'] == 's8lin' and 0 < j['pgd_alpha'] <= 0.02 and abs(j['pgd_alpha_s8_linear']) <= 20
ok = ok and len(r['sims']) == 2 and j['pgd_alpha_om_slope'] == 0 and j['pgd_alpha_s8_slope'] == 0
sys.exit(0 if ok else 1)
" || fail "s8lin fit values"

# held-out simulations are refused: one line, exit 1, no results
run 1 "held-out simulation" $py "$tool" --quijote "$lh" --config tiny.ini --sims 99,100 \
  --alphas 0,0.01 --build "$CT_BUILD_ROOT" --work w2 --label t
grep -q "calibrate-pgd: simulation(s) 100 not among LH 0-99" err.txt || { fail "held-out message"; cat err.txt >&2; }
[ "$(wc -l < err.txt)" = 1 ] || fail "held-out message is not one line"
[ -e w2 ] && fail "a refused run left w2/"
# --evaluate checks a law on any simulation (nothing is calibrated): held-out 100
run 0 "evaluate a law on held-out 100" $py "$tool" --quijote "$lh" --config tiny.ini --sims 100 \
  --alphas 0,0.01 --evaluate 0.01,0.5,0,2 --build "$CT_BUILD_ROOT" --work w3 --label e
grep -q "^| 100 | 0.3133 | 0.9093 | 0.0120 |" out.txt || { fail "evaluate table (config alpha)"; cat out.txt >&2; }
$py -c "
import json, sys
s = json.load(open('w3/e.json'))['sims'][0]
want = 0.01 * (0.3133 / 0.3) ** 0.5 * (1 + 2 * (0.9093 - 0.8))
sys.exit(0 if abs(s['law_alpha'] / want - 1) < 1e-9 and s['law_alpha'] in s['alphas'] else 1)
" || fail "evaluate: law alpha"
grep -q "targets (±3%, ±5%, ±8%) on the means" out.txt || fail "evaluate: verdict line"
run 1 "one alpha" $py "$tool" --quijote "$lh" --config tiny.ini --sims 0 --alphas 0.01 \
  --build "$CT_BUILD_ROOT" --work w2
grep -q "alphas needs at least 2 values" err.txt || { fail "alpha grid message"; cat err.txt >&2; }
finish
