#!/bin/bash
# Reliability of the whole program (issue 8):
#   fulldisk-simulate|fulldisk-summarize|fulldisk-gather|fulldisk-jobs
#       a full disk (a small tmpfs, else `ulimit -f`) gives a clear error and
#       leaves no partial file under a final name and no temporaries
#   killrank   a rank killed (kill -9) mid-run ends the MPI job with a message, no hang
#   badconfig  unknown keys in every config-driven command: one line naming
#              file:line:key, exit 1, nothing written
#   badsnap    the snapshot reader's bad inputs through summarize: each recorded
#              with its error in the manifest while the good one is done (exit 3)
#   badsummary a corrupt summary (the summary fuzz harness's crash input: an
#              attribute message whose lengths made HDF5 read past the object
#              header) through gather: first in the folder, exit 1 with one line
#              naming it and no table; later in the folder, its row is marked
#              failed with that reason and the rest is gathered (exit 0)
#   timeouts   every registered test has a timeout, every MPI test a hard one
#   fulldisk-train  train's checkpoint and model on a full disk: clear error, no
#              model, no temporaries; a rerun elsewhere equals a clean run (cmp)
#   sigterm-study  SIGTERM after the first finished training: no new training
#              starts, exit 143 within 30 s with one line, the finished ones saved;
#              --resume then gives the same outputs as an uninterrupted study
#   fulldisk-study  the disk fills in the middle of a study (a tmpfs of half
#              the study's size): a clear error, every file under a final name
#              whole; the outputs moved to a healthy disk, --resume completes
#              them identically
#   readonly-simulate|readonly-summarize|readonly-study  the output folder becomes
#              read-only (remount) in the middle of the run: a clear error, no
#              partial file; remounted writable, a rerun (--resume) completes
#              identically
#   readonly-gather|readonly-train  the same for gather (the folder of the table
#              turns read-only while the summaries are read; the table is written
#              at the end) and train (after its first checkpoint): exit 1, one
#              line naming the file and "Read-only file system", no model or table,
#              the last whole checkpoint kept; remounted writable, the rerun
#              (train resumes from the checkpoint) writes the same bytes as an
#              uninterrupted run
#   membudget  a PM memory budget ([sim] memory_gb) below the simulation's
#              estimated peak: refused with the need stated, nothing written
#   membudget-bound  the PM budget's estimate (ct_sim_memory_need) is at least
#              the measured peak resident memory of every rank (tools/bench/sim/memory,
#              128^3 particles, 256^3 mesh, 1 and 2 ranks; smaller runs are
#              dominated by the fixed 0.15 GiB allowance for the libraries)
#   bytes      simulate, summarize, gather and train run twice (more than one
#              second apart) write byte-identical HDF5 files (no time stamps in
#              object headers), so a resumed run can be checked with cmp
set -u
: "${COSMOTL:?}" "${CT_SOURCE_ROOT:?}"
case_=${1:?case}
. "$(dirname "$0")/../common.sh" rel
mounted=""
ct_e2e_cleanup() { for m in $mounted; do umount -l "$m" 2>/dev/null; done; rm -rf "$work"; }
export OMPI_MCA_rmaps_base_oversubscribe=1
suite_ini=$CT_SOURCE_ROOT/configs/suites/lcdm.ini
need() { "$COSMOTL" "$1" --help >/dev/null 2>&1 || { echo "SKIP: cosmotl $1 not available"; exit 77; }; }

