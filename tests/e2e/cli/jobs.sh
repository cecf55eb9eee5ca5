#!/bin/bash
# `cosmotl jobs` without a cluster: hostile config values cannot inject shell code
# or #SBATCH directives; submission chains job ids with afterok (a stand-in sbatch
# records its arguments); bad configs fail with one line naming the file and key
# and write nothing.   jobs.sh CASE   (CASE: hostile | submit | badconfig)
set -u
: "${COSMOTL:?}" "${CT_SOURCE_ROOT:?}"
case_=${1:?case}
. "$(dirname "$0")/../common.sh" jobs

# stand-ins that record their arguments one per line (NUL-safe enough for tests)
mkdir -p bin
cat >bin/fake-cosmotl <<'EOS'
#!/bin/bash
printf '%s\n' "$@" >>"$CT_TEST_ARGS"
printf -- '--\n' >>"$CT_TEST_ARGS"
EOS
cat >bin/srun <<'EOS'
#!/bin/bash
# drop srun's own options, run the program
while [ $# -gt 0 ]; do case $1 in --*) shift ;; *) break ;; esac; done
exec "$@"
EOS
cat >bin/mpirun <<'EOS'
#!/bin/bash
while [ $# -gt 0 ]; do case $1 in -np|--bind-to) shift 2 ;; -*) shift ;; *) break ;; esac; done
exec "$@"
EOS
chmod +x bin/*

case $case_ in
hostile)
  # every value a shell would act on; the canary must never appear
  # (the jobs run in $work, so a relative CANARY lands there)
  evil="x'; touch CANARY; echo '"
  evil2='$(touch CANARY)`touch CANARY`"; touch CANARY; "\'
  mkdir -p "$work/$evil" "$work/s p a c e"
  echo '[study]' >"$work/study $evil2.ini"
  cat >p.ini <<EOF2
[pipeline]
name = hostile
cosmotl = bin/fake-cosmotl
suites = a, b
[slurm]
launcher = srun
[slurm.gather]
launcher = mpirun
[summarize]
stats = pk,mk
[study]
config = study $evil2.ini
[suite.a]
dir = $evil
snapshot = snap $evil2
range = 3:8
snapshots_per_task = 2
[suite.b]
dir = s p a c e
range = 0:1
EOF2
  run 0 "jobs with hostile paths" "$COSMOTL" jobs p.ini --out out
  for s in out/jobs/*.sbatch; do bash -n "$s" || fail "$s does not parse"; done
  # run every array task of summarize-a as SLURM would, then gather and study
  export CT_TEST_ARGS=$work/args.txt PATH=$work/bin:$PATH
  for t in 0 1 2; do
    SLURM_ARRAY_TASK_ID=$t SLURM_NTASKS=1 bash out/jobs/summarize-a.sbatch >>run.log 2>&1 ||
      fail "summarize task $t failed"
  done
  SLURM_NTASKS=1 bash out/jobs/gather-a.sbatch >>run.log 2>&1 || fail "gather failed"
  SLURM_NTASKS=1 bash out/jobs/study.sbatch >>run.log 2>&1 || fail "study failed"
  [ -e "$work/CANARY" ] && fail "a config value ran as shell code"
  # the program received each hostile path as one exact argument
  grep -qxF "$work/$evil/3/snap $evil2" args.txt || fail "snapshot path not passed verbatim"
  grep -qxF "$work/$evil/7/snap $evil2" args.txt || fail "last snapshot of the range missing"
  grep -qxF "$work/$evil/8/snap $evil2" args.txt && fail "range end is exclusive"
  grep -qxF "$work/study $evil2.ini" args.txt || fail "study config not passed verbatim"
  [ "$(grep -c '^summarize$' args.txt)" = 3 ] || fail "expected 3 summarize calls"
  # hostile values where the shell or sbatch would read them unquoted are refused
  for bad in "partition = a;touch $work/CANARY" "account = \$(id)" "time = 1:00 --wrap=id" \
             "mem = 4G'" "qos = a b" "srun_mpi = pmix;id"; do
    sed "s|^launcher = srun|launcher = srun\n$bad|" p.ini >bad.ini
    rm -rf outbad
    run 1 "refuse '$bad'" "$COSMOTL" jobs bad.ini --out outbad
    key=${bad%% =*}
    grep -q "bad.ini: \[slurm.simulate\] $key" err.txt || fail "error for '$bad' does not name the key: $(cat err.txt)"
    [ -e outbad/jobs ] && fail "scripts written despite '$bad'"
  done
  sed 's|^name = hostile|name = a$(id)|' p.ini >bad.ini
  run 1 "refuse a hostile pipeline name" "$COSMOTL" jobs bad.ini --out outbad
  run 1 "refuse an output path sbatch would misread" "$COSMOTL" jobs p.ini --out "o%ut"
  # a line break would end a script line: refused with one line, nothing written
  run 1 "refuse an output path with a line break" "$COSMOTL" jobs p.ini \
    --out "$(printf 'o\nut $(touch CANARY)')"
  grep -q "holds a line break" err.txt || fail "line break not named: $(cat err.txt)"
  [ "$(wc -l <err.txt)" = 1 ] || fail "more than one error line for the line break"
  ls | grep -q '^o$' && fail "something written for an output path with a line break"
  [ -e "$work/CANARY" ] && fail "canary after refusals"
  ;;
submit)
  mkdir -p suiteA suiteB
  echo '[run]' >sim.ini
  echo '[run]' >study.ini
  cat >p.ini <<'EOF2'
[pipeline]
name = chain
suites = A, B
[study]
config = study.ini
[suite.A]
dir = suiteA
range = 0:10
snapshots_per_task = 4
[suite.B]
simulate = sim.ini
range = 0:3
EOF2
  cat >bin/sbatch <<'EOS'
#!/bin/bash
n=$(($(cat "$CT_TEST_IDS" 2>/dev/null || echo 100) + 1)); echo $n >"$CT_TEST_IDS"
echo "$*" >>"$CT_TEST_ARGS"
echo "sbatch: warning: a harmless warning" >&2
echo "$n;cluster1"
EOS
  chmod +x bin/sbatch
  export CT_TEST_ARGS=$work/args.txt CT_TEST_IDS=$work/ids
  run 0 "jobs --submit" env PATH="$work/bin:$PATH" "$COSMOTL" jobs p.ini --scheduler slurm --submit --out out
  # order: summarize A, gather A, simulate B, summarize B, gather B, study
  want="--parsable $work/out/jobs/summarize-A.sbatch
--parsable --dependency=afterok:101 $work/out/jobs/gather-A.sbatch
--parsable $work/out/jobs/simulate-B.sbatch
--parsable --dependency=afterok:103 $work/out/jobs/summarize-B.sbatch
--parsable --dependency=afterok:104 $work/out/jobs/gather-B.sbatch
--parsable --dependency=afterok:102:105 $work/out/jobs/study.sbatch"
  [ "$(cat args.txt)" = "$want" ] || { fail "sbatch calls differ"; diff <(echo "$want") args.txt >&2; }
  [ "$(wc -l <out/jobs/submitted.tsv)" = 7 ] || fail "submitted.tsv should list 6 jobs"
  grep -q '^106	study' out/jobs/submitted.tsv || fail "study id not recorded"
  grep -q '^#SBATCH --array=0-2$' out/jobs/summarize-A.sbatch || fail "10 snapshots / 4 per task = 3 tasks"
  grep -q '^#SBATCH --array=0-2$' out/jobs/simulate-B.sbatch || fail "3 simulations, 1 per task"
  grep -q '^CT_SUITE_DIR=.*/out/suites/B.$' out/jobs/summarize-B.sbatch || fail "simulated suite goes under OUT/suites"
  grep -q '^#SBATCH --output=.*/out/logs/%x-%A_%a.log$' out/jobs/summarize-A.sbatch || fail "one log per array task"
  grep -q 'printed' out.txt && true
  grep -q 'submitted 106' out.txt || fail "ids not printed: $(cat out.txt)"
  # submit.sh does the same chain by hand
  rm -f ids args.txt
  (PATH="$work/bin:$PATH" sh out/jobs/submit.sh >sub.txt 2>&1) || fail "submit.sh failed"
  [ "$(cat args.txt | sed "s|$work/out/jobs/||")" = "$(echo "$want" | sed "s|$work/out/jobs/||")" ] ||
    { fail "submit.sh chain differs"; cat args.txt >&2; }
  # a failing sbatch: clear error, non-zero exit
  printf '#!/bin/sh\necho "sbatch: error: invalid partition specified: nope" >&2\nexit 1\n' >bin/sbatch
  run 1 "failing sbatch" env PATH="$work/bin:$PATH" "$COSMOTL" jobs p.ini --submit --out out2
  grep -q "invalid partition specified" err.txt || fail "sbatch's message not shown: $(cat err.txt)"
  # garbage instead of a job id
  printf '#!/bin/sh\necho "Submitted batch job"\n' >bin/sbatch
  run 1 "unparsable sbatch output" env PATH="$work/bin:$PATH" "$COSMOTL" jobs p.ini --submit --out out3
  run 1 "missing sbatch" "$COSMOTL" jobs p.ini --submit --out out4 --sbatch /nonexistent/sbatch
  ;;
badconfig)
  mkdir -p suiteA
  good='[pipeline]
suites = A
[suite.A]
dir = suiteA
range = 0:4'
  check_bad() { # check_bad DESCRIPTION EXPECTED_TEXT CONFIG_TEXT
    printf '%s\n' "$3" >bad.ini
    rm -rf out
    run 1 "$1" "$COSMOTL" jobs bad.ini --out out
    [ "$(wc -l <err.txt)" = 1 ] || fail "$1: error is not one line: $(cat err.txt)"
    grep -q "bad.ini" err.txt || fail "$1: error does not name the file: $(cat err.txt)"
    grep -q -- "$2" err.txt || fail "$1: expected '$2' in: $(cat err.txt)"
    [ -e out ] && fail "$1: output written"
  }
  check_bad "unknown key" "bad.ini:6: unknown key suite.A.rnage" "$good
rnage = 1:2"
  check_bad "unknown section key" "unknown key slurm.partiton" "$good
[slurm]
partiton = x"
  check_bad "no suites" "suites is required" "[pipeline]
name = x"
  check_bad "suite without section" "has no \[suite.B\] section" "${good/suites = A/suites = A, B}"
  check_bad "empty range" "range" "${good/range = 0:4/range = 4:4}"
  check_bad "missing dir" "is not a folder" "${good/dir = suiteA/dir = nowhere}"
  check_bad "missing study config" "does not exist" "$good
[study]
config = nope.ini"
  check_bad "bad launcher" "launcher" "$good
[slurm]
launcher = ssh"
  check_bad "bad number" "ntasks" "$good
[slurm.summarize]
ntasks = 0"
  check_bad "duplicate suite" "listed twice" "${good/suites = A/suites = A, A}"
  run 1 "missing config file" "$COSMOTL" jobs nope.ini
  grep -q "nope.ini" err.txt || fail "missing file not named"
  run 2 "missing argument" "$COSMOTL" jobs
  run 2 "unknown scheduler" "$COSMOTL" jobs bad.ini --scheduler pbs
  run 2 "unknown option" "$COSMOTL" jobs bad.ini --bogus
  run 0 "help" "$COSMOTL" jobs --help
  grep -q -- "--submit" out.txt || fail "help does not describe --submit"
  # templates folder without the stage files
  printf '%s\n' "$good" >ok.ini
  mkdir -p tpl
  run 1 "missing templates" "$COSMOTL" jobs ok.ini --out out --templates tpl
  grep -q "job template missing" err.txt || fail "missing template not reported: $(cat err.txt)"
  ;;
shipped)
  # every shipped pipeline config turns into scripts (Quijote folders replaced by
  # an empty stand-in; configs whose suite configs are not in the tree yet are
  # reported, not counted)
  cp -r "$CT_SOURCE_ROOT/configs" cfg
  mkdir -p data
  n=0
  for c in cfg/pipelines/*.ini; do
    sed -i "s|^dir = .*|dir = $work/data|" "$c"
    missing=""
    for f in $(sed -n 's/^\(simulate\|config\) = //p' "$c"); do
      [ -f "cfg/pipelines/$f" ] || missing="$missing $f"
    done
    if [ -n "$missing" ]; then echo "not checked yet: $(basename "$c") needs$missing"; continue; fi
    run 0 "jobs $(basename "$c")" "$COSMOTL" jobs "$c" --out "out-$(basename "$c" .ini)"
    for s in out-"$(basename "$c" .ini)"/jobs/*.sbatch; do bash -n "$s" || fail "$s does not parse"; done
    n=$((n + 1))
  done
  [ $n -gt 0 ] || fail "no shipped pipeline config could be checked"
  ;;
*) echo "unknown case $case_" >&2; exit 2 ;;
esac
finish "jobs $case_"
