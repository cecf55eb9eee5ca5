#!/bin/bash
# The generated scripts under a real (local) SLURM, with a stand-in program in place
# of cosmotl so this checks the batch machinery alone: arrays cover every simulation
# exactly once, afterok orders simulate -> summarize -> gather -> study, srun and
# mpirun both launch, every array task has its own log, and a failing stage stops
# the chain. The full pipeline with the real program is tests/slurm/pipeline.sh.
set -u
. "$(dirname "$0")/lib.sh"
cd "$work" || exit 1
mkdir -p existing
cat >stub <<'EOS'
#!/bin/bash
# stand-in for cosmotl: rank 0 records the call and creates the outputs
[ "${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-0}}" = 0 ] || exit 0
log=$(dirname "$0")/calls.txt
echo "$(date +%s.%N) ${SLURM_JOB_ID:-} ${SLURM_ARRAY_TASK_ID:--} ${SLURM_NTASKS:-} $*" >>"$log"
cmd=$1; shift
case $cmd in
  simulate) out=""; range=""
    while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift ;; --range) range=$2; shift ;; esac; shift; done
    for i in $(seq "${range%:*}" $((${range#*:} - 1))); do mkdir -p "$out/$i/snapdir_004"; touch "$out/$i/snapdir_004/snap_004.0.hdf5"; done ;;
  summarize) out=""; snaps=()
    while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift ;; --*) shift ;; *) snaps+=("$1") ;; esac; shift; done
    mkdir -p "$out"
    for s in "${snaps[@]}"; do
      i=$(basename "$(dirname "$s")")
      [ -e "$s" ] || [ "${STUB_STRICT:-1}" = 0 ] || { echo "missing $s"; exit 1; }
      touch "$out/$i.h5"
    done ;;
  gather) [ "$(basename "$1")" = broken ] && { echo "gather: cannot"; exit 1; }
    while [ $# -gt 0 ]; do case $1 in --out) touch "$2" ;; esac; shift; done ;;
  study) while [ $# -gt 0 ]; do case $1 in --out) mkdir -p "$2"; touch "$2/report.md" ;; esac; shift; done ;;
esac
sleep 1
EOS
chmod +x stub
for i in 0 1 2 3 4; do mkdir -p existing/$i/snapdir_004; touch existing/$i/snapdir_004/snap_004.0.hdf5; done
echo '[x]' >sim.ini; echo '[x]' >study.ini
cat >p.ini <<'EOF2'
[pipeline]
name = chain
cosmotl = ./stub
suites = sim, old
[slurm]
time = 00:05:00
ntasks = 1
launcher = srun
[slurm.summarize]
ntasks = 2
launcher = mpirun
[study]
config = study.ini
[suite.sim]
simulate = sim.ini
range = 2:7
sims_per_task = 2
snapshots_per_task = 3
[suite.old]
dir = existing
range = 0:5
snapshots_per_task = 2
EOF2
"$COSMOTL" jobs p.ini --scheduler slurm --submit --out out >submit.txt 2>&1 ||
  { cat submit.txt >&2; fail "cosmotl jobs --submit failed"; finish chain; exit 1; }
cut -f1 out/jobs/submitted.tsv | tail -n +2 | tr '\n' ' ' >ids
wait_jobs 240 $(cat ids) || fail "the chain did not complete"
for id in $(cat ids); do
  st=$(job_state "$id")
  [ "$st" = "COMPLETED " ] || fail "job $id ended $st"
done
# outputs: every simulation simulated and summarized once, tables, report
for i in 2 3 4 5 6; do [ -e out/suites/sim/$i/snapdir_004/snap_004.0.hdf5 ] || fail "sim $i not simulated"; done
for i in 2 3 4 5 6; do [ -e out/summaries/sim/$i.h5 ] || fail "sim $i not summarized"; done
for i in 0 1 2 3 4; do [ -e out/summaries/old/$i.h5 ] || fail "old $i not summarized"; done
[ -e out/tables/sim.h5 ] && [ -e out/tables/old.h5 ] || fail "tables missing"
[ -e out/study/report.md ] || fail "study did not run"
[ "$(grep -c ' simulate ' calls.txt)" = 3 ] || fail "5 sims / 2 per task = 3 simulate tasks"
[ "$(grep -c ' summarize ' calls.txt)" = 5 ] || fail "2 + 3 summarize tasks expected"
grep ' summarize .*/existing/' calls.txt | grep -q ' 2 summarize' || fail "summarize ran with 2 tasks through mpirun"
# afterok order: each stage starts after the last task of the one before it ended
last() { grep " $1 .*$2" calls.txt | cut -d' ' -f1 | sort -n | tail -1; }
first() { grep " $1 .*$2" calls.txt | cut -d' ' -f1 | sort -n | head -1; }
before() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0.9 < b) }'; }
before "$(last simulate sim.ini)" "$(first summarize /suites/sim/)" || fail "summarize started before simulate ended"
before "$(last summarize /suites/sim/)" "$(first gather summaries/sim)" || fail "gather started before summarize ended"
before "$(last gather tables/)" "$(first study study.ini)" || fail "study started before the gathers ended"
# one log per array task
n=$(ls out/logs | wc -l)
[ "$n" = 11 ] || fail "expected 11 logs (3+2+1 + 3+1 + 1), found $n: $(ls out/logs)"
grep -q "finished with exit code 0" out/logs/chain-summarize-old-*_1.log || fail "log of array task 1 incomplete"

# a failing stage stops the chain: gather fails, the study never runs
rm -rf out2
sed -e 's/^dir = existing/dir = broken/' p.ini >p2.ini
mkdir -p broken
"$COSMOTL" jobs p2.ini --submit --out out2 >submit2.txt 2>&1 || fail "second submit failed"
ids2=$(cut -f1 out2/jobs/submitted.tsv | tail -n +2 | tr '\n' ' ')
echo "$ids2" >>ids
study_id=$(awk -F'\t' '$2 == "study" { print $1 }' out2/jobs/submitted.tsv)
gather_id=$(awk -F'\t' '$2 == "gather" && $3 == "old" { print $1 }' out2/jobs/submitted.tsv)
# the summarize of "broken" fails (no snapshots): its gather and the study must
# be left waiting on a dependency that can never be satisfied
if wait_jobs 240 $ids2; then
  fail "the chain with a failing stage ran to the end"
else
  case $(squeue -h -j "$gather_id" -o %r 2>/dev/null) in
    *DependencyNeverSatisfied*) ;;
    *) fail "gather after a failed summarize: $(job_state "$gather_id")" ;;
  esac
  case $(job_state "$study_id") in
    "PENDING ") ;;
    *) fail "study after a failed stage: $(job_state "$study_id")" ;;
  esac
fi
[ -e out2/study/report.md ] && fail "study ran after a failed stage"
scancel $ids2 2>/dev/null
finish chain