# small_disk KB: ./full is a folder with KB kilobytes of space: a tmpfs when we may
# mount, else the file-size limit of this shell (SIGXFSZ ignored so writes fail
# with EFBIG instead of killing the program).
small_disk() {
  mkdir -p full
  if mount -t tmpfs -o size="$1"k tmpfs full 2>/dev/null; then
    mounted=$work/full
  else
    trap '' XFSZ
    ulimit -f "$1" || { echo "SKIP: cannot limit disk space here"; exit 77; }
  fi
}
# no_partial DIR PATTERN [ro]: nothing matching PATTERN under a final name, no
# temporaries. With "ro" the folder became read-only under the writer, which then
# cannot remove a temporary it had open: those are allowed here and must be gone
# after the rerun on a writable folder (no_temporaries).
no_partial() {
  [ -z "$(find "$1" -name "$2" 2>/dev/null)" ] || fail "partial outputs: $(find "$1" -name "$2")"
  [ "${3:-}" = ro ] || no_temporaries "$1"
}
no_temporaries() {
  [ -z "$(find "$1" -name '.*.tmp.*' 2>/dev/null)" ] || fail "temporaries left: $(find "$1" -name '.*.tmp.*')"
}
clear_error() { # the message says why
  grep -qiE 'no space|disk full|file too large|write failed|cannot write' "$1" ||
    fail "error does not say the disk is full: $(head -c 400 "$1")"
}
# ro_disk: ./full is a tmpfs that make_ro can turn read-only (skip if we cannot mount)
ro_disk() {
  mkdir -p full
  mount -t tmpfs -o size=200m tmpfs full 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
  mounted=$work/full
}
# make_ro PID: remount ./full read-only while PID runs (the kernel refuses while a
# file is open for writing: retried)
make_ro() {
  for _ in $(seq 1 400); do
    mount -o remount,ro full 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1 # it ended first: the caller's checks tell
    sleep 0.01
  done
  fail "could not make the output read-only while the program ran"
}
# first_task DIR PID: wait until DIR holds a file (or PID ended)
first_task() {
  for _ in $(seq 1 1200); do
    [ -n "$(ls "$1" 2>/dev/null)" ] && return 0
    kill -0 "$2" 2>/dev/null || return 0
    sleep 0.05
  done
}
# the small transfer study of tools/chaos (pretraining + 12 fine-tunings)
study_ini() {
  cat >study.ini <<EOF
[study]
targets = NU
statistics = pk
kmax = 0
architectures = dummy, frozen
baselines = scratch
budgets = 16, 64
seeds = 2
[pretrain]
name = LCDM
suite = $work/st/lcdm.h5
params = Omega_m, sigma_8
hidden = 16, 16
dropout = 0
epochs = 60
patience = 20
lr = 3e-3
weight_decay = 1e-5
[finetune]
epochs = 60
patience = 20
trials = 2
lr_min = 3e-4
lr_max = 1e-2
wd_min = 1e-6
wd_max = 1e-3
[target.NU]
suite = $work/st/nu.h5
params = Omega_m, sigma_8, M_nu
[analysis]
shap_samples = 2
shap_background = 4
shap_permutations = 2
cka_samples = 16
EOF
}
run_study() { mkdir -p "$1" && cp study.ini "$1/" && (cd "$1" && "$COSMOTL" -q study study.ini --out out --no-plots); }
# resume_study DIR: --resume in DIR, then every output equals the reference's
# (a training's record holds its wall time: compared without that line)
resume_study() {
  (cd "$1" && "$COSMOTL" -q study study.ini --out out --no-plots --resume) >resume.log 2>&1 ||
    { fail "--resume: $(tail -n 2 resume.log)"; return; }
  diff <(cd ref/out && find . -type f ! -name '*.log' | sort) <(cd "$1/out" && find . -type f ! -name '*.log' | sort) >/dev/null ||
    fail "file lists differ after --resume"
  for f in $(cd ref/out && find . -type f ! -name '*.log' | sort); do
    case $f in
    ./tasks/*) cmp -s <(grep -v '^seconds ' ref/out/$f) <(grep -v '^seconds ' "$1/out/$f") ;;
    *) cmp -s "ref/out/$f" "$1/out/$f" ;;
    esac || fail "$f after --resume differs from the uninterrupted study"
  done
}
simulate_some() { # simulate_some DIR A:B
  "$COSMOTL" -q simulate "$suite_ini" --out "$1" --range "$2" >sim.log 2>&1 ||
    { cat sim.log >&2; fail "simulate $2 failed"; }
}

case $case_ in
fulldisk-simulate)
  need simulate
  small_disk 200   # a 32^3 snapshot needs about 1 MB
  timeout 120 "$COSMOTL" simulate "$suite_ini" --out full/suite --range 0:2 >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || [ $rc = 3 ] || fail "simulate on a full disk: exit $rc"
  clear_error err.txt
  no_partial full 'snap_*'
  ;;
fulldisk-summarize)
  need simulate; need summarize
  simulate_some suite 0:2
  small_disk 12
  timeout 120 "$COSMOTL" summarize suite/0/snapdir_004 suite/1/snapdir_004 --stats pk \
    --grid 32 --out full/sum >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || [ $rc = 3 ] || fail "summarize on a full disk: exit $rc (124 = hang, 139 = crash)"
  clear_error err.txt
  no_partial full '[0-9]*.h5'
  ;;
fulldisk-gather)
  need simulate; need summarize; need gather
  simulate_some suite 0:2
  "$COSMOTL" -q summarize suite/0/snapdir_004 suite/1/snapdir_004 --grid 32 --out sum >s.log 2>&1 ||
    fail "summarize failed"
  small_disk 8
  timeout 120 "$COSMOTL" gather sum --out full/table.h5 >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || fail "gather on a full disk: exit $rc"
  grep -q 'error:' err.txt || fail "no error message"
  no_partial full 'table.h5'
  ;;
fulldisk-jobs)
  mkdir -p suiteA
  printf '[pipeline]\nsuites = A, B, C\n[suite.A]\ndir = suiteA\nrange = 0:4\n[suite.B]\ndir = suiteA\nrange = 0:4\n[suite.C]\ndir = suiteA\nrange = 0:4\n' >p.ini
  small_disk 8
  timeout 60 "$COSMOTL" jobs p.ini --out "$work/full/out" >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || fail "jobs on a full disk: exit $rc"
  clear_error err.txt
  no_partial full 'nothing'
  # every script that exists is whole
  for s in $(find full -name '*.sbatch'); do
    tail -n 1 "$s" | grep -q 'ct_finish' || fail "$s is cut short"
  done
  ;;
killrank)
  need simulate; need summarize
  simulate_some suite 0:4
  # 4 snapshots, P(k) and marked P(k) on a 288^3 grid: many seconds on 2 ranks
  timeout -k 5 120 mpirun -np 2 --bind-to none "$COSMOTL" summarize suite/*/snapdir_004 \
    --stats pk,mk --grid 288 --out sum >out.txt 2>&1 &
  job=$!
  victim=""
  for t in $(seq 1 100); do
    sleep 0.1
    # the ranks (not mpirun or timeout): command lines that start with the program
    victim=$(pgrep -f "^$COSMOTL summarize suite" | sort -n | tail -n 1)
    [ -n "$victim" ] && [ "$(pgrep -f "^$COSMOTL summarize suite" | wc -l)" -ge 2 ] && break
  done
  sleep 0.3 # mid-run: P(k) + marked P(k) of 4 snapshots at 288^3 take seconds
  if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
    start=$(date +%s)
    wait $job; rc=$?
    took=$(($(date +%s) - start))
    # mpirun passes on the killed rank's status (137 = 128 + SIGKILL); a hang would
    # end in timeout's 124 after 120 s
    [ $rc = 124 ] && fail "the job hung after a rank was killed (timeout)"
    [ $rc = 0 ] && fail "the job reported success after a rank was killed"
    [ $took -le 30 ] || fail "the job took ${took}s to end after the kill"
    grep -qiE 'signal 9|killed' out.txt || fail "no message about the killed rank: $(tail -n 5 out.txt)"
    echo "job ended ${took}s after kill -9 of rank pid $victim, exit $rc"
  else
    wait $job
    fail "could not find a rank to kill"
  fi
  # what was complete stays complete; nothing partial
  no_partial sum 'nothing'
  ;;
badconfig)
  mkdir -p suiteA
  check() { # check CMD CONFIG_TEXT KEY [ARGS...]
    cmd=$1; text=$2; key=$3; shift 3
    "$COSMOTL" $cmd --help >/dev/null 2>&1 || { echo "(cosmotl $cmd not available: skipped)"; return; }
    printf '%s\n' "$text" >bad.ini
    rm -rf outdir
    timeout 60 "$COSMOTL" $cmd bad.ini "$@" >out.txt 2>err.txt
    rc=$?
    [ $rc = 1 ] || [ $rc = 2 ] || fail "$cmd with an unknown key: exit $rc"
    grep -qE "bad.ini:[0-9]+: unknown key $key" err.txt || fail "$cmd: error does not name file:line:key: $(cat err.txt)"
    [ "$(grep -c 'error' err.txt)" = 1 ] || fail "$cmd: more than one error line: $(cat err.txt)"
    [ -e outdir ] && fail "$cmd wrote output despite the bad config"
  }
  sim=$(cat "$suite_ini")
  check simulate "$sim
