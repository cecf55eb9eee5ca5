#!/bin/bash
# cosmotl summarize --stats pk,mk,bk end to end on a tiny Quijote-layout suite:
# /mk and /bk groups with their settings; the same numbers on 1 and 2 ranks; the
# bispectrum equals the library's direct measurement; --mark-p 0 gives M = X = P;
# the triangle-count cache is written once and reused; Quijote text columns;
# bad settings fail with one line and write nothing.
#   test_bk_summarize.sh PK_TOOL TEST_BK_TOOL
set -u
: "${COSMOTL:?}"
pk_tool=$(realpath "${1:?pk_tool}")
tool=$(realpath "${2:?test_bk_tool}")
. "$(dirname "$0")/../common.sh" e2e_bk

run 0 "make suite" "$mpirun_sh" 1 "$pk_tool" make suite 2
# dk = 2 kF, k1 <= 8 kF: 4 shells, 3 x 8.5 < 32 (no aliasing); triangles:
# 1 + 3 + 5 + 8 = 17 (j1 = 1..4)
opts="--stats pk,mk,bk --grid 32 --bk-dk 2 --bk-kmax 8 --quijote-text"
run 0 "summarize np1" "$mpirun_sh" 1 "$COSMOTL" summarize suite/0 suite/1 $opts --out out1
run 0 "check out1/0" "$tool" check out1/0.h5 17
run 0 "check out1/1" "$tool" check out1/1.h5 17
ls out1/.cache/bk_counts_N32_dk2_k8.h5 >/dev/null 2>&1 || fail "no count cache in out1/.cache"
run 0 "summarize np2" "$mpirun_sh" 2 "$COSMOTL" summarize suite/0 suite/1 $opts --out out2 \
  --bk-cache out1/.cache
[ -e out2/.cache ] && fail "out2 made its own cache although --bk-cache was given"
for s in 0 1; do
  run 0 "out2/$s vs out1/$s" "$tool" compare out2/$s.h5 out1/$s.h5
done
# float32 shells: B within 1e-6 relative, recorded in /bk; B differs from float64
run 0 "summarize f32" "$mpirun_sh" 2 "$COSMOTL" summarize suite/0 $opts --bk-float32 --out out32 \
  --bk-cache out1/.cache
run 0 "f32 vs f64" "$tool" compare32 out32/0.h5 out2/0.h5
run 1 "f32 is not f64 bit for bit" "$tool" compare out32/0.h5 out2/0.h5 bk
run 0 "direct B0" "$mpirun_sh" 1 "$tool" direct suite/0/snapdir_004 out1/0.h5 32 2 8
run 0 "p = 0" "$COSMOTL" summarize suite/0 --stats pk,mk --mark-p 0 --grid 32 --out p0
run 0 "M = X = P for p = 0" "$tool" same_pk p0/0.h5

# Quijote text: 10 columns, 17 rows of triangles; marked file named as in the study
f=out1/0/Bk_m_z=0.txt
[ -f "$f" ] || fail "no $f"
[ "$(grep -vc '^#' "$f")" = 17 ] || fail "$f: not 17 triangles"
[ "$(grep -v '^#' "$f" | awk '{print NF}' | sort -u)" = 10 ] || fail "$f: not 10 columns"
[ "$(grep -v '^#' "$f" | head -2 | awk '{printf "%s %s %s;", $1, $2, $3}')" = "2 2 2;4 2 2;" ] ||
  fail "$f: first triangles are not (2,2,2), (4,2,2) kF"
[ -f "out1/0/Pk_m_marked_fTH_R10.0_p2.0_ds0.25_z0.txt" ] || fail "no marked text file"
ls -a out1 out1/.cache | grep -q '\.tmp\.' && fail "temporary files left"

# the suite table: /bk/P is nsim x ntriangles, /mk/P as /pk/P
run 0 "gather" "$COSMOTL" gather out1 --out tables/suite.h5 --params suite/params.txt
run 0 "table" "$tool" table tables/suite.h5 2 17

# redshift space: the bispectrum of the displaced field, recorded as such
run 0 "rsd" "$COSMOTL" summarize suite/0 --stats bk --rsd z --grid 32 --bk-dk 2 --bk-kmax 8 \
  --out rsd
run 0 "inspect rsd" "$COSMOTL" inspect rsd/0.h5
grep -q "rsd" out.txt || fail "inspect does not show the rsd setting"
run 1 "rsd differs from real space" "$tool" compare rsd/0.h5 out1/0.h5 bk
grep -q "bk/B:" err.txt || fail "rsd vs real space: B does not differ"

# only bk: no /pk group
run 0 "bk only" "$COSMOTL" summarize suite/0 --stats bk --grid 32 --bk-dk 2 --bk-kmax 8 --out bko
run 0 "inspect" "$COSMOTL" inspect bko/0.h5
grep -q "bk" out.txt || fail "inspect does not list /bk"

# bad settings: one line, exit 2, nothing written
run 2 "unknown stat" "$COSMOTL" summarize suite/0 --stats pk,xk --out bad
[ "$(wc -l < err.txt)" = 1 ] || fail "unknown stat: not one line"
run 2 "kmax beyond the grid" "$COSMOTL" summarize suite/0 --stats bk --grid 32 --out bad
grep -q "bk-kmax" err.txt || fail "kmax beyond the grid: the message does not name --bk-kmax"
run 2 "bad mark offset" "$COSMOTL" summarize suite/0 --stats mk --mark-ds -1 --out bad
run 2 "bad budget" "$COSMOTL" summarize suite/0 --stats bk --mem-budget -3 --out bad
[ -e bad ] && fail "bad settings created output"
# a budget too small for the grid: the snapshot fails and says why
run 3 "tiny budget" "$COSMOTL" summarize suite/0 --stats bk --grid 32 --bk-dk 2 --bk-kmax 8 \
  --mem-budget 0.00001 --out tiny
grep -q "memory budget" err.txt || fail "tiny budget: no memory-budget message"
[ -e tiny/0.h5 ] && fail "tiny budget wrote a summary"

finish "summarize pk,mk,bk end to end"
