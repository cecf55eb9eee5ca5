#!/bin/bash
# The redesign does not change results: a small fixed-seed pipeline (the test
# suite of pk_tool: 8 snapshots, one with neutrinos; summarize pk,mk,bk on 2
# ranks, gather, train a small MLP) and a SHA-256 of every dataset of every
# summary, the suite table and the model, compared with tests/data/before-after.sha256,
# recorded from the program before the library redesign (main at c9ebbdc) with
#   COSMOTL=<that build>/cosmotl before_after.sh PK_TOOL record > tests/data/before-after.sha256
# That build is configured with -Dc_args=-ffp-contract=off, the flag every build
# now has (meson.build: no fused multiply-adds, so that every x86-64 host gives the
# same bits); model.h5 /provenance/k, a dataset the old program did not write,
# is the current program's.
# Attributes are not compared (they hold paths and the code version). A change of
# pk_tool's test suite or of an estimator changes the checksums on purpose: then
# record again and say why in the commit.
#   before_after.sh PK_TOOL [record]
set -u
: "${COSMOTL:?}" "${CT_SOURCE_ROOT:?}"
tool=$(realpath "${1:?pk_tool}")
mode=${2:-compare}
. "$(dirname "$0")/../common.sh" before_after
run 0 "make suite" "$mpirun_sh" 1 "$tool" make suite 8
snaps=$(for i in 0 1 2 3 4 5 6 7; do printf 'suite/%d ' $i; done)
run 0 "summarize" "$mpirun_sh" 2 "$COSMOTL" summarize $snaps --grid 16 --stats pk,mk,bk \
  --bk-kmax 9 --interlace --out sums
run 0 "gather" "$COSMOTL" gather sums --out table.h5 --params suite/params.txt --suite t
cat > train.ini <<'INI'
[data]
suite = table.h5
stats = pk
split = 0.5,0.25
split_seed = 3
[model]
hidden = 8,8
seed = 5
[train]
epochs = 20
batch = 2
seed = 7
patience = 0
[output]
model = model.h5
INI
run 0 "train" "$COSMOTL" train train.ini
sums() { # every dataset of the files, as "file dataset sha256"
  for f in "$@"; do
    h5ls -r "$f" | awk '$2 == "Dataset" {print $1}' | while read -r ds; do
      rm -f ds.bin
      h5dump -b LE -d "$ds" -o ds.bin "$f" >/dev/null 2>&1 || { echo "$f $ds UNREADABLE"; continue; }
      echo "$f $ds $(sha256sum < ds.bin | cut -c1-64)"
    done
  done
}
sums sums/[0-7].h5 table.h5 model.h5 > got.sha256
if [ "$mode" = record ]; then cat got.sha256; exit 0; fi
ref=$CT_SOURCE_ROOT/tests/data/before-after.sha256
[ -s "$ref" ] || { fail "no reference $ref"; finish; exit 1; }
[ "$(wc -l < got.sha256)" -ge 40 ] || fail "too few datasets checked ($(wc -l < got.sha256))"
if ! diff "$ref" got.sha256 > d.txt; then
  fail "datasets differ from the pre-redesign program:"; head -20 d.txt >&2
fi
finish