bogus_key = 1" 'sim.bogus_key' --out outdir
  check study "$(cat "$CT_SOURCE_ROOT/configs/studies/small.ini")
[study2]
x = 1" 'study2.x' --out outdir
  check jobs "[pipeline]
suites = A
[suite.A]
dir = suiteA
range = 0:2
stray = 3" 'suite.A.stray' --out outdir
  if [ -f "$CT_SOURCE_ROOT/configs/train/lh_pk.ini" ]; then
    check train "$(cat "$CT_SOURCE_ROOT/configs/train/lh_pk.ini")
[train]
typo_key = 2" 'train.typo_key'
  fi
  # a value out of range names the key too
  printf '%s\n' "${sim/particles = 32/particles = -4}" >bad.ini
  "$COSMOTL" simulate bad.ini --out outdir >out.txt 2>err.txt && fail "negative particle count accepted"
  grep -q 'particles' err.txt || fail "range error does not name the key: $(cat err.txt)"
  # N-GenIC noise with a table smaller than the particle lattice: one line naming it
  printf '%s\n' "${sim/particles = 32/particles = 32
noise = ngenic
ngenic_nmesh = 16}" >bad.ini
  "$COSMOTL" simulate bad.ini --out outdir >out.txt 2>err.txt && fail "ngenic_nmesh < particles accepted"
  grep -q 'bad.ini.*ngenic_nmesh = 16' err.txt || fail "ngenic_nmesh error does not name file and key: $(cat err.txt)"
  [ -e outdir ] && fail "simulate wrote output despite ngenic_nmesh < particles"
  ;;
