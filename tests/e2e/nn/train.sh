#!/bin/bash
# `cosmotl train` and `cosmotl inspect MODEL` end to end on a small synthetic suite
# (tests/e2e/nn/make_suite.c).   train.sh MAKE_SUITE CASE
#   basic     suite table -> model, log, metrics; inspect describes the model
#   ranks     the same config on 2 ranks gives the same network (h5diff, 1e-9 rel)
#   quijote   a folder of Pk_m_z=0.txt files + params file gives the same data
#   transfer  pretrain with a dummy output, fine-tune with every transfer mode
#   resume    stopped after 3 epochs and resumed == uninterrupted (bitwise weights)
#   sigterm   SIGTERM mid-run: checkpoint, exit 143 in time; resumed == uninterrupted (cmp)
#   search    TPE search with pruning on 2 ranks writes a search log and the best model
#   provenance  model provenance: inspect shows it, explain/cka/fine-tuning check it
#   bad       bad configs and inputs fail with one line naming the file; no output
set -u
: "${COSMOTL:?}"
make_suite=$(readlink -f "${1:?make_suite}")
case_=${2:?case}
work=$(mktemp -d /tmp/ct_train_XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
run() { # run NP ARGS... (output in out.txt / err.txt)
  np=$1; shift
  if [ "$np" = 1 ]; then "$COSMOTL" "$@" >out.txt 2>err.txt
  else timeout -k 5 200 mpirun --oversubscribe --bind-to none -np "$np" "$COSMOTL" "$@" >out.txt 2>err.txt; fi
}
expect_ok() { # expect_ok DESCRIPTION NP ARGS...
  what=$1; shift
  run "$@" || { fail "$what: exit $?"; cat out.txt err.txt >&2; }
}
"$make_suite" suite.h5 txt 150 3 || { echo "FAIL: fixtures"; exit 1; }

base_config() { # base_config FILE [extra lines...]
  f=$1; shift
  cat >"$f" <<EOC
[data]
suite = suite.h5
stats = pk
split = 0.7,0.15
[model]
hidden = 16,16
dropout = 0.1
[train]
epochs = 40
batch = 16
lr = 3e-3
weight_decay = 1e-4
patience = 15
log_every = 0
[output]
model = out/model.h5
log = out/train.log
metrics = out/test.csv
EOC
  for l in "$@"; do printf '%s\n' "$l" >>"$f"; done
}
r2_of() { awk -F, -v t="$1" '$1 == t { print $4 }' "$2"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

case $case_ in
basic)
  mkdir -p out
  base_config a.ini
  expect_ok "train" 1 train a.ini
  [ -f out/model.h5 ] || fail "no model written"
  # log: header + one line per epoch
  n=$(grep -vc '^#' out/train.log); [ "$n" -ge 5 ] || fail "training log has $n epochs"
  # sigma_8 and Omega_m are in the spectra; h is not (R2 near 0)
  r2s=$(r2_of sigma_8 out/test.csv); r2m=$(r2_of Omega_m out/test.csv)
  ge "$r2s" 0.9 || fail "sigma_8 R2 = $r2s < 0.9"
  ge "$r2m" 0.8 || fail "Omega_m R2 = $r2m < 0.8"
  grep -q "simulations (104 train, 22 val, 23 test)" err.txt || fail "failed simulation not excluded"; 
  expect_ok "inspect" 1 inspect out/model.h5
  grep -q "20 -> 16 -> 16 -> 3" out.txt || fail "inspect: layers"
  grep -q "log10 then standardised" out.txt || fail "inspect: normalisation"
  grep -q "sigma_8 *\[0.6, 1\]" out.txt || fail "inspect: target ranges"
  grep -q "train.epochs = 40" out.txt || fail "inspect: config used"
  # the float32 compute path from the config reaches the same quality
  rm -rf out; mkdir -p out
  base_config b.ini "[train]" "precision = float32"
  expect_ok "train float32" 1 train b.ini
  r2s=$(r2_of sigma_8 out/test.csv)
  ge "$r2s" 0.9 || fail "float32: sigma_8 R2 = $r2s < 0.9"
  base_config c.ini "[train]" "precision = half"
  run 1 train c.ini && fail "precision = half accepted"
  grep -q "precision" err.txt || fail "bad precision: message does not name the key"
  ;;
ranks)
  mkdir -p out
  base_config a.ini
  expect_ok "train 1 rank" 1 train a.ini
  mv out/model.h5 one.h5
  expect_ok "train 2 ranks" 2 train a.ini
  # same global batches on any rank count: equal to round-off
  h5diff -p 1e-9 one.h5 out/model.h5 /layers >diff.txt 2>&1 || { fail "1 vs 2 ranks differ"; head diff.txt >&2; }
  ;;
