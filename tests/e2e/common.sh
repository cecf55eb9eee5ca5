# Sourced by the end-to-end scripts (after `set -u`):
#   . "$(dirname "$0")/../common.sh" NAME
# gives a scratch folder $work (removed on exit; the script runs inside it),
# $mpirun_sh (tests/mpirun.sh), failure counting with fail, a runner that checks
# the exit code, finish, which prints PASS/FAIL and returns the status, and
# ct_shared REL: the path of REL in the shared Quijote folder ($CT_SHARED, else
# SOURCE/../shared or SOURCE/../../shared as tests/testlib.h looks), or REL under
# $CT_SHARED when none holds it (the caller's -f test then skips or fails).
ct_e2e_name=${1:?e2e name}
mpirun_sh=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../mpirun.sh")
work=$(mktemp -d "/tmp/ct_${ct_e2e_name}_XXXXXX")
ct_e2e_cleanup() { rm -rf "$work"; }
trap 'ct_e2e_cleanup' EXIT
cd "$work" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
run() { # run WANT_RC DESCRIPTION CMD...   (output in out.txt / err.txt)
  local want=$1 what=$2 got
  shift 2
  "$@" >out.txt 2>err.txt; got=$?
  [ "$got" = "$want" ] || { fail "$what: exit $got, expected $want"; cat out.txt err.txt >&2; }
}
finish() { # finish [WHAT]
  if [ "$fails" = 0 ]; then echo "PASS: ${1:-$ct_e2e_name}"; else echo "FAIL: ${1:-$ct_e2e_name}: $fails check(s)"; fi
  [ "$fails" = 0 ]
}
ct_shared() { # ct_shared REL
  local d
  for d in "${CT_SHARED:-}" "${CT_SOURCE_ROOT:-.}/../shared" "${CT_SOURCE_ROOT:-.}/../../shared"; do
    [ -n "$d" ] && [ -e "$d/$1" ] && { echo "$d/$1"; return; }
  done
  echo "${CT_SHARED:-.}/$1"
}
