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
#   timeouts   every registered test has a timeout, every MPI test a hard one
#   fulldisk-train  train's checkpoint and model on a full disk: clear error, no
#              model, no temporaries; a rerun elsewhere equals a clean run (cmp)
#   bytes      simulate, summarize, gather and train run twice (more than one
#              second apart) write byte-identical HDF5 files (no time stamps in
#              object headers), so a resumed run can be checked with cmp
set -u
: "${COSMOTL:?}" "${CT_SOURCE_ROOT:?}"
case_=${1:?case}
. "$(dirname "$0")/../common.sh" rel
mounted=""
ct_e2e_cleanup() { [ -n "$mounted" ] && umount "$mounted" 2>/dev/null; rm -rf "$work"; }
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
# no_partial DIR PATTERN: nothing matching PATTERN under a final name, no temporaries
no_partial() {
  [ -z "$(find "$1" -name "$2" 2>/dev/null)" ] || fail "partial outputs: $(find "$1" -name "$2")"
  [ -z "$(find "$1" -name '.*.tmp.*' 2>/dev/null)" ] || fail "temporaries left: $(find "$1" -name '.*.tmp.*')"
}
clear_error() { # the message says why
  grep -qiE 'no space|disk full|file too large|write failed|cannot write' "$1" ||
    fail "error does not say the disk is full: $(head -c 400 "$1")"
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
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
finish "$case_"
