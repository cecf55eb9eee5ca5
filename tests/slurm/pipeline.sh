#!/bin/bash
# The whole pipeline through the local SLURM cluster with the real program:
# `cosmotl jobs --submit` simulates two small suites (job arrays; mpirun), summarizes
# them on 2 ranks (srun --mpi=pmix), gathers one table each and runs a tiny study;
# every output is checked. Resubmitting the same command does nothing and says so.
set -u
. "$(dirname "$0")/lib.sh"
cd "$work" || exit 1
for c in simulate summarize gather study; do
  "$COSMOTL" $c --help >/dev/null 2>&1 || { echo "SKIP: cosmotl $c is not available yet"; exit 77; }
done
suite_ini=$CT_SOURCE_ROOT/configs/suites/lcdm.ini
cat >study.ini <<'EOF2'
[study]
targets = b
statistics = pk
kmax = 0
log10 = true
architectures = dummy
baselines = scratch
budgets = 4
seeds = 1
seed = 7
test_fraction = 0.25
val_fraction = 0.25
dummy_outputs = max
group_size = 1
[pretrain]
name = a
suite = a.h5
params = Omega_m, sigma_8
hidden = 8
epochs = 20
patience = 5
[finetune]
epochs = 20
patience = 5
trials = 1
[target.b]
suite = b.h5
params = Omega_m, sigma_8
EOF2
cat >p.ini <<EOF2
[pipeline]
name = e2e
suites = a, b
[slurm]
time = 00:10:00
launcher = srun
srun_mpi = pmix
[slurm.simulate]
ntasks = 2
launcher = mpirun
[slurm.summarize]
ntasks = 2
[simulate]
ranks_per_sim = 1
[summarize]
grid = 32
ranks_per_snapshot = 1
[study]
config = study.ini
[suite.a]
simulate = $suite_ini
range = 0:6
sims_per_task = 3
snapshots_per_task = 3
[suite.b]
simulate = $suite_ini
range = 100:106
sims_per_task = 3
snapshots_per_task = 6
EOF2
submit() { # submit OUT: submit the pipeline and wait for it
  "$COSMOTL" jobs p.ini --scheduler slurm --submit --out "$1" >submit.txt 2>&1 ||
    { cat submit.txt >&2; fail "cosmotl jobs --submit failed"; return 1; }
  ids=$(cut -f1 "$1/jobs/submitted.tsv" | tail -n +2 | tr '\n' ' ')
  echo "$ids" >>ids
  wait_jobs 300 $ids || { fail "the pipeline did not complete"; tail -n 5 "$1"/logs/* >&2; return 1; }
  for id in $ids; do
    st=$(job_state "$id")
    [ "$st" = "COMPLETED " ] || { fail "job $id ended $st"; tail -n 5 "$1"/logs/* >&2; }
  done
}
submit out
for i in $(seq 0 5) $(seq 100 105); do
  s=a; [ "$i" -ge 100 ] && s=b
  [ -e out/suites/$s/$i/snapdir_004/snap_004.0.hdf5 ] || fail "$s/$i not simulated"
  [ -e out/summaries/$s/$i.h5 ] || fail "$s/$i not summarized"
done
for s in a b; do
  n=$(grep -c '	done	' out/summaries/$s/manifest.tsv)
  want=6
  [ "$n" = $want ] || fail "summaries/$s/manifest.tsv: $n done, expected $want"
  grep -qE '	(failed|running|todo)	' out/summaries/$s/manifest.tsv && fail "$s: unfinished items"
  "$COSMOTL" inspect out/tables/$s.h5 >inspect.txt 2>&1 || fail "table $s unreadable"
  grep -q "($want present, 0 failed" inspect.txt || fail "table $s: $(grep present inspect.txt)"
done
[ -s out/study/results.csv ] && [ -s out/study/report.md ] || fail "study outputs missing"
[ "$(ls out/logs | wc -l)" = 10 ] || fail "expected 10 logs (2+2+1 + 2+1+1 + 1): $(ls out/logs)"
# the same command again: every stage finds its work complete
rm -rf out/logs
submit out
grep -l "nothing to do" out/logs/e2e-simulate-* >/dev/null || fail "simulate rerun did not say 'nothing to do'"
grep -l "nothing to do" out/logs/e2e-summarize-* >/dev/null || fail "summarize rerun did not say 'nothing to do'"
grep -q "	1	vm\|	1	$(hostname -s)	" out/summaries/a/manifest.tsv || fail "rerun changed attempts"
finish pipeline
