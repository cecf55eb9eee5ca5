#!/bin/bash
# `cosmotl d3m` end to end on a tiny paired suite (32^3 particles in 128 Mpc/h,
# 3 PM steps; 3 LCDM + 3 M_nu = 0.4 eV simulations).   d3m.sh CASE
#   pipeline  pairs (3 files; a second run skips them) -> train (2 ranks, sub-cubes
#             with a context margin) -> eval (tables, summary with a verdict line) ->
#             apply (a Quijote-layout snapshot that summarize reads)
#   ranks     whole-box training on 1 and 2 ranks gives the same parameters
#             (h5diff, 1e-4 relative: float sums in another order, 3 Adam steps)
#   resume    2 steps + resume to 4 == 4 uninterrupted (bitwise); SIGTERM writes
#             the checkpoint and exits 3, a rerun finishes
#   bad       mismatched pairs (seed, particle count, box, M_nu in the LCDM suite),
#             a model applied to another resolution or box, bad configs: exit 1
#             and one line naming the file and the problem, no output written
set -u
: "${COSMOTL:?}"
case_=${1:?case}
. "$(dirname "$0")/../common.sh" "d3m_$case_"
mpi() { timeout -k 5 400 mpirun --oversubscribe --bind-to none -np "$@"; }

suite() { # suite FILE NAME M_NU [key=value sed edits...]
  local f=$1 name=$2 mnu=$3
  shift 3
  cat >"$f" <<EOC
[suite]
name = $name
out = $name
n_sims = 3
sampling = fixed
seed = 500
[params]
Omega_m = 0.3175
Omega_b = 0.049
h = 0.6711
n_s = 0.9624
sigma_8 = 0.834
M_nu = $mnu
[cosmology]
transfer = eh98
n_nu = 3
[sim]
particles = 32
box = 128
mesh_factor = 1
steps = 3
z_init = 19
redshifts = 0
nfiles = 1
EOC
  for e in "$@"; do sed -i "$e" "$f"; done
}
d3m_cfg() { # d3m_cfg FILE [extra sed edits]
  local f=$1
  shift
  cat >"$f" <<EOC
[data]
lcdm = lcdm.ini
mnu = mnu.ini
pairs = pairs
train = 0:2
test = 2:3
[net]
base = 4
depth = 1
blocks = 1
[train]
steps = 3
batch = 2
lr = 1e-3
crop = 16
margin = 4
checkpoint = model.h5
checkpoint_every = 1
[eval]
out = eval
EOC
  for e in "$@"; do sed -i "$e" "$f"; done
}
simulate_pair() {
  suite lcdm.ini lcdm 0
  suite mnu.ini mnu 0.4
  run 0 "simulate lcdm" "$COSMOTL" --quiet simulate lcdm.ini
  run 0 "simulate mnu" "$COSMOTL" --quiet simulate mnu.ini
}
expect_error() { # expect_error WHAT PATTERN CMD...
  local what=$1 pat=$2
  shift 2
  "$@" >out.txt 2>err.txt
  local rc=$?
  [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1"
  [ "$(grep -c 'error' err.txt)" = 1 ] || { fail "$what: not one error line"; cat err.txt >&2; }
  grep -q -- "$pat" err.txt || { fail "$what: message lacks '$pat'"; cat err.txt >&2; }
}

case $case_ in
pipeline)
  simulate_pair
  d3m_cfg d3m.ini
  run 0 "pairs" "$COSMOTL" d3m pairs d3m.ini
  for i in 0 1 2; do [ -f pairs/pair_$i.h5 ] || fail "pairs/pair_$i.h5 missing"; done
  h5ls pairs/pair_0.h5 | grep -q 'zeldovich *Dataset {3, 32, 32, 32}' || fail "pair file lacks the 3 x 32^3 Zel'dovich field"
  run 0 "pairs again" "$COSMOTL" d3m pairs d3m.ini
  grep -q "0 written, 3 already there" err.txt out.txt || fail "second pairs run did not skip"
  run 0 "train 2 ranks" mpi 2 "$COSMOTL" d3m train d3m.ini
  [ -f model.h5 ] || fail "no model"
  h5ls model.h5/d3m >/dev/null 2>&1 || h5ls -r model.h5 | grep -q '^/d3m' || fail "model has no /d3m group"
  run 0 "eval" "$COSMOTL" d3m eval d3m.ini
  for f in tk pdf bk voids summary; do [ -s eval/$f.txt ] || fail "eval/$f.txt missing"; done
  grep -q '^verdict: T(k) .* r(k) .*both baselines' eval/summary.txt || fail "no verdict"
  # every T and r finite and positive; 3 angles at least in the bispectrum table
  awk '!/^#/ { for (i = 3; i <= NF; i++) if (!($i > 0) || $i > 100) bad++ } END { exit bad > 0 }' eval/tk.txt || fail "non-finite or non-positive T/r"
  [ "$(grep -vc '^#' eval/bk.txt)" -ge 3 ] || fail "fewer than 3 bispectrum angles"
  # the growth baseline follows the target better than the raw LCDM input (physics)
  awk '$1 == "growth" { g = $2 } $1 == "lcdm" { l = $2 } END { exit !(g < l) }' eval/summary.txt || fail "growth baseline not closer than the LCDM input in T(k)"
  run 0 "apply" mpi 2 "$COSMOTL" d3m apply model.h5 lcdm/2/snapdir_004 --out pred
  [ -f pred/snapdir_004/snap_004.0.hdf5 ] || fail "apply wrote no snapshot"
  run 0 "summarize the prediction" "$COSMOTL" summarize pred/snapdir_004 --grid 32 --out sum
  ls sum/*.h5 >/dev/null 2>&1 || fail "summarize wrote no summary of the prediction"
  ;;
ranks)
  simulate_pair
  d3m_cfg d3m.ini 's/^crop = 16/crop = 32/' 's/^margin = 4/margin = 0/' 's/^checkpoint = model.h5/checkpoint = m1.h5/'
  d3m_cfg d3m2.ini 's/^crop = 16/crop = 32/' 's/^margin = 4/margin = 0/' 's/^checkpoint = model.h5/checkpoint = m2.h5/'
  run 0 "pairs" "$COSMOTL" d3m pairs d3m.ini
  run 0 "train 1 rank" "$COSMOTL" d3m train d3m.ini
  run 0 "train 2 ranks" mpi 2 "$COSMOTL" d3m train d3m2.ini
  h5diff --relative=1e-4 m1.h5 m2.h5 /params /params || fail "1 and 2 ranks give different parameters"
  ;;
resume)
  simulate_pair
  d3m_cfg a.ini 's/^steps = 3/steps = 4/' 's/^checkpoint = model.h5/checkpoint = a.h5/'
  d3m_cfg b.ini 's/^steps = 3/steps = 4/' 's/^checkpoint = model.h5/checkpoint = b.h5/'
  run 0 "pairs" "$COSMOTL" d3m pairs a.ini
  run 0 "uninterrupted" "$COSMOTL" d3m train a.ini
  run 0 "first 2 steps" "$COSMOTL" d3m train b.ini --steps 2
  run 0 "resumed" "$COSMOTL" d3m train b.ini
  grep -q "resuming from b.h5 at step 2" err.txt out.txt || fail "no resume message"
  h5diff a.h5 b.h5 /params /params || fail "resumed parameters differ from uninterrupted ones"
  h5diff a.h5 b.h5 /adam_m2 /adam_m2 || fail "resumed Adam moments differ"
  # SIGTERM: checkpoint written, exit 3; a rerun completes
  d3m_cfg c.ini 's/^steps = 3/steps = 100000/' 's/^checkpoint = model.h5/checkpoint = c.h5/'
  "$COSMOTL" d3m train c.ini >out.txt 2>err.txt &
  pid=$!
  for _ in $(seq 1 600); do [ -f c.h5 ] && break; sleep 0.2; done
  kill -TERM $pid
  wait $pid
  rc=$?
  [ "$rc" = 3 ] || { fail "SIGTERM: exit $rc, expected 3"; cat err.txt >&2; }
  grep -q "interrupted at step" err.txt out.txt || fail "SIGTERM: no message"
  [ -f c.h5 ] && ! ls c.h5.part* >/dev/null 2>&1 || fail "SIGTERM: checkpoint missing or partial file left"
  sed -i 's/^steps = 100000/steps = 3/' c.ini
  run 0 "rerun after SIGTERM" "$COSMOTL" d3m train c.ini
  ;;
bad)
  simulate_pair
  suite mnu-seed.ini mnu 0.4 's/^seed = 500/seed = 501/'
  suite mnu-np.ini mnu 0.4 's/^particles = 32/particles = 16/'
  suite mnu-box.ini mnu 0.4 's/^box = 128/box = 100/'
  suite lcdm-nu.ini lcdm 0.1
  suite mnu-om.ini mnu 0.4 's/^Omega_m = 0.3175/Omega_m = 0.3/'
  for v in seed:seeds np:"particle counts" box:boxes om:"Omega_m"; do
    d3m_cfg bad.ini "s/^mnu = mnu.ini/mnu = mnu-${v%%:*}.ini/"
    expect_error "pair with other ${v%%:*}" "${v#*:}" "$COSMOTL" d3m pairs bad.ini
  done
  d3m_cfg bad.ini 's/^lcdm = lcdm.ini/lcdm = lcdm-nu.ini/'
  expect_error "LCDM suite with M_nu" "needs 0" "$COSMOTL" d3m pairs bad.ini
  [ ! -e pairs ] || [ -z "$(ls pairs)" ] || fail "mismatched pairs wrote files"
  d3m_cfg bad.ini 's/^train = 0:2/train = 0:3/'
  expect_error "train and test overlap" "overlap" "$COSMOTL" d3m pairs bad.ini
  d3m_cfg bad.ini 's/^crop = 16/crop = 15/'
  expect_error "crop not a multiple" "multiple of 2^depth" "$COSMOTL" d3m train bad.ini
  d3m_cfg bad.ini 's/^steps = 3/steps = 2/'
  expect_error "no pair files yet" "pair_0.h5" "$COSMOTL" d3m train bad.ini
  run 0 "pairs" "$COSMOTL" d3m pairs bad.ini
  run 0 "train" "$COSMOTL" d3m train bad.ini
  # a model applied to a snapshot of another resolution or box
  suite other.ini other 0 's/^particles = 32/particles = 16/'
  suite otherbox.ini otherbox 0 's/^box = 128/box = 100/'
  run 0 "simulate 16^3" "$COSMOTL" --quiet simulate other.ini
  run 0 "simulate box 100" "$COSMOTL" --quiet simulate otherbox.ini
  expect_error "apply to 16^3" "trained on 32^3" "$COSMOTL" d3m apply model.h5 other/0/snapdir_004 --out p1
  expect_error "apply to another box" "trained on 128 Mpc/h" "$COSMOTL" d3m apply model.h5 otherbox/0/snapdir_004 --out p2
  [ ! -e p1/snapdir_004 ] && [ ! -e p2/snapdir_004 ] || fail "apply wrote output after an error"
  expect_error "apply a non-model" "not a D3M model" "$COSMOTL" d3m apply pairs/pair_0.h5 lcdm/0/snapdir_004 --out p3
  run 2 "apply without --out" "$COSMOTL" d3m apply model.h5 lcdm/0/snapdir_004
  run 2 "unknown verb" "$COSMOTL" d3m frobnicate x.ini
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
finish "d3m $case_"