quijote)
  mkdir -p out
  base_config a.ini
  expect_ok "train from suite" 1 train a.ini
  mv out/model.h5 suite_model.h5
  sed -i 's#^suite = suite.h5#quijote_dir = txt\nparams = txt/params.txt#' a.ini
  expect_ok "train from text files" 1 train a.ini
  # the text folder has simulation 7 too (no status there): 150 vs 149 rows
  grep -q "150 simulations" err.txt || fail "text folder: expected 150 simulations"
  [ -f out/model.h5 ] || fail "no model from the text folder"
  ;;
transfer)
  mkdir -p out
  base_config pre.ini
  sed -i 's#^stats = pk#stats = pk\ntargets = Omega_m,sigma_8\ndummy = h#' pre.ini
  sed -i 's#out/model.h5#out/pre.h5#' pre.ini
  expect_ok "pretrain with a dummy output" 1 train pre.ini
  "$COSMOTL" inspect out/pre.h5 | grep -q "h .*dummy" || fail "pretrained model: h not dummy"
  for mode in dummy no_dummy frozen bottleneck; do
    # the bottleneck keeps the pretrained last hidden layer (16 units here) as it is
    base_config ft_$mode.ini "[transfer]" "pretrained = out/pre.h5" "mode = $mode" \
      "bottleneck_width = 16" "head_width = 5"
    sed -i "s#out/model.h5#out/ft_$mode.h5#; s#^epochs = 40#epochs = 10#" ft_$mode.ini
    sed -i 's#^stats = pk#stats = pk\ntargets = Omega_m,sigma_8,h\nn_train = 50#' ft_$mode.ini
    expect_ok "fine-tune $mode" 1 train ft_$mode.ini
    "$COSMOTL" inspect out/ft_$mode.h5 >insp.txt || fail "inspect $mode"
    grep -q "dummy (masked" insp.txt && fail "$mode: h still dummy after transfer"
    grep -q "50 train" err.txt || fail "$mode: budget of 50 not applied"
  done
  grep -q "frozen      layers 0 1" <("$COSMOTL" inspect out/ft_frozen.h5) || fail "frozen body"
  grep -q "20 -> 16 -> 16 -> 5 -> 3" <("$COSMOTL" inspect out/ft_bottleneck.h5) || fail "bottleneck"
  grep -q "frozen      layers 0 1" <("$COSMOTL" inspect out/ft_bottleneck.h5) ||
    fail "bottleneck body not frozen"
  # a last hidden layer wider than the bottleneck width is refused, naming the fix
  sed -i 's#^bottleneck_width = 16#bottleneck_width = 10#' ft_bottleneck.ini
  run 1 train ft_bottleneck.ini && fail "bottleneck on a 16-unit layer with width 10 accepted"
  grep -q "last hidden layer has 16 units" err.txt || fail "bottleneck refusal message"
  # the fine-tuned input normalisation is the pretrained one
  h5diff out/pre.h5 out/ft_dummy.h5 /input >/dev/null || fail "normalisation not kept"
  ;;
