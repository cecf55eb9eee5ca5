#!/bin/bash
# cosmotl summarize / gather / inspect end to end on a tiny Quijote-layout suite
# (4 simulations; sim 1 has neutrinos, sim 2 is corrupt, sim 3 is not summarized):
# the same P(k) on 1 rank, 2 ranks and 2 groups of 1 rank with 2 threads; equal to
# the library's direct measurement; Quijote text; the suite table has the layout
# of the released tables with /status 1,1,2,0; bad input fails with one line;
# --pk-float32 within its tolerance of the double path.
#   summarize.sh PK_TOOL
set -u
: "${COSMOTL:?}" "${CT_SHARED:?}"
tool=$(realpath "${1:?pk_tool}")
. "$(dirname "$0")/../common.sh" e2e_pk

run 0 "make suite" "$mpirun_sh" 1 "$tool" make suite 4
# one rank streams a snapshot in chunks of particles (read while the previous
# chunk is painted): small chunks here, so that every one-rank run below uses
# many (32^3 particles in chunks of 1000), compared with 2 ranks (no streaming)
export CT_SUMMARIZE_CHUNK=1000
head -c 3000 suite/2/snapdir_004/snap_004.0.hdf5 > t && mv t suite/2/snapdir_004/snap_004.0.hdf5
snaps="suite/0/snapdir_004 suite/1 suite/2/snapdir_004"
opts="--grid 32 --mas cic --interlace --quijote-text"

run 3 "summarize np1" "$mpirun_sh" 1 "$COSMOTL" summarize $snaps $opts --out out1
grep -q "suite/2" err.txt || fail "the corrupt snapshot is not reported"
[ "$(grep -c 'error' err.txt)" -ge 1 ] || fail "no error line for the corrupt snapshot"
run 3 "summarize np2" "$mpirun_sh" 2 "$COSMOTL" summarize $snaps $opts --out out2
run 3 "summarize 2 groups x 2 threads" "$mpirun_sh" 2 "$COSMOTL" summarize $snaps $opts \
  --out out3 --group-size 1 --threads 2
for o in out2 out3; do
  for s in 0 1; do
    run 0 "$o/$s.h5 vs out1" "$tool" compare "$o/$s.h5" "out1/$s.h5" pk
  done
  run 0 "$o/1.h5 cb vs out1" "$tool" compare "$o/1.h5" out1/1.h5 pk_cb
done
[ -e out1/2.h5 ] && fail "a summary was written for the corrupt snapshot"
ls -a out1 | grep -q '\.tmp\.' && fail "temporary files left in out1"
grep -q "failed" out1/manifest.tsv || fail "manifest does not record the failure"

# batches read the next snapshot while computing the current one
# (ct_summarize_prefetch): the same summaries bit for bit as one snapshot per
# process, on 1 and 2 ranks; right, wrong and unopenable hints in the library
for np in 1 2; do
  for s in 0 1; do
    run 0 "summarize $s alone np$np" "$mpirun_sh" $np "$COSMOTL" summarize suite/$s $opts --out seq$np
  done
  o=out1; [ $np = 2 ] && o=out2
  for f in 0/Pk_m_z=0.txt 1/Pk_m_z=0.txt 1/Pk_cb_z=0.txt; do
    cmp -s "$o/$f" "seq$np/$f" || fail "np$np: $f differs between the batch and one snapshot per process"
  done
  for s in 0 1; do
    run 0 "$o/$s.h5 = seq$np/$s.h5 (/pk)" h5diff "$o/$s.h5" "seq$np/$s.h5" /pk /pk
  done
  run 0 "read-ahead hints np$np" "$mpirun_sh" $np "$tool" hints suite/0/snapdir_004 suite/1/snapdir_004 .
done
# overlapped painting (one rank, P(k) alone: snapshot i + 1 read and painted
# into a second mesh, and a second shifted one here, by a helper thread while
# snapshot i is transformed and binned; forced on whatever the cores): a batch
# of 3 CDM snapshots gives every summary bit for bit as one snapshot per
# process (a mix-up of the two meshes gives the wrong snapshot's spectrum);
# right, wrong and unopenable hints and a painted snapshot left at destroy in
# the library; CT_OVERLAP_PAINT=0 gives the same files too
run 0 "make suite ov" "$mpirun_sh" 1 "$tool" make ov 4
for s in 0 2 3; do
  run 0 "summarize ov/$s alone" "$mpirun_sh" 1 "$COSMOTL" summarize ov/$s $opts --out ovseq
