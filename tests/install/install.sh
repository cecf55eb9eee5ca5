#!/bin/bash
# The installed tree works on its own: `meson install --destdir` into a scratch
# folder, then the P(k) program of docs/library.md, extracted verbatim, is built
# against the INSTALLED headers and libraries with pkg-config (shared, and static
# with --static), run on the Quijote-layout test snapshot (tests/data, CDM only)
# and on a snapshot with neutrinos (made by PK_TOOL) on 1 and 2 ranks, and its
# output must equal the installed `cosmotl summarize --quijote-text` (Pk_m_z=0.txt,
# total matter) byte for byte (same code path, ct_pk_of_snapshot, same rank count:
# identical bits); the program is at most 25 lines. The installed
# program finds its job templates beside itself (no COSMOTL_DATADIR), and no file
# of the installed tree contains the source or build path.
#   install.sh PK_TOOL   (env: CT_SOURCE_ROOT, CT_BUILD_ROOT)
set -u
unset LD_LIBRARY_PATH
: "${CT_SOURCE_ROOT:?}" "${CT_BUILD_ROOT:?}"
pk_tool=$(realpath "${1:?pk_tool}")
. "$(dirname "$0")/../e2e/common.sh" install
unset COSMOTL_DATADIR
root=$work/root
run 0 "meson install --destdir" meson install -C "$CT_BUILD_ROOT" --destdir "$root" --no-rebuild --quiet
pc=$(find "$root" -name cosmotl.pc | head -1)
[ -n "$pc" ] || { fail "no cosmotl.pc installed"; finish; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
bindir=$(find "$root" -path '*/bin/cosmotl' -type f | head -1)
[ -n "$bindir" ] || fail "no bin/cosmotl installed"
for f in libcosmotl.a libcosmotl.so libcosmotl.so.0; do
  [ -e "$libdir/$f" ] || fail "no $f in $libdir"
done
inc=$(find "$root" -path '*/include/cosmotl' -type d | head -1)
[ -n "$inc" ] && [ -f "$inc/cosmotl.h" ] || fail "no include/cosmotl/cosmotl.h installed"
for h in "$CT_SOURCE_ROOT"/include/cosmotl/*.h; do
  cmp -s "$h" "$inc/$(basename "$h")" || fail "header $(basename "$h") not installed as is"
done
data=$(find "$root" -path '*/share/cosmotl' -type d | head -1)
[ -n "$data" ] && [ -f "$data/jobs/common.sh" ] && [ -x "$data/tools/plot-study" ] &&
  [ -f "$data/configs/pipelines/small.ini" ] || fail "data files missing under share/cosmotl"
# no source or build path baked into anything installed
if grep -rlF -e "$CT_SOURCE_ROOT" -e "$CT_BUILD_ROOT" "$root" >paths.txt; then
  fail "installed files name the source/build tree: $(tr '\n' ' ' <paths.txt)"
fi

export PKG_CONFIG_PATH="$libdir/pkgconfig"
sed -n '/<!-- program:pk.c -->/,/<!-- end program -->/p' "$CT_SOURCE_ROOT/docs/library.md" |
  grep -v '^<!--' | grep -v '^```' > pk.c
[ "$(wc -l < pk.c)" -gt 10 ] || fail "could not extract the program from docs/library.md"
[ "$(wc -l < pk.c)" -le 25 ] || fail "the program of docs/library.md has $(wc -l < pk.c) lines (at most 25)"
grep -q "ct_pk_of_snapshot" pk.c || fail "the extracted program computes no P(k)"
run 0 "pkg-config --modversion" pkg-config --modversion cosmotl
[ "$(cat out.txt)" = "$(sed -n "s/^ *version : '\(.*\)',/\1/p" "$CT_SOURCE_ROOT/meson.build")" ] ||
  fail "cosmotl.pc version $(cat out.txt) differs from meson.build"
cflags=$(pkg-config --cflags cosmotl) || fail "pkg-config --cflags cosmotl"
case " $cflags " in *" -I$root"*) ;; *) fail "cflags do not point into the installed tree: $cflags" ;; esac
run 0 "cc (shared)" cc -std=gnu11 -Wall -Wextra -Werror pk.c $cflags $(pkg-config --libs cosmotl) -o pk
run 0 "cc (static)" cc -std=gnu11 -Wall -Wextra -Werror pk.c $cflags \
  $(pkg-config --static --libs cosmotl | sed "s|-lcosmotl|$libdir/libcosmotl.a|") -o pk_static
