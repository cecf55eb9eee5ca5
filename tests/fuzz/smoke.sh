#!/bin/sh
# smoke.sh HARNESS CORPUS_DIR [RUNS]: every corpus input, then RUNS mutations
# (default 3000, seed 1) exit non-zero on any crash,
# leak, sanitizer report or timeout. New inputs land in a scratch folder.
set -u
h=$(realpath "${1:?harness}"); corpus=$(realpath "${2:?corpus}"); runs=${CT_FUZZ_RUNS:-${3:-2000}}
[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || { echo "FAIL: empty corpus $corpus"; exit 1; }
work=$(mktemp -d /tmp/ct_fuzzsmoke_XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
"$h" -seed=1 -runs="$runs" -timeout=20 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" "$work" "$corpus" >log 2>&1
rc=$?
tail -3 log
if [ $rc -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|runtime error|#0 ' log | head -20
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -f "$a" ] && { echo "artifact $(basename "$a"):"; od -A d -c "$a" | head -8; }
  done
  echo "FAIL: $(basename "$h") exit $rc"; exit 1
fi
echo "PASS: $(basename "$h") $(grep -o 'Done [0-9]* runs' log)"