done
for ov in 1 0; do
  CT_OVERLAP_PAINT=$ov run 0 "summarize 3 snapshots, CT_OVERLAP_PAINT=$ov" "$mpirun_sh" 1 \
    "$COSMOTL" summarize ov/0 ov/2 ov/3 $opts --out ov$ov
  grep -q "overlapped painting" err.txt; [ $? = $((1 - ov)) ] ||
    fail "CT_OVERLAP_PAINT=$ov: overlapped painting $( [ $ov = 1 ] && echo not) announced"
  for s in 0 2 3; do
    cmp -s "ov$ov/$s/Pk_m_z=0.txt" "ovseq/$s/Pk_m_z=0.txt" ||
      fail "CT_OVERLAP_PAINT=$ov: ov/$s's spectrum differs between the batch and one snapshot per process"
    run 0 "ov$ov/$s.h5 = ovseq/$s.h5 (/pk)" h5diff "ov$ov/$s.h5" "ovseq/$s.h5" /pk /pk
  done
done
CT_OVERLAP_PAINT=1 run 0 "read-ahead hints, overlapped painting" "$mpirun_sh" 1 "$tool" hints \
  ov/0/snapdir_004 ov/3/snapdir_004 .
# the float32 mesh and redshift space the same way
for v in f32 rsd; do
  extra="--pk-float32"; [ $v = rsd ] && extra="--rsd 1"
  for s in 0 2 3; do
    run 0 "summarize ov/$s alone, $extra" "$mpirun_sh" 1 "$COSMOTL" summarize ov/$s $opts $extra --out ovseq$v
  done
  CT_OVERLAP_PAINT=1 run 0 "summarize 3 snapshots overlapped, $extra" "$mpirun_sh" 1 \
    "$COSMOTL" summarize ov/0 ov/2 ov/3 $opts $extra --out ov$v
  for s in 0 2 3; do
    run 0 "ov$v/$s.h5 = ovseq$v/$s.h5 (/pk)" h5diff "ov$v/$s.h5" "ovseq$v/$s.h5" /pk /pk
  done
done

# one chunk instead of 33: the same spectrum to round-off (the order of the
# additions in the cells changes with the chunks)
CT_SUMMARIZE_CHUNK=100000000 run 0 "summarize one chunk" "$COSMOTL" summarize suite/0 $opts --out onechunk
run 0 "one chunk vs 33 chunks" "$tool" compare onechunk/0.h5 out1/0.h5 pk
# several ranks stream their shares too, each chunk exchanged, then painted; with
# 3 ranks (shares 10923, 10923, 10922) and chunks of 10922 ranks 0 and 1 have two
# chunks and rank 2 one: it takes part in the second round with no particles
CT_SUMMARIZE_CHUNK=10922 run 0 "summarize np3, uneven chunks" "$mpirun_sh" 3 "$COSMOTL" \
  summarize suite/0 $opts --out np3chunks
run 0 "np3 uneven chunks vs out1" "$tool" compare np3chunks/0.h5 out1/0.h5 pk

# total matter by default (above: /pk of sim 1 weighs PartType1 and PartType2 by
# mass); cb on request: --species cb puts exactly /pk_cb's spectrum into /pk
run 0 "summarize --species cb" "$COSMOTL" summarize suite/1 $opts --species cb --out cbout
run 0 "cb on request = default /pk_cb" "$tool" compare cbout/1.h5 out1/1.h5 pk:pk_cb
[ -f cbout/1/Pk_cb_z=0.txt ] || fail "--species cb: no Pk_cb_z=0.txt"
[ -f cbout/1/Pk_m_z=0.txt ] && fail "--species cb wrote a Pk_m file"
run 2 "bad --species" "$COSMOTL" summarize suite/1 --species nu --out badsp
grep -q "species must be m" err.txt || fail "bad --species not named"

# the library measurement of the same snapshot (no interlacing)
run 0 "summarize plain" "$COSMOTL" summarize suite/0 --grid 32 --out plain
run 0 "direct P(k)" "$mpirun_sh" 1 "$tool" direct suite/0/snapdir_004 plain/0.h5 32

# the float32 path (--pk-float32): the same k and mode counts, P within 1e-6
# below k_Nyquist, on 1 rank (streamed in chunks) and 2, total matter and /pk_cb;
# /pk float32 = 1 there only; with other statistics a one-line error
for np in 1 2; do
  o=out1; [ $np = 2 ] && o=out2
  run 0 "summarize --pk-float32 np$np" "$mpirun_sh" $np "$COSMOTL" summarize suite/0 suite/1 $opts \
    --pk-float32 --out f32np$np
  for g in 0:pk 1:pk 1:pk_cb; do
    run 0 "float32 vs double ${g%%:*}.h5 ${g#*:} np$np" "$tool" compare32 "f32np$np/${g%%:*}.h5" \
      "$o/${g%%:*}.h5" "${g#*:}"
  done
  h5dump -a /pk/float32 f32np$np/0.h5 | grep -q "(0): 1" || fail "np$np: no /pk float32 = 1"