ldd pk 2>/dev/null | grep -q "libcosmotl.so.0 => $libdir" ||
  { LD_LIBRARY_PATH=$libdir ldd pk | grep -q "libcosmotl.so.0 => $libdir" || fail "pk does not load the installed libcosmotl.so.0"; }
ldd pk_static | grep -q libcosmotl && fail "pk_static is linked to the shared library"

# CDM only (the Quijote-layout test data) and CDM + neutrinos (total matter)
run 0 "make a neutrino snapshot" "$mpirun_sh" 1 "$pk_tool" make nusuite 2
for snap in "$CT_SOURCE_ROOT/tests/data/quijote_blosc/snapdir_004" "nusuite/1/snapdir_004"; do
  name=$(basename "$(dirname "$snap")")
  for np in 1 2; do
    run 0 "installed cosmotl summarize $name np$np" "$mpirun_sh" $np "$bindir" summarize "$snap" \
      --grid 16 --quijote-text --out sum$np
    want=sum$np/$name/Pk_m_z=0.txt
    [ -s "$want" ] || fail "no $want"
    run 0 "pk (shared) $name np$np" env LD_LIBRARY_PATH="$libdir" "$mpirun_sh" $np ./pk "$snap" 16
    cmp -s out.txt "$want" || { fail "pk $name np$np differs from cosmotl summarize np$np"; diff out.txt "$want" | head -5; }
    run 0 "pk (static) $name np$np" "$mpirun_sh" $np ./pk_static "$snap" 16
    cmp -s out.txt "$want" || fail "pk_static $name np$np differs from cosmotl summarize np$np"
  done
done
# the neutrinos are in it: the CDM+baryon spectrum (Pk_cb) is another one
cmp -s sum1/1/Pk_cb_z=0.txt sum1/1/Pk_m_z=0.txt && fail "Pk_cb equals Pk_m: no neutrinos in the test snapshot"
run 1 "pk on a missing snapshot" env LD_LIBRARY_PATH="$libdir" ./pk /nonexistent 16
[ "$(wc -l < err.txt)" = 1 ] && grep -q "/nonexistent" err.txt || fail "missing snapshot: not one line naming it"

# the installed program finds its job templates beside itself
run 0 "installed cosmotl jobs" "$bindir" jobs "$data/configs/pipelines/small.ini" --out jobsout
ls jobsout/jobs/*.sh >/dev/null 2>&1 || fail "cosmotl jobs wrote no scripts"
grep -rqF "$CT_SOURCE_ROOT" jobsout/jobs && fail "job scripts name the source tree"
run 1 "COSMOTL_DATADIR without data" env COSMOTL_DATADIR=$work/nodata "$bindir" jobs \
  "$data/configs/pipelines/small.ini" --out jobsout2
grep -q "COSMOTL_DATADIR=$work/nodata" err.txt || fail "bad COSMOTL_DATADIR not named"
# every subcommand has --help: the list is the dispatcher's own (`cosmotl --help`)
run 0 "cosmotl --help" "$bindir" --help
cmds=$(awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' out.txt)
[ "$(echo $cmds | wc -w)" -ge 9 ] || fail "cosmotl --help lists too few commands: $cmds"
for c in $cmds; do
  run 0 "cosmotl $c --help" "$bindir" $c --help
  grep -qi "usage" out.txt || fail "cosmotl $c --help prints no usage"
done
finish
