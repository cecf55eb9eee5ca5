#!/bin/sh
# Each public header compiles on its own: headers.sh CC INCLUDE_DIR BUILD_DIR
cc=$1; inc=$2; build=$3
flags=$(pkg-config --cflags ompi-c hdf5-openmpi fftw3 gsl inih openblas 2>/dev/null)
fail=0
for h in "$inc"/cosmotl/*.h; do
  name=$(basename "$h")
  printf '#include "cosmotl/%s"\nint main(void){return 0;}\n' "$name" > /tmp/ct_hdr_$$.c
  if ! $cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I"$inc" -I"$build" $flags /tmp/ct_hdr_$$.c; then
    echo "header $name does not compile alone"; fail=1
  fi
done
rm -f /tmp/ct_hdr_$$.c
[ $fail = 0 ] && echo "PASS: every public header compiles alone"
exit $fail