badsnap)
  need simulate; need summarize
  simulate_some suite 0:1
  # simulation folders 0..4: good, truncated, garbage, empty, missing
  names=(good trunc garbage empty missing)
  mkdir -p bad/1/snapdir_004 bad/2/snapdir_004 bad/3/snapdir_004
  s0=suite/0/snapdir_004/snap_004.0.hdf5
  cp -r suite/0 bad/0
  head -c $(($(stat -c %s $s0) / 3)) $s0 >bad/1/snapdir_004/snap_004.0.hdf5
  head -c 5000 /dev/urandom >bad/2/snapdir_004/snap_004.0.hdf5
  : >bad/3/snapdir_004/snap_004.0.hdf5
  args="bad/0/snapdir_004 bad/1/snapdir_004 bad/2/snapdir_004 bad/3/snapdir_004 bad/4/snapdir_004"
  timeout 120 mpirun -np 2 --bind-to none "$COSMOTL" summarize $args --grid 32 --out sum >out.txt 2>&1
  rc=$?
  [ $rc = 3 ] || fail "summarize with bad inputs: exit $rc, expected 3"
  m=sum/manifest.tsv
  st() { awk -F'\t' -v i="$1" '$1 == i { print $2 }' $m; }
  err() { awk -F'\t' -v i="$1" '$1 == i { print $11 }' $m; }
  [ "$(st 0)" = done ] && [ -e sum/0.h5 ] || fail "the good snapshot was not summarized"
  for i in 1 2 3 4; do
    b=${names[$i]}
    [ "$(st $i)" = failed ] || fail "$b: '$(st $i)', expected failed"
    [ -n "$(err $i)" ] || fail "$b: no error recorded"
    [ -e sum/$i.h5 ] && fail "$b has an output"
    echo "  $b: $(err $i | cut -c1-110)"
  done
  no_partial sum 'nothing'
  # the rerun skips the good one and fails the bad ones again
  timeout 120 "$COSMOTL" summarize $args --grid 32 --out sum >out2.txt 2>&1
  grep -q '1 already complete, 0 done now, 4 FAILED' out2.txt || fail "rerun: $(tail -n 1 out2.txt)"
  # and on through gather: the table marks the four as failed, with reasons
  if "$COSMOTL" gather --help >/dev/null 2>&1; then
    printf '# a b\n1 2\n1 2\n1 2\n1 2\n1 2\n' >params.txt
    "$COSMOTL" gather sum --out table.h5 --params params.txt >g.txt 2>&1 || fail "gather: $(cat g.txt)"
    "$COSMOTL" inspect table.h5 >i.txt 2>&1 || fail "inspect table"
    grep -q "1 present, 4 failed" i.txt || fail "table: $(grep -i present i.txt)"
  fi
  ;;
badsummary)
  need simulate; need summarize; need gather
  simulate_some suite 0:2
  "$COSMOTL" -q summarize suite/0/snapdir_004 suite/1/snapdir_004 --stats pk,mk --grid 32 \
    --out sum >s.log 2>&1 || fail "summarize failed"
  bad=$CT_SOURCE_ROOT/tests/fuzz/corpus/summary/regress-attr-header-overread.h5
  printf '# a b\n1 2\n1 2\n1 2\n' >params.txt
  # first in the folder: it defines the table's groups, so the gather stops
  mkdir -p first && cp "$bad" first/0.h5 && cp sum/1.h5 first/1.h5
  timeout 120 "$COSMOTL" gather first --out first.h5 --params params.txt >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || fail "gather with a corrupt first summary: exit $rc (139 = crash)"
  [ "$(grep -c 'error' err.txt)" = 1 ] || fail "not one error line: $(cat err.txt)"
  grep -q 'first/0.h5: corrupt object header at byte [0-9]*: ' err.txt ||
    fail "the error does not name the file and the header: $(cat err.txt)"
  [ -e first.h5 ] && fail "a table was written"
  no_temporaries .
  echo "first: $(cut -c1-150 err.txt)"
  # inspect names the damage (header chunk past the end of the file), not "not a ... file"
  big=$CT_SOURCE_ROOT/tests/fuzz/corpus/summary/regress-header-chunk-4GiB.h5
  timeout 120 "$COSMOTL" inspect "$big" >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || fail "inspect of a corrupt header: exit $rc"
  [ "$(wc -l <err.txt)" = 1 ] || fail "inspect: not one line: $(cat err.txt)"
  grep -q 'regress-header-chunk-4GiB.h5: corrupt object header' err.txt ||
    fail "inspect does not name the corrupt header: $(cat err.txt)"
  # later in the folder: its row is failed with the reason, the others gathered
  cp "$bad" sum/2.h5
  timeout 120 "$COSMOTL" gather sum --out table.h5 --params params.txt >out.txt 2>err.txt
  rc=$?
  [ $rc = 0 ] || fail "gather with a corrupt later summary: exit $rc: $(cat err.txt)"
  grep -q 'simulation 2 failed: sum/2.h5: corrupt object header' err.txt ||
    fail "no warning naming 2.h5: $(cat err.txt)"
  "$COSMOTL" inspect table.h5 >i.txt 2>&1 || fail "inspect table"
  grep -q "2 present, 1 failed" i.txt || fail "table: $(grep -i present i.txt)"
  echo "later: $(grep -o 'simulation 2 failed.*' err.txt | cut -c1-150)"
  ;;