resume)
  mkdir -p out
  base_config full.ini
  sed -i 's#^dropout = 0.1#dropout = 0.2#' full.ini
  expect_ok "uninterrupted" 1 train full.ini
  mv out/model.h5 full.h5
  base_config part.ini "[train]" "checkpoint = out/ck.h5"
  sed -i 's#^dropout = 0.1#dropout = 0.2#; s#^log_every = 0#log_every = 0\nstop_after = 3#' part.ini
  expect_ok "first 3 epochs" 1 train part.ini
  [ -f out/model.h5 ] && fail "an interrupted run wrote the final model"
  [ -f out/ck.h5 ] || fail "no checkpoint"
  sed -i 's#^stop_after = 3#stop_after = 0#' part.ini
  expect_ok "resumed" 1 train part.ini
  grep -q "resumed from" err.txt || fail "did not resume"
  h5diff -d 0 full.h5 out/model.h5 /layers >diff.txt 2>&1 || { fail "resumed != uninterrupted"; head diff.txt >&2; }
  h5diff -d 0 full.h5 out/model.h5 /history/val >/dev/null 2>&1 || fail "history differs"
  # a real kill (SIGKILL at whatever point it is reached), then resume
  rm -f out/model.h5 out/ck.h5
  base_config kill.ini "[train]" "checkpoint = out/ck.h5"
  sed -i 's#^dropout = 0.1#dropout = 0.2#' kill.ini
  "$COSMOTL" train kill.ini >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 1 200); do [ -f out/ck.h5 ] && break; sleep 0.05; done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  [ -f out/model.h5 ] && echo "note: the run finished before the kill" >&2
  expect_ok "resumed after SIGKILL" 1 train kill.ini
  h5diff -d 0 full.h5 out/model.h5 /layers >diff.txt 2>&1 || { fail "killed+resumed != uninterrupted"; head diff.txt >&2; }
  ;;
sigterm)
  # SIGTERM (SLURM's preemption signal) mid-training: the epoch ends, the checkpoint
  # is written, exit 143 within the grace time, no model and no temporaries; the
  # rerun resumes to the same bytes as an uninterrupted run
  mkdir -p out
  base_config t.ini "[train]" "checkpoint = out/ck.h5"
  sed -i 's#^epochs = 40#epochs = 1000#; s#^patience = 15#patience = 0#' t.ini
  expect_ok "uninterrupted" 1 train t.ini
  mv out/model.h5 full.h5; rm -f out/ck.h5
  "$COSMOTL" train t.ini >out.txt 2>err.txt &
  pid=$!
  for i in $(seq 1 600); do [ -f out/ck.h5 ] && break; sleep 0.05; done
  t0=$(date +%s)
  if kill -TERM $pid 2>/dev/null; then
    wait $pid; rc=$?
    took=$(($(date +%s) - t0))
    if [ -f out/model.h5 ]; then
      echo "note: the run finished before SIGTERM arrived" >&2
    else
      [ $rc = 143 ] || fail "exit $rc after SIGTERM, expected 143"
      [ $took -le 30 ] || fail "took ${took}s to end after SIGTERM"
      grep -q "SIGTERM after epoch .* checkpoint .* written" err.txt || fail "message: $(cat err.txt)"
      [ "$(grep -c 'error' err.txt)" = 1 ] || fail "not one error line: $(cat err.txt)"
      [ -f out/ck.h5 ] || fail "no checkpoint after SIGTERM"
      [ -z "$(find out -name '.*.tmp.*')" ] || fail "temporaries left: $(ls -a out)"
      echo "SIGTERM: exit $rc after ${took}s, $(grep -o 'after epoch [0-9]*' err.txt)"
    fi
  else
    wait $pid; echo "note: the run finished before SIGTERM" >&2
  fi
  expect_ok "resumed after SIGTERM" 1 train t.ini
  cmp -s full.h5 out/model.h5 || fail "resumed model differs in bytes from the uninterrupted one"
  ;;
search)
  mkdir -p out
  base_config s.ini "[search]" "enabled = true" "trials = 8" "startup = 4" "wave = 4" \
    "prune_warmup = 3" "log = out/search.log"
  sed -i 's#^epochs = 40#epochs = 12#' s.ini
  expect_ok "search on 2 ranks" 2 train s.ini
  n=$(grep -c '^trial ' out/search.log); [ "$n" = 8 ] || fail "search log has $n trials"
  grep -q "best trial" out/search.log || fail "no best trial in the log"
  [ -f out/model.h5 ] || fail "no best model written"
  ;;