done
h5dump -a /pk/float32 out1/0.h5 >/dev/null 2>&1 && fail "a double summary has /pk float32"
run 2 "--pk-float32 with bk" "$COSMOTL" summarize suite/0 --grid 32 --stats pk,bk --bk-dk 2 --bk-kmax 8 --pk-float32 \
  --out f32bad
[ "$(wc -l < err.txt)" = 1 ] && grep -q "pk-float32 measures P(k) alone" err.txt ||
  fail "--pk-float32 with bk: not the one-line error"
[ -e f32bad ] && fail "--pk-float32 with bk created output"

# the CONFIG form gives the same summary; unknown keys are one-line errors
printf '[summarize]\nsuite = suite\nrange = 0:1\ngrid = 32\nout = cfgout\n' > s.ini
run 0 "summarize CONFIG" "$COSMOTL" summarize s.ini
run 0 "CONFIG vs options" "$tool" compare cfgout/0.h5 plain/0.h5 pk
printf '[summarize]\nsuite = suite\nrange = 0:1\ngrdi = 32\n' > bad.ini
run 1 "CONFIG with a typo" "$COSMOTL" summarize bad.ini
grep -q "bad.ini:4: unknown key summarize.grdi" err.txt || fail "typo not named with file:line"

# Quijote text: k P in real space, k P0 P2 P4 in redshift space; cb for neutrinos
[ -f out1/0/Pk_m_z=0.txt ] || fail "no out1/0/Pk_m_z=0.txt"
[ -f out1/1/Pk_cb_z=0.txt ] || fail "no out1/1/Pk_cb_z=0.txt"
[ "$(awk '{print NF}' out1/0/Pk_m_z=0.txt | sort -u)" = 2 ] || fail "Pk_m_z=0.txt is not 2 columns"
run 0 "summarize rsd" "$COSMOTL" summarize suite/0 --grid 32 --rsd z --quijote-text --out rsd
[ "$(awk '{print NF}' rsd/0/Pk_m_RS2_z=0.txt | sort -u)" = 4 ] || fail "RSD text is not 4 columns"
first_k=$(head -1 out1/0/Pk_m_z=0.txt | awk '{printf "%.6f", $1}')
# first bin: |n| in [1, 2): 3 + 6 + 4 modes at |n| = 1, sqrt 2, sqrt 3
[ "$first_k" = "0.044498" ] || fail "first k $first_k, expected 2 pi / 200 (3 + 6 sqrt2 + 4 sqrt3) / 13"

# rerun: complete items skipped, the corrupt one retried
run 3 "rerun" "$COSMOTL" summarize $snaps $opts --out out1
grep -q "2 complete\|complete" err.txt out.txt || fail "rerun does not report complete items"

# gather: layout of the released tables, status 1,1,2,0
run 0 "gather" "$mpirun_sh" 2 "$COSMOTL" gather out1 --out tables/suite.h5 --params suite/params.txt
ref=$(ct_shared quijote-summaries/LH.h5)
run 0 "table layout" "$tool" table tables/suite.h5 "$ref" 1,1,2,0
run 0 "inspect table" "$COSMOTL" inspect tables/suite.h5
grep -q "4 (2 present, 1 failed, 1 missing)" out.txt || { fail "inspect table"; cat out.txt >&2; }
# the runner hands the summaries out to the ranks and rank 0 assembles the
# rows in simulation order: the same table byte for byte on 1, 2 and 4 ranks,
# also with a summary that fails to read (a truncated 1.h5: status 2, its
# reason recorded) and one whose settings differ from the first (another grid)
cp -r out1 gbad && head -c 2000 out1/1.h5 > gbad/1.h5
run 0 "summarize grid 16" "$COSMOTL" summarize suite/0 --grid 16 --out g16
cp -r out1 gmix && cp g16/0.h5 gmix/1.h5
for np in 1 4; do
  run 0 "gather np$np" "$mpirun_sh" $np "$COSMOTL" gather out1 --out tables/np$np.h5 --params suite/params.txt
  cmp -s tables/np$np.h5 tables/suite.h5 || fail "gather on $np ranks differs from 2 ranks"