timeouts)
  build=${CT_BUILD_ROOT:?}
  json=$(meson introspect --tests "$build")
  n=$(echo "$json" | grep -o '"name": ' | wc -l)
  nt=$(echo "$json" | grep -oE '"timeout": [1-9][0-9]*' | wc -l)
  [ "$n" -gt 0 ] && [ "$n" = "$nt" ] || fail "$n tests, $nt with a positive timeout"
  # MPI tests go through tests/mpirun.sh, which has its own hard timeout
  grep -q 'timeout -k' "$CT_SOURCE_ROOT/tests/mpirun.sh" || fail "tests/mpirun.sh has no hard timeout"
  for f in $(grep -rl "suite : 'mpi'" "$CT_SOURCE_ROOT/tests" --include=meson.build); do
    grep -q "mpirun_sh" "$f" || fail "$f: MPI tests not run through mpirun.sh"
  done
  echo "$n tests, all with timeouts"
  ;;
fulldisk-train)
  # train on a full disk (checkpoint and model): a clear error, no model, no
  # temporaries; the rerun on a healthy disk writes the same bytes as a clean run
  need simulate; need summarize; need gather; need train
  simulate_some s8 0:8
  "$COSMOTL" -q summarize s8/*/snapdir_004 --grid 32 --stats pk --out s8sum >s.log 2>&1 || fail "summarize 8"
  printf '# a b\n' >params.txt
  for i in $(seq 0 7); do printf '0.%d 0.%d\n' $((i + 1)) $((9 - i)) >>params.txt; done
  "$COSMOTL" -q gather s8sum --params params.txt --out t.h5 >g.log 2>&1 || fail "gather 8: $(tail -1 g.log)"
  printf '[data]\nsuite = %s/t.h5\nstats = pk\nsplit = 0.5,0.25\n[model]\nhidden = 64,64\n[train]\nepochs = 5\nbatch = 2\ncheckpoint = ck.h5\nlog_every = 0\n[output]\nmodel = model.h5\n' "$work" >t.ini
  mkdir -p ok && cp t.ini ok/ && (cd ok && "$COSMOTL" -q train t.ini >../ok.log 2>&1) || fail "train on a healthy disk: $(tail -1 ok.log)"
  small_disk 40  # the checkpoint of a 64,64 network (with AdamW moments) needs ~100 kB
  cp t.ini full/
  (cd full && timeout 120 "$COSMOTL" train t.ini >../out.txt 2>../err.txt)
  rc=$?
  [ $rc = 1 ] || fail "train on a full disk: exit $rc"
  clear_error err.txt
  [ "$(grep -c 'error' err.txt)" = 1 ] || fail "not one error line: $(cat err.txt)"
  no_partial full 'model.h5'
  [ -z "$(find full -name 'ck.h5')" ] || fail "a checkpoint under its final name on a full disk"
  # the same folder on a healthy disk: rerun completes identically
  mkdir -p again && cp t.ini again/ && (cd again && "$COSMOTL" -q train t.ini >../again.log 2>&1) || fail "rerun"
  cmp -s ok/model.h5 again/model.h5 || fail "rerun model differs from the clean run"
  ;;
bytes)
  need simulate; need summarize; need gather; need train
  # HDF5 stores modification times with one-second resolution: the two runs are
  # at least 1.1 s apart so a time stamp anywhere would show as a byte difference
  # at the same paths (inputs' paths are recorded in the outputs), then moved aside
  for r in a b; do
    simulate_some suite 0:2
    "$COSMOTL" -q summarize suite/0/snapdir_004 suite/1/snapdir_004 --grid 32 \
      --stats pk,mk --out sum >s.log 2>&1 || fail "summarize $r: $(tail -1 s.log)"
    "$COSMOTL" -q gather sum --out table.h5 >g.log 2>&1 || fail "gather $r: $(tail -1 g.log)"
    mkdir $r && mv suite sum table.h5 $r/
    [ $r = a ] && sleep 1.1
  done
  for f in suite/0/snapdir_004/snap_004.0.hdf5 suite/1/snapdir_004/snap_004.0.hdf5 \
           sum/0.h5 sum/1.h5 table.h5; do
    [ -f a/$f ] || { fail "a/$f missing"; continue; }
    cmp -s a/$f b/$f || fail "$f differs in bytes between two identical runs: $(cmp a/$f b/$f)"
  done
  # train (with a checkpoint): the same config twice, in place (the config's path is
  # recorded in the model, so it must be the same)
  printf '# a b\n' >params.txt
  for i in $(seq 0 7); do printf '0.%d 0.%d\n' $((i + 1)) $((9 - i)) >>params.txt; done
  printf '[data]\nsuite = t.h5\nstats = pk\nsplit = 0.5,0.25\n[model]\nhidden = 4\n[train]\nepochs = 5\nbatch = 2\ncheckpoint = out/ckpt.h5\nlog_every = 0\n[output]\nmodel = out/model.h5\n' >t.ini
  simulate_some s8 0:8
  "$COSMOTL" -q summarize s8/*/snapdir_004 --grid 32 --stats pk --out s8sum >s.log 2>&1 || fail "summarize 8"
  "$COSMOTL" -q gather s8sum --params params.txt --out t.h5 >g.log 2>&1 || fail "gather 8: $(tail -1 g.log)"
  for r in 1 2; do
    rm -rf out
    "$COSMOTL" -q train t.ini >t.log 2>&1 || fail "train: $(tail -1 t.log)"
    [ $r = 1 ] && { mv out out1; sleep 1.1; }
  done
  for f in model.h5 ckpt.h5; do
    [ -f out/$f ] || { fail "train wrote no $f"; continue; }
    cmp -s out1/$f out/$f || fail "train $f differs in bytes between two identical runs"
  done
  ;;