bad)
  mkdir -p out
  base_config a.ini "[train]" "epoch = 3"
  run 1 train a.ini; rc=$?
  [ $rc != 0 ] || fail "unknown key accepted"
  grep -q "a.ini:[0-9]*.*epoch" err.txt || { fail "unknown key not named"; cat err.txt >&2; }
  [ "$(wc -l <err.txt)" -le 2 ] || fail "more than a short error"
  base_config b.ini; sed -i 's#^suite = suite.h5#suite = missing.h5#' b.ini
  run 2 train b.ini; [ $? != 0 ] || fail "missing suite accepted"
  grep -q "missing.h5" err.txt || { fail "missing suite not named"; cat err.txt >&2; }
  base_config c.ini; sed -i 's#^stats = pk#stats = pk\ntargets = Omega_m,M_nu#' c.ini
  run 1 train c.ini; [ $? != 0 ] || fail "unknown target accepted"
  grep -q "M_nu is not in the data" err.txt || { fail "unknown target not named"; cat err.txt >&2; }
  base_config d.ini; sed -i 's#^stats = pk#stats = bk#' d.ini
  run 1 train d.ini; [ $? != 0 ] || fail "missing statistic accepted"
  grep -q "no statistic 'bk'" err.txt || { fail "missing statistic not named"; cat err.txt >&2; }
  base_config e.ini "[transfer]" "pretrained = suite.h5"
  run 1 train e.ini; [ $? != 0 ] || fail "a suite table accepted as pretrained model"
  grep -q "suite.h5: not a cosmotl model" err.txt || { fail "bad pretrained not named"; cat err.txt >&2; }
  [ -z "$(ls out)" ] || fail "failed runs left output: $(ls out)"
  run 1 train; [ $? = 2 ] || fail "missing CONFIG: expected usage error"
  ;;
provenance)
  # a marked-P(k) model from `cosmotl train` records what it was trained on; every
  # consumer checks it against its input and names the model file and attribute
  mkdir -p out
  base_config a.ini; sed -i 's#^stats = pk#stats = mk\nk_max = 0.1#; s#^epochs = 40#epochs = 3#' a.ini
  expect_ok "train mk" 1 train a.ini
  expect_ok "inspect" 1 inspect out/model.h5
  grep -q "trained on  mk of .*suite.h5, k <= 0.1 h/Mpc" out.txt || { fail "inspect: provenance"; cat out.txt >&2; }
  grep -q "written by  cosmotl train .*; parameters Omega_m,sigma_8,h" out.txt || fail "inspect: writer/parameters"
  h5dump -a /provenance/statistics out/model.h5 | grep -q '"mk"' || fail "no /provenance/statistics"
  # explain and cka take the model's own statistic and cut by default ...
  expect_ok "explain (provenance defaults)" 1 explain out/model.h5 suite.h5 --samples 2 --background 3 --permutations 2 --out out/shap.h5
  expect_ok "cka (provenance defaults)" 1 cka out/model.h5 suite.h5 suite.h5 --samples 20 --out out/cka.h5
  # ... and refuse another statistic or cut: one line, model file + attribute
  run 1 explain out/model.h5 suite.h5 --stats pk; [ $? != 0 ] || fail "explain with pk on an mk model succeeded"
  grep -q "out/model.h5: model attribute statistics = 'mk' but the input (suite.h5) is 'pk'" err.txt || { fail "explain: mismatch not named"; cat err.txt >&2; }
  [ "$(wc -l < err.txt)" = 1 ] || { fail "explain mismatch: not one line"; cat err.txt >&2; }
  run 1 cka out/model.h5 suite.h5 suite.h5 --kmax 0.15; [ $? != 0 ] || fail "cka with another cut succeeded"
  grep -q "out/model.h5: model attribute n_in" err.txt || { fail "cka: mismatch not named"; cat err.txt >&2; }
  # fine-tuning from it on P(k) inputs is refused as well
  mkdir -p out2
  base_config b.ini; sed -i 's#= out/#= out2/#; s#^epochs = 40#epochs = 2#' b.ini
  printf '[transfer]\npretrained = out/model.h5\n' >> b.ini
  run 1 train b.ini; [ $? != 0 ] || fail "fine-tuning an mk model on pk succeeded"
  grep -q "out/model.h5: model attribute statistics = 'mk'" err.txt || { fail "train: mismatch not named"; cat err.txt >&2; }
  [ -z "$(ls out2)" ] || fail "failed fine-tuning left output: $(ls out2)"
  ;;
*) echo "unknown case $case_"; exit 2 ;;
esac
[ $fails = 0 ] && echo "PASS: train $case_" || echo "FAIL: train $case_ ($fails)"
[ $fails = 0 ]