done
for d in gbad gmix; do
  for np in 1 2 4; do
    run 0 "gather $d np$np" "$mpirun_sh" $np "$COSMOTL" gather $d --out tables/$d$np.h5 --params suite/params.txt
    grep -q "simulation 1 failed: $d/1.h5" err.txt || fail "gather $d np$np: failure of 1.h5 not reported"
  done
  run 0 "$d table status" "$tool" table tables/${d}1.h5 "$ref" 1,2,2,0
  for np in 2 4; do
    cmp -s tables/${d}1.h5 tables/$d$np.h5 || fail "gather $d: $np ranks differ from 1 rank"
  done
done
# more statistic groups than gather held once (16): 20 copies of /pk in every
# summary give 21 groups, each the same table as /pk's, on 1 and 2 ranks
cp -r gbad gmany
/usr/bin/python3 - gmany <<'PY' || fail "cannot add groups to gmany"
import glob, sys, h5py
for p in glob.glob(sys.argv[1] + "/[0-9].h5"):
    try:
        f = h5py.File(p, "a")
    except OSError:
        continue  # the truncated 1.h5
    with f:
        for k in range(20):
            f.copy("pk", "pk%02d" % k)
PY
for np in 1 2; do
  run 0 "gather 21 groups np$np" "$mpirun_sh" $np "$COSMOTL" gather gmany --out tables/many$np.h5 --params suite/params.txt
done
cmp -s tables/many1.h5 tables/many2.h5 || fail "gather 21 groups: 2 ranks differ from 1 rank"
for g in pk00 pk19; do
  h5diff tables/many1.h5 tables/many1.h5 /pk /$g >/dev/null 2>&1 || fail "gather 21 groups: /$g differs from /pk"
done
# a gather_rows list longer than gather holds (32 names) is an error naming the
# file and the attribute, never a table with the rows past 32 left out
cp -r gbad glong
/usr/bin/python3 - glong/0.h5 <<'PY' || fail "cannot set gather_rows in glong"
import sys, h5py
with h5py.File(sys.argv[1], "a") as f:
    g = f["pk"]
    for k in range(33):
        g.copy("P2", "R%02d" % k)
    g.attrs["gather_rows"] = ",".join("R%02d" % k for k in range(33))
PY
run 1 "gather 33 rows" "$COSMOTL" gather glong --out tables/glong.h5 --params suite/params.txt
[ "$(wc -l < err.txt)" = 1 ] && grep -q "glong/0.h5: gather_rows lists more than 32 names" err.txt ||
  fail "gather 33 rows: not one line naming the list: $(head -c 300 err.txt)"
[ -e tables/glong.h5 ] && fail "gather 33 rows wrote a table"
h5dump -d status_reason tables/gmix4.h5 | grep -q "gmix/1.h5: /pk attribute grid\|gmix/1.h5: /pk grid" ||
  fail "gather gmix: the grid mismatch is not the recorded reason"
# a --pk-float32 summary among double ones is not gathered into their table
cp -r out1 gf32 && cp f32np1/1.h5 gf32/1.h5
run 0 "gather gf32" "$COSMOTL" gather gf32 --out tables/gf32.h5 --params suite/params.txt
h5dump -d status_reason tables/gf32.h5 | grep -q "gf32/1.h5: /pk attribute float32 differs" ||
  fail "gather gf32: the precision mismatch is not the recorded reason"
run 0 "inspect summary" "$COSMOTL" inspect out1/0.h5
grep -q "P0" out.txt || fail "inspect summary shows no P0"
grep -q "CIC" out.txt || fail "inspect summary shows no MAS"

# bad input: one line, non-zero, nothing written
run 2 "bad grid" "$COSMOTL" summarize suite/0 --grid 7 --out bad
[ "$(wc -l < err.txt)" = 1 ] || fail "bad grid: not one line"
[ -e bad ] && fail "bad grid created output"
run 2 "bad rsd" "$COSMOTL" summarize suite/0 --rsd w --out bad
run 1 "gather missing dir" "$COSMOTL" gather nowhere --out t.h5
[ "$(wc -l < err.txt)" = 1 ] || fail "gather missing dir: not one line"
[ -e t.h5 ] && fail "gather wrote a table for a missing folder"
mv suite/params.txt suite/p.txt
run 1 "gather without params" "$COSMOTL" gather out2 --out t.h5
mv suite/p.txt suite/params.txt
grep -q "params" err.txt || fail "gather without params does not say so"

finish "summarize/gather end to end"