sigterm-study|fulldisk-study|readonly-study)
  need study
  mk=${2:?make_study_suites program}
  case $mk in /*) ;; *) mk=${CT_BUILD_ROOT:?}/$mk ;; esac # meson passes it relative to the build
  mkdir st && "$mk" "$work/st" >/dev/null || fail "no study suites"
  study_ini
  run_study ref >ref.log 2>&1 || { cat ref.log >&2; fail "reference study"; }
  total=$(ls ref/out/tasks | wc -l)
  case $case_ in
  sigterm-study)
    mkdir -p run && cp study.ini run/
    (cd run && exec "$COSMOTL" -q study study.ini --out out --no-plots) >run.log 2>&1 &
    pid=$!
    first_task run/out/tasks $pid
    kill -TERM $pid
    t0=$(date +%s)
    wait $pid; rc=$?
    took=$(($(date +%s) - t0))
    n=$(ls run/out/tasks | wc -l)
    echo "SIGTERM after the first training: exit $rc after ${took}s, $n of $total trainings saved"
    [ $rc = 143 ] || fail "study after SIGTERM: exit $rc, expected 143"
    [ $took -le 30 ] || fail "study took ${took}s to end after SIGTERM"
    grep -q 'stopped by SIGTERM' run.log || fail "no message: $(tail -n 3 run.log)"
    [ "$(grep -c 'error' run.log)" = 0 ] || fail "errors after SIGTERM: $(grep error run.log)"
    [ "$n" -ge 1 ] && [ "$n" -lt "$total" ] || fail "$n of $total trainings saved after SIGTERM"
    [ -e run/out/results.h5 ] && fail "results.h5 written by an interrupted study"
    no_partial run/out 'nothing'
    resume_study run
    ;;
  fulldisk-study)
    kb=$(du -sk ref/out | cut -f1)
    mkdir -p full
    mount -t tmpfs -o size=$((kb / 2))k tmpfs full 2>/dev/null ||
      { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
    mounted=$work/full
    cp study.ini full/
    (cd full && timeout 120 "$COSMOTL" -q study study.ini --out out --no-plots) >out.txt 2>err.txt
    rc=$?
    n=$(ls full/out/tasks 2>/dev/null | wc -l)
    echo "study on a $((kb / 2)) kB disk (half its outputs): exit $rc, $n of $total trainings saved; $(grep -m1 error err.txt | cut -c1-150)"
    [ $rc = 1 ] || fail "study on a full disk: exit $rc"
    clear_error err.txt
    [ "$n" -lt "$total" ] || fail "the disk did not fill in the middle ($n of $total trainings)"
    no_partial full 'nothing'
    # every file under a final name is whole: equal to the reference's
    for f in $(cd full/out && find . -type f ! -name '*.log' | sort); do
      case $f in
      ./tasks/*) cmp -s <(grep -v '^seconds ' ref/out/$f) <(grep -v '^seconds ' full/out/$f) ;;
      *) cmp -s ref/out/$f full/out/$f ;;
      esac || fail "$f on the full disk differs from the reference (partial?)"
    done
    mkdir -p run && cp -r full/out study.ini run/
    umount full && mounted=""
    resume_study run
    ;;
  readonly-study)
    # the kernel refuses the remount while a file is open for writing, so under
    # load the small study can end before the remount succeeds: that attempt
    # proves nothing and is repeated (at most 3 attempts)
    for attempt in 1 2 3; do
      ro_disk
      cp study.ini full/
      (cd full && exec "$COSMOTL" -q study study.ini --out out --no-plots) >out.txt 2>err.txt &
      pid=$!
      first_task full/out/tasks $pid
      make_ro $pid || true
      wait $pid; rc=$?
      n=$(ls full/out/tasks | wc -l)
      [ $rc = 0 ] && [ "$n" = "$total" ] && [ $attempt -lt 3 ] || break
      echo "attempt $attempt: the study ended before the remount took effect; again"
      umount full && mounted="" && rm -rf full
    done
    echo "output made read-only after the first training: exit $rc, $n of $total trainings saved; $(grep -m1 error err.txt | cut -c1-150)"
    [ $rc = 1 ] || fail "study on a read-only folder: exit $rc"
    grep -qi 'read-only' err.txt || fail "error does not say read-only: $(head -c 400 err.txt)"
    [ "$n" -lt "$total" ] || fail "the study ended before the folder became read-only"
    no_partial full 'nothing' ro
    mount -o remount,rw full || fail "remount rw"
    resume_study full
    no_temporaries full
    ;;
  esac
  ;;
readonly-gather|readonly-train)
  need simulate; need summarize; need gather; need train
  simulate_some s8 0:8
  "$COSMOTL" -q summarize s8/*/snapdir_004 --grid 32 --stats pk,mk --out s8sum >s.log 2>&1 ||
    fail "summarize 8"
  printf '# a b\n' >params.txt
  for i in $(seq 0 7); do printf '0.%d 0.%d\n' $((i + 1)) $((9 - i)) >>params.txt; done
  if [ $case_ = readonly-gather ]; then
    # 64 summaries (copies of the 8): the reading takes long enough to remount
    # between the start and the table's write
    mkdir -p many
    for i in $(seq 0 63); do cp s8sum/$((i % 8)).h5 many/$i.h5; done
    for i in $(seq 8 63); do printf '0.%d 0.%d\n' $((i % 8 + 1)) $((9 - i % 8)) >>params.txt; done
    cmd=(gather "$work/many" --params "$work/params.txt" --out table.h5)
    outs=(table.h5)
    named='table.h5'
    watch=""
  else
    "$COSMOTL" -q gather s8sum --params params.txt --out t.h5 >g.log 2>&1 ||
      fail "gather 8: $(tail -1 g.log)"
    printf '[data]\nsuite = %s/t.h5\nstats = pk\nsplit = 0.5,0.25\n[model]\nhidden = 64,64\n[train]\nepochs = 300\nbatch = 2\ncheckpoint = ck.h5\nlog_every = 0\n[output]\nmodel = model.h5\n' "$work" >t.ini
    cmd=(train t.ini) # run in the folder of its outputs, as the config names them
    outs=(model.h5 ck.h5)
    named='(ck|model).h5' # the write that fails: the next checkpoint, or the model
    watch=ck.h5
  fi
  mkdir -p ref && cp t.ini ref/ 2>/dev/null
  (cd ref && "$COSMOTL" -q "${cmd[@]}" >../ref.log 2>&1) ||
    fail "reference run: $(tail -n 2 ref.log)"
  # under load the run can end before the remount succeeds (the kernel refuses it
  # while a file is open for writing): that attempt proves nothing, repeated
  for attempt in 1 2 3; do
    ro_disk
    cp t.ini full/ 2>/dev/null
    (cd full && exec "$COSMOTL" "${cmd[@]}") >out.txt 2>err.txt &
    pid=$!
    if [ -n "$watch" ]; then
      for _ in $(seq 1 1200); do [ -e "full/$watch" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
    fi
    make_ro $pid || true
    wait $pid; rc=$?
    [ $rc = 0 ] && [ $attempt -lt 3 ] || break
    echo "attempt $attempt: $case_ ended before the remount took effect; again"
    umount full && mounted="" && rm -rf full
  done
  echo "$case_: output made read-only mid-run: exit $rc; $(grep -m1 -i 'read-only' err.txt | cut -c1-160)"
  [ $rc = 1 ] || fail "exit $rc on a read-only folder (expected 1)"
  [ "$(grep -c 'error' err.txt)" = 1 ] || fail "not one error line: $(cat err.txt)"
  grep -qE "$named: .*Read-only file system" err.txt ||
    fail "the error does not name $named and say Read-only file system: $(head -c 400 err.txt)"
  no_partial full "${outs[0]}" ro
  if [ $case_ = readonly-train ]; then
    # the checkpoint under its final name is a whole one (it reads)
    [ -e full/ck.h5 ] || fail "no checkpoint before the remount"
    "$COSMOTL" inspect full/ck.h5 >/dev/null 2>&1 || fail "the kept checkpoint does not read"
  fi
  mount -o remount,rw full || fail "remount rw"
  (cd full && "$COSMOTL" -q "${cmd[@]}") >again.txt 2>&1 || fail "rerun on a writable folder: $(tail -n 2 again.txt)"
  no_temporaries full
  for f in "${outs[@]}"; do
    cmp -s "ref/$f" "full/$f" || fail "$f after the rerun differs from an uninterrupted run"
  done
  ;;
membudget-bound)
  need simulate
  [ -x /usr/bin/time ] || { echo "SKIP: no /usr/bin/time"; exit 77; }
  "$CT_SOURCE_ROOT/tools/bench/sim/memory" "${CT_BUILD_ROOT:?}" 128 "1 2" >mem.txt 2>&1 ||
    fail "tools/bench/sim/memory: $(tail -n 3 mem.txt)"
  cat mem.txt
  rows=$(grep -cE '^[0-9]' mem.txt)
  [ "$rows" = 2 ] || fail "expected 2 rows, got $rows"
  # columns: np mesh ranks estimate measured estimate/measured
  awk '/^[0-9]/ && !($4 + 0 >= $5 + 0 && $5 + 0 > 0) {print; bad = 1} END {exit bad}' mem.txt ||
    fail "the estimate is below the measured peak (or nothing was measured)"
  ;;
