# Shared by every cosmotl job script: `cosmotl jobs` copies this file, then the
# stage's file, below the #SBATCH directives and the CT_* settings (all quoted).
# Edit here to change every generated script; run `cosmotl jobs` again afterwards.
set -u

ct_log() { printf '[%s %s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$CT_STAGE${CT_SUITE:+ $CT_SUITE}" "$*"; }

# Site set-up (module load ..., a virtualenv): a file named by [pipeline] setup.
if [ -n "$CT_SETUP" ]; then
  # shellcheck disable=SC1090
  . "$CT_SETUP" || { ct_log "error: sourcing $CT_SETUP failed"; exit 1; }
fi

# Open MPI refuses root unless told; harmless for other users.
if [ "$(id -u)" = 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# one thread per rank unless the job asked for more cores per task
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"

# ct_launch PROGRAM ARGS...: run an MPI program on this job's tasks. A rank that
# dies ends the whole step (srun --kill-on-bad-exit; mpirun does so by default)
# instead of leaving the other ranks waiting in a collective.
ct_launch() {
  case $CT_LAUNCHER in
    srun)
      if [ -n "$CT_SRUN_MPI" ]; then srun --kill-on-bad-exit=1 --mpi="$CT_SRUN_MPI" "$@"
      else srun --kill-on-bad-exit=1 "$@"; fi ;;
    mpirun)
      mpirun -np "${SLURM_NTASKS:-1}" --bind-to none "$@" ;;
    *)
      ct_log "error: unknown launcher '$CT_LAUNCHER'"; return 1 ;;
  esac
}

# ct_range: this array task's simulations [CT_A, CT_B).
ct_range() {
  t=${SLURM_ARRAY_TASK_ID:-0}
  CT_A=$((CT_FIRST + t * CT_PER_TASK))
  CT_B=$((CT_A + CT_PER_TASK))
  [ "$CT_B" -gt "$CT_LAST" ] && CT_B=$CT_LAST
  if [ "$CT_A" -ge "$CT_B" ]; then
    ct_log "array task $t has no simulations (range $CT_FIRST:$CT_LAST)"; exit 0
  fi
}

# ct_finish RC: exit 3 means "every item was tried, some failed and are recorded
# in the manifest"; with [pipeline] allow_failed = yes the chain goes on (gather
# records the failures), otherwise it stops here.
ct_finish() {
  rc=$1
  if [ "$rc" = 3 ] && [ "$CT_ALLOW_FAILED" = 1 ]; then
    ct_log "some items failed (recorded in the manifest); continuing"
    rc=0
  fi
  ct_log "finished with exit code $rc"
  exit "$rc"
}

ct_log "job ${SLURM_JOB_ID:-none} task ${SLURM_ARRAY_TASK_ID:-none} on $(hostname) with ${SLURM_NTASKS:-1} task(s)"
