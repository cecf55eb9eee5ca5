# Shared by the slurm suite: start (or join) the local one-node cluster, release it
# on exit, wait for jobs. Source after setting `set -u`. Exit 77 = skipped.
: "${COSMOTL:?}" "${CT_SOURCE_ROOT:?}"
slurm_local=$CT_SOURCE_ROOT/tools/slurm-local
work=$(mktemp -d /tmp/ct_slurm_XXXXXX)
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

cleanup() {
  # cancel whatever this test submitted and still runs, then leave the cluster
  if [ -s "$work/ids" ]; then scancel $(cat "$work/ids") 2>/dev/null; fi
  "$slurm_local" stop --holder $$ >/dev/null 2>&1
  if [ "$fails" = 0 ] || [ -z "${CT_KEEP:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

env_line=$("$slurm_local" start --holder $$)
rc=$?
if [ $rc = 77 ]; then echo "SKIP: SLURM cannot run here"; exit 77; fi
[ $rc = 0 ] || { echo "tools/slurm-local start failed ($rc)" >&2; exit 1; }
eval "$env_line"
export SLURM_CONF

# wait_jobs TIMEOUT ID...: until none of the jobs is queued or running (0), or
# all that remain wait on a dependency that can never be satisfied (1).
wait_jobs() {
  limit=$1; shift
  t=0
  while :; do
    q=$(squeue -h -j "$(echo "$@" | tr ' ' ',')" -o '%i %r' 2>/dev/null)
    [ -z "$q" ] && return 0
    # stuck: nothing runs, nothing waits for resources, something can never start
    if echo "$q" | grep -q DependencyNeverSatisfied &&
       ! echo "$q" | grep -qvE ' (Dependency|DependencyNeverSatisfied)$'; then
      echo "jobs left waiting on failed dependencies:" >&2; echo "$q" >&2; return 1
    fi
    sleep 1; t=$((t + 1))
    if [ $t -ge "$limit" ]; then
      fail "jobs $* still queued after ${limit}s"; squeue >&2; return 1
    fi
  done
}

# job_state ID: the final state of a job that has left the queue ("" if unknown).
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' '; }

finish() {
  if [ "$fails" = 0 ]; then echo "PASS: $1"; else echo "FAIL: $1: $fails check(s)"; fi
  [ "$fails" = 0 ]
}
