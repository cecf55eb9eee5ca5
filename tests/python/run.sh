#!/bin/sh
# Run Python tests against the INSTALLED package:
#   run.sh BUILD_DIR NP TEST.py...
# installs the build into a temporary prefix (meson install --destdir), makes
# the test data (make_data.py, with the installed `cosmotl`), then runs pytest
# on NP ranks (mpirun) with PYTHONPATH set to the installed site-packages only.
# PYTHON is the interpreter meson built the package for.
set -u
build=$(cd "${1:?build dir}" && pwd); np=${2:?ranks}; shift 2
here=$(cd "$(dirname "$0")" && pwd)
: "${PYTHON:?PYTHON must name the interpreter}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d /tmp/ct_python_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL: meson install"; exit 1; }
init=$(find "$tmp/root" -path '*-packages/cosmotl/__init__.py' | head -1)
[ -n "$init" ] || { echo "FAIL: no cosmotl package in the installed tree"; exit 1; }
site=$(dirname "$(dirname "$init")")
bin=$(find "$tmp/root" -path '*/bin/cosmotl' -type f | head -1)
[ -n "$bin" ] || { echo "FAIL: no installed cosmotl program"; exit 1; }
# the installed extension must find the installed libcosmotl.so.0 through its
# own ($ORIGIN-relative) run path: no LD_LIBRARY_PATH (which could also point at
# the build tree's copy)
unset LD_LIBRARY_PATH
export PYTHONPATH="$site" CT_PY_SITE="$site" CT_PY_ROOT="$tmp/root" COSMOTL="$bin"
export MPIRUN_SH="$here/../mpirun.sh"
export CT_PY_DATA="$tmp/data" MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1
"$PYTHON" "$here/make_data.py" "$CT_PY_DATA" >"$tmp/data.log" 2>&1 ||
  { cat "$tmp/data.log"; echo "FAIL: test data"; exit 1; }
cd "$tmp" || exit 1
# each rank writes its JUnit report; rank 0's counts are printed as one line
# "pytest: N passed, N failed, N skipped" that tools/test adds to its totals
export CT_PY_JUNIT="$tmp/junit"
if [ "$np" = 1 ]; then
  "$PYTHON" -m pytest -q -p no:cacheprovider --rootdir "$here" --junitxml="$tmp/junit.0.xml" "$@"
else
  "$MPIRUN_SH" "$np" sh -c 'py=$0 h=$1; shift; exec "$py" -m pytest -q -p no:cacheprovider \
      --rootdir "$h" --junitxml="$CT_PY_JUNIT.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}.xml" "$@"' \
    "$PYTHON" "$here" "$@"
fi
rc=$?
"$PYTHON" - "$tmp/junit.0.xml" "$rc" <<'EOF_PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("pytest: 0 passed, 1 failed, 0 skipped (no report: pytest did not run)")
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
n = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
failed = n["failures"] + n["errors"]
if failed == 0 and sys.argv[2] != "0":
    failed = 1  # pytest failed without a failing test (collection, another rank)
print(f"pytest: {n['tests'] - failed - n['skipped']} passed, {failed} failed, "
      f"{n['skipped']} skipped")
EOF_PY
exit $rc
