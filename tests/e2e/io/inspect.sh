#!/bin/sh
# cosmotl inspect on snapshot fixtures: good ones print the header, counts,
# cosmology, units and position range; every bad one exits non-zero with one
# line naming the file and the problem, and the fixtures are left unchanged.
# Usage: inspect.sh MAKE_FIXTURES   (COSMOTL and CT_SOURCE_ROOT from the test env)
set -u
mk=$1
dir=$(mktemp -d /tmp/ct_inspect_XXXXXX)
trap 'rm -rf "$dir"' EXIT
# no filter plugins: the Blosc-compressed fixture must be reported, not decoded
HDF5_PLUGIN_PATH=/nonexistent-ct-plugins; export HDF5_PLUGIN_PATH
"$mk" "$dir" || { echo "FAIL: cannot make fixtures"; exit 1; }
before=$(cd "$dir" && find . | sort | md5sum)
pass=0; fail=0

good() { # path, then fixed strings expected on stdout
  p=$1; shift
  out=$("$COSMOTL" inspect "$dir/$p" 2>"$dir.err"); rc=$?
  for s in "$@"; do
    if ! printf '%s\n' "$out" | grep -qF -- "$s"; then
      echo "FAIL: inspect $p: missing '$s' (exit $rc)"; cat "$dir.err"; fail=$((fail+1)); return
    fi
  done
  if [ $rc -ne 0 ]; then echo "FAIL: inspect $p exit $rc"; fail=$((fail+1)); return; fi
  pass=$((pass+1))
}

bad() { # path, expected fixed string in the single stderr line
  out=$("$COSMOTL" inspect "$dir/$1" 2>&1 >/dev/null); rc=$?
  lines=$(printf '%s\n' "$out" | wc -l)
  if [ $rc -eq 0 ] || [ "$lines" -ne 1 ] || ! printf '%s' "$out" | grep -qF -- "$2"; then
    echo "FAIL: inspect $1: exit $rc, $lines line(s), expected '$2':"; echo "$out"
    fail=$((fail+1))
  else
    pass=$((pass+1))
  fi
}

good good/snapdir_000 "format: Gadget HDF5, 2 files" "BoxSize              1000000 kpc/h" \
  "Time                 0.5" "Redshift             1" "Omega0               0.3175" \
  "NumPart_Total        0 50 20 0 0 0" "type 1 (CDM): 50, mass 65.6 x 1e10 Msun/h each" \
  "type 2 (neutrinos): 20, per-particle masses" "box: 1000 Mpc/h" \
  "cosmology: Omega_m = 0.3175, Omega_Lambda = 0.6825, h = 0.6711, z = 1, a = 0.5" \
  "units: positions comoving Mpc/h (file: kpc/h)" "position range, type 1: x ["
good single/snapdir_000/snap_000.hdf5 "format: Gadget HDF5, 1 file"
good gadget2/snapdir_000 "format: Gadget binary format II, 1 file" "type 1 (CDM): 50"
good gadgetmulti/snapdir_000/ics "format: Gadget binary format I, 3 files"
good eqbox/snapdir_000 "position range, type 1: x [0,"
good mpcunits/snapdir_000 "BoxSize              1000 Mpc/h" "(file: Mpc/h)" "box: 1000 Mpc/h"

bad missing/snapdir_000 "snap_000.1.hdf5: missing file 1 of the 3 files"
bad missing0/snapdir_000 "snap_000.0.hdf5: missing file 0"
bad inconsistent/snapdir_000 "snap_000.1.hdf5: header Omega0 differs"
bad rows/snapdir_000 "Coordinates has 24 rows but NumPart_ThisFile[1] = 25"
bad dtype/snapdir_000 "PartType1/Coordinates has the wrong dtype"
bad shape/snapdir_000 "PartType1/Coordinates has the wrong shape"
bad nonfinite/snapdir_000 "snap_000.1.hdf5: PartType1/Coordinates row 12 has a non-finite value"
bad outofbox/snapdir_000 "outside the box"
bad filter/snapdir_000 "HDF5_PLUGIN_PATH"
bad highword/snapdir_000 "NumPart_Total (with HighWord) is 4294967346"
bad total/snapdir_000 "NumPart_Total (with HighWord) is 53"
bad truncated/snap_000.hdf5 "truncated"
bad gadgettrunc/snapdir_000/ics "ics: truncated"
bad noheader/snapdir_000 "not a snapshot"
bad emptydir/snapdir_000 "not a snapshot"
bad notsnap.txt "not a snapshot"
bad no/such/path "no such file"

# the same failure on 2 ranks: every rank agrees, non-zero exit, no hang
out=$(CT_MPI_TIMEOUT=60 "$CT_SOURCE_ROOT/tests/mpirun.sh" 2 "$COSMOTL" inspect \
      "$dir/missing/snapdir_000" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && printf '%s' "$out" | grep -qF "missing file 1"; then
  pass=$((pass+1))
else
  echo "FAIL: 2-rank inspect of a broken snapshot: exit $rc"; echo "$out"; fail=$((fail+1))
fi
out=$(CT_MPI_TIMEOUT=60 "$CT_SOURCE_ROOT/tests/mpirun.sh" 2 "$COSMOTL" inspect \
      "$dir/good_u8/snapdir_000" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^snapshot:')" -eq 1 ]; then
  pass=$((pass+1))
else
  echo "FAIL: 2-rank inspect of a good snapshot: exit $rc"; echo "$out"; fail=$((fail+1))
fi

after=$(cd "$dir" && find . | sort | md5sum)
if [ "$before" = "$after" ]; then pass=$((pass+1)); else echo "FAIL: inspect changed files"; fail=$((fail+1)); fi
rm -f "$dir.err"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