membudget)
  need simulate
  # a PM memory budget smaller than the simulation's estimated peak: refused
  # before anything is allocated or written, with the need stated
  sed 's/^\[sim\]$/[sim]\nmemory_gb = 0.01/' "$suite_ini" >mem.ini
  timeout 60 "$COSMOTL" simulate mem.ini --out msim --range 0:1 >out.txt 2>err.txt
  rc=$?
  [ $rc = 1 ] || [ $rc = 3 ] || fail "simulate over its memory budget: exit $rc"
  grep -qE 'needs about [0-9.e+-]+ GiB per rank, more than the memory budget of 0.01 GiB' err.txt ||
    fail "the error does not state the need: $(head -c 400 err.txt)"
  echo "$(grep -m1 -o 'simulation of.*GiB per rank (' err.txt)"
  [ -z "$(find msim -name 'snap_*' 2>/dev/null)" ] || fail "snapshot written over budget"
  # a budget that fits runs
  sed 's/^\[sim\]$/[sim]\nmemory_gb = 4/' "$suite_ini" >mem4.ini
  "$COSMOTL" -q simulate mem4.ini --out msim4 --range 0:1 >out4.txt 2>&1 || fail "simulate within budget: $(tail -n 2 out4.txt)"
  ;;
readonly-simulate|readonly-summarize)
  need simulate; need summarize
  # the reference runs in r/ with the same relative output path (outputs record it)
  if [ $case_ = readonly-simulate ]; then
    cmd=(simulate "$suite_ini" --out suite --range 0:4)
    outs=(0/snapdir_004/snap_004.0.hdf5 1/snapdir_004/snap_004.0.hdf5 2/snapdir_004/snap_004.0.hdf5 3/snapdir_004/snap_004.0.hdf5)
    watch=suite/0/snapdir_004
  else
    simulate_some sims 0:6
    cmd=(summarize "$work"/sims/0 "$work"/sims/1 "$work"/sims/2 "$work"/sims/3 "$work"/sims/4 "$work"/sims/5 --grid 64 --stats pk,mk --out suite)
    outs=(0.h5 1.h5 2.h5 3.h5 4.h5 5.h5)
    watch=suite/0.h5
  fi
  (mkdir -p r && cd r && "$COSMOTL" -q "${cmd[@]}" >../r.log 2>&1) || fail "reference run: $(tail -n 2 r.log)"
  refdir=r/suite
  ro_disk
  (cd full && exec "$COSMOTL" "${cmd[@]}") >out.txt 2>err.txt &
  pid=$!
  for _ in $(seq 1 1200); do [ -e "full/$watch" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  make_ro $pid || true
  wait $pid; rc=$?
  echo "$case_: output made read-only after the first item: exit $rc; $(grep -m1 -i 'read-only' err.txt | cut -c1-150)"
  [ $rc = 1 ] || [ $rc = 3 ] || fail "exit $rc (expected 1, or 3: some items failed)"
  grep -qi 'read-only' err.txt out.txt || fail "no error saying read-only: $(head -c 400 err.txt)"
  no_partial full 'nothing' ro
  mount -o remount,rw full || fail "remount rw"
  (cd full && "$COSMOTL" -q "${cmd[@]}") >again.txt 2>&1 || fail "rerun on a writable folder: $(tail -n 2 again.txt)"
  no_temporaries full
  for f in "${outs[@]}"; do
    cmp -s "$refdir/$f" "full/suite/$f" || fail "$f after the rerun differs from an uninterrupted run"
  done
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
finish "$case_"
