#!/bin/bash
# The positions policy through `cosmotl summarize` (issue 17): a particle at
# 5 x BoxSize (kpc/h read as Mpc/h on a few particles) fails that snapshot with
# one error naming the file, the particle type, the index and the value, and no
# summary is written (exit 3, recorded in the manifest); positions within the
# stated tolerance (1e-3 BoxSize: Gadget's x = BoxSize and tiny negatives) are
# wrapped; --wrap-positions (or wrap_positions = yes in the config) wraps all.
#   positions.sh MAKE_FIXTURES POKE_POSITION
set -u
: "${COSMOTL:?}"
mk=$(realpath "${1:?make_fixtures}")
poke=$(realpath "${2:?poke_position}")
. "$(dirname "$0")/../common.sh" e2e_positions

run 0 "make fixtures" "$mk" fx
for s in far far2 near; do cp -r fx/good "$s"; done
# CDM particle 7 of the second file at x = 5 BoxSize (fixture box: 1e6 kpc/h)
run 0 "poke far" "$poke" far/snapdir_000/snap_000.1.hdf5 1 7 0 5e6
# a neutrino at y = -3 BoxSize
run 0 "poke far2" "$poke" far2/snapdir_000/snap_000.0.hdf5 2 4 1 -3e6
# within the tolerance: x = BoxSize, y = -100 kpc/h (1e-4 L), z = L + 900 kpc/h
run 0 "poke near x" "$poke" near/snapdir_000/snap_000.0.hdf5 1 2 0 1e6
run 0 "poke near y" "$poke" near/snapdir_000/snap_000.0.hdf5 1 2 1 -100
run 0 "poke near z" "$poke" near/snapdir_000/snap_000.1.hdf5 2 3 2 1000900

opts="--grid 8"
run 3 "summarize far" "$COSMOTL" summarize far/snapdir_000 $opts --out o1
grep -qF "far/snapdir_000/snap_000.1.hdf5: PartType1 (CDM) particle 7 of this file: x = 5000000 is outside the box [0, 1000000)" err.txt ||
  fail "the error does not name file, type, index and value: $(cat err.txt)"
[ -e o1/far.h5 ] && fail "a summary was written for the far position"
grep -q "far.*failed" o1/manifest.tsv || fail "manifest does not record the failure"
ls -a o1 | grep -q '\.tmp\.' && fail "temporaries left in o1"

run 3 "summarize far2 np2" "$mpirun_sh" 2 "$COSMOTL" summarize far2/snapdir_000 $opts --out o2
grep -qF "snap_000.0.hdf5: PartType2 (neutrinos) particle 4 of this file: y = -3000000" err.txt ||
  fail "the neutrino error does not name type, index and value: $(cat err.txt)"
[ -e o2/far2.h5 ] && fail "a summary was written for the far neutrino"

run 0 "summarize near" "$COSMOTL" summarize near/snapdir_000 $opts --out o3
[ -s o3/near.h5 ] || fail "no summary for positions within the tolerance"

run 0 "summarize far --wrap-positions" "$COSMOTL" summarize far/snapdir_000 $opts \
  --wrap-positions --out o4
[ -s o4/far.h5 ] || fail "no summary with --wrap-positions"
printf '[summarize]\nsnapshots = far/snapdir_000\ngrid = 8\nwrap_positions = yes\nout = o5\n' > w.ini
run 0 "summarize CONFIG wrap_positions = yes" "$COSMOTL" summarize w.ini
[ -s o5/far.h5 ] || fail "no summary with wrap_positions = yes"
printf '[summarize]\nsnapshots = far/snapdir_000\ngrid = 8\nwrap_positions = no\nout = o6\n' > n.ini
run 3 "summarize CONFIG wrap_positions = no" "$COSMOTL" summarize n.ini
finish
