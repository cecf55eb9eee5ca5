#!/bin/bash
# Paths and lists past the program's buffers are errors, never silently cut
# (issue 15: "anything past a cap must be an error or dynamic"). Each command gets
# an argument or a config value longer than it can hold and must fail with one
# line naming the problem, a non-zero exit and no output.
#   long_paths.sh
set -u
: "${COSMOTL:?}" "${CT_SOURCE_ROOT:?}"
. "$(dirname "$0")/../common.sh" long_paths
long=$(printf 'abcdefghij%.0s' $(seq 1 460))   # 4600 characters
one_line() { # one_line WHAT PATTERN: err.txt is one line matching PATTERN
  [ "$(wc -l < err.txt)" = 1 ] && grep -q "$2" err.txt ||
    fail "$1: not one line with '$2': $(head -c 300 err.txt)"
}
# summarize: a snapshot path of 4600 characters
run 1 "summarize, long path" "$COSMOTL" summarize "/tmp/$long/snapdir_004" --grid 16 --out s
one_line "summarize" "path too long"
[ -e s ] && fail "summarize left output"
# summarize: --out longer than the system opens (PATH_MAX)
run 2 "summarize, long --out" "$COSMOTL" summarize /tmp/x --stats bk --grid 16 --bk-kmax 6 \
  --out "/tmp/$long"
one_line "summarize --out" "characters (at most 4095)"
# summarize: --out of 1400+ characters, as long as the system takes, works (the
# manifest held 1024-byte paths: "bad manifest directory"), the same spectrum
deep=$work; for i in 1 2 3 4 5 6 7; do deep=$deep/${long:0:200}; done
snap=${CT_SOURCE_ROOT:?}/tests/data/quijote_blosc/snapdir_004
run 0 "summarize, --out of ${#deep} characters" "$COSMOTL" summarize "$snap" --grid 16 --quijote-text --out "$deep"
run 0 "summarize, short --out" "$COSMOTL" summarize "$snap" --grid 16 --quijote-text --out short
cmp -s "$deep/quijote_blosc/Pk_m_z=0.txt" short/quijote_blosc/Pk_m_z=0.txt ||
  fail "summarize into a long --out: not the same Pk_m_z=0.txt"
grep -q "quijote_blosc.*done" "$deep/manifest.tsv" || fail "long --out: manifest.tsv does not record the item"
# summarize: a snapshot path of 4000+ characters (the system's limit is 4095;
# summarize took at most 3999), the same spectrum as through a short path
far=$work; while [ ${#far} -lt 4020 ]; do far=$far/${long:0:200}; done
mkdir -p "$far/sim" && ln -s "$snap" "$far/sim/snapdir_004"
run 0 "summarize, snapshot path of $((${#far} + 16)) characters" "$COSMOTL" summarize "$far/sim/snapdir_004" --grid 16 --quijote-text --out farout
cmp -s farout/sim/Pk_m_z=0.txt short/quijote_blosc/Pk_m_z=0.txt ||
  fail "summarize of a long snapshot path: not the same Pk_m_z=0.txt"
# jobs: an output root and a suite folder longer than the 1024 bytes the job
# scripts held ("output path too long"), written into the scripts whole (the
# config sits in the deep folder: its relative paths are relative to it)
mkdir -p "$deep/suite"
printf '[pipeline]\nname = longp\nsuites = a\n[suite.a]\ndir = suite\nrange = 0:2\n' > "$deep/p.ini"
run 0 "jobs, --out of ${#deep} characters" "$COSMOTL" jobs "$deep/p.ini" --out "$deep/pipe"
grep -qxF "CT_SUITE_DIR='$deep/suite'" "$deep/pipe/jobs/summarize-a.sbatch" ||
  fail "jobs: the long suite folder is not in summarize-a.sbatch"
grep -qxF "CT_TABLE='$deep/pipe/tables/a.h5'" "$deep/pipe/jobs/gather-a.sbatch" ||
  fail "jobs: the long table path is not in gather-a.sbatch"
grep -qF "$deep/pipe/jobs/gather-a.sbatch" out.txt || fail "jobs: the long script path is not printed"
# simulate: a config line longer than the INI parser takes (was cut, and its
# rest read as another line)
cat > sim.ini <<INI
[suite]
out = sims
table = /tmp/${long:0:400}/params.txt
INI
run 1 "simulate, long config line" "$COSMOTL" simulate sim.ini
one_line "simulate" "sim.ini:3: line longer than"
[ -e sims ] && fail "simulate left output"
# study: --out longer than the study's paths
cat > study.ini <<'INI'
[study]
out = out
targets = NU
statistics = pk
[pretrain]
name = LCDM
suite = lcdm.h5
params = Omega_m
[target.NU]
suite = nu.h5
params = Omega_m
INI
run 1 "study, long --out" "$COSMOTL" study study.ini --out "/tmp/$long" --no-plots
one_line "study --out" "longer than"
# study: a ${NAME} that expands past the path buffer
run 1 "study, long \${VAR}" env CT_LONG="/tmp/$long" "$COSMOTL" study \
  <(sed 's|^suite = lcdm.h5|suite = ${CT_LONG}/lcdm.h5|' study.ini) --no-plots
one_line "study \${VAR}" "too long once"
# study: more seeds than the analyses hold
sed 's/^statistics = pk/statistics = pk\nseeds = 65/' study.ini > seeds.ini
run 1 "study, 65 seeds" "$COSMOTL" study seeds.ini --no-plots
one_line "study seeds" "seeds = 65: at most 64"
[ -e out ] && fail "study left output"
# train: the same for a long list of dummy names
names=$(for i in $(seq 1 70); do printf 'd%d,' $i; done)
cat > train.ini <<INI
[data]
suite = table.h5
targets = a
dummy = ${names%,}
[output]
model = model.h5
INI
run 1 "train, long dummy line" "$COSMOTL" train train.ini
one_line "train" "train.ini:4: line longer than"
[ -e model.h5 ] && fail "train left output"
finish
