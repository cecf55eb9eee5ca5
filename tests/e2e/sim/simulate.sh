#!/bin/bash
# cosmotl simulate end to end: a tiny suite on 2 ranks (1 group of 2 and 2 groups
# of 1 give identical snapshots), params.txt, manifest, reruns skip complete
# simulations, --range, a Quijote table as the one-line source of parameters,
# and bad input failing with one line and no output.
#   simulate.sh
set -u
: "${COSMOTL:?}"
. "$(dirname "$0")/../common.sh" e2e_sim

cat > tiny.ini <<'INI'
[suite]
name = tiny
out = tiny-out
n_sims = 3
sampling = lhs
seed = 11
[params]
Omega_m = 0.2, 0.4
sigma_8 = 0.7, 0.9
M_nu = 0.05, 0.3
[sim]
particles = 8
box = 64
steps = 2
z_init = 24
redshifts = 1, 0
nfiles = 2
INI

run 0 "simulate 1 group of 2" "$mpirun_sh" 2 "$COSMOTL" simulate tiny.ini --out a
for i in 0 1 2; do
  for s in 002 004; do
    for f in 0 1; do
      [ -f "a/$i/snapdir_$s/snap_$s.$f.hdf5" ] || fail "missing a/$i/snapdir_$s/snap_$s.$f.hdf5"
    done
  done
done
[ "$(head -1 a/params.txt)" = "# Omega_m Omega_b h n_s sigma_8 M_nu" ] || fail "params.txt header: $(head -1 a/params.txt)"
[ "$(grep -vc '^#' a/params.txt)" = 3 ] || fail "params.txt rows"
grep -q "3 done" a/manifest.tsv || fail "manifest does not record 3 done"
find a -name '.*tmp*' | grep -q . && fail "temporary files left"

run 0 "simulate 2 groups of 1" "$mpirun_sh" 2 "$COSMOTL" simulate tiny.ini --out b --group-size 1
for i in 0 1 2; do
  for f in 0 1; do
    h5diff -q "a/$i/snapdir_004/snap_004.$f.hdf5" "b/$i/snapdir_004/snap_004.$f.hdf5" \
      || fail "snapshot $i file $f differs between 1 group of 2 and 2 groups of 1"
  done
done
cmp -s a/params.txt b/params.txt || fail "params.txt differs"

# Gadget binary output ([sim] format = gadget1 | gadget2; 1 and 4 ranks): the
# same particles and header as the HDF5 files of the 2-rank run, field by field,
# read by an independent reader (numpy) and by cosmotl
for fmt in gadget1:1 gadget2:4; do
  f=${fmt%%:*}; np=${fmt##*:}
  sed "s/^nfiles = 2/nfiles = 2\nformat = $f/" tiny.ini > "tiny-$f.ini"
  run 0 "simulate $f on $np ranks" "$mpirun_sh" "$np" "$COSMOTL" simulate "tiny-$f.ini" --out "$f"
  for i in 0 1 2; do
    for s in 002 004; do
      for k in 0 1; do
        [ -f "$f/$i/snapdir_$s/snap_$s.$k" ] || fail "missing $f/$i/snapdir_$s/snap_$s.$k"
      done
      [ -e "$f/$i/snapdir_$s/snap_$s.0.hdf5" ] && fail "$f run wrote HDF5 files"
    done
  done
  /usr/bin/python3 - a "$f" "$f" <<'PY' || fail "$f snapshots differ from the HDF5 ones"
import sys, glob, struct
import numpy as np, h5py
h5dir, bindir, fmt = sys.argv[1:4]
def records(path):
    b = open(path, "rb").read(); pos = 0; out = {}; order = ["HEAD", "POS ", "VEL ", "ID  ", "MASS"]
    while pos < len(b):
        label = None
        if fmt == "gadget2":
            assert struct.unpack_from("<i", b, pos)[0] == 8; label = b[pos + 4:pos + 8].decode(); pos += 16
        n = struct.unpack_from("<I", b, pos)[0]
        assert struct.unpack_from("<I", b, pos + 4 + n)[0] == n, "record markers"
        out[label or order[len(out)]] = b[pos + 4:pos + 4 + n]; pos += 8 + n
    return out
bad = 0
for h5 in sorted(glob.glob(h5dir + "/*/snapdir_*/snap_*.*.hdf5")):
    binp = bindir + h5[len(h5dir):-len(".hdf5")]
    r = records(binp); H = r["HEAD"]
    f = h5py.File(h5, "r"); a = f["Header"].attrs
    npart = np.frombuffer(H[0:24], "<i4"); mass = np.frombuffer(H[24:72], "<f8")
    time, z = struct.unpack_from("<dd", H, 72); tot = np.frombuffer(H[96:120], "<u4")
    nfiles = struct.unpack_from("<i", H, 124)[0]; box, om, ol, hub = struct.unpack_from("<dddd", H, 128)
    ok = (np.array_equal(npart, a["NumPart_ThisFile"]) and np.array_equal(mass, a["MassTable"])
          and time == a["Time"] and z == a["Redshift"] and np.array_equal(tot, a["NumPart_Total"])
          and nfiles == a["NumFilesPerSnapshot"] and box == a["BoxSize"] and om == a["Omega0"]
          and ol == a["OmegaLambda"] and hub == a["HubbleParam"])
    pos = vel = ids = []
    types = [t for t in range(6) if npart[t] > 0]
    ntot = int(npart.sum()); idt = "<u4" if len(r["ID  "]) == 4 * ntot else "<u8"
    P = np.frombuffer(r["POS "], "<f4").reshape(-1, 3); V = np.frombuffer(r["VEL "], "<f4").reshape(-1, 3)
    I = np.frombuffer(r["ID  "], idt); o = 0
    for t in types:
        g = f["PartType%d" % t]; n = npart[t]
        ok &= (np.array_equal(P[o:o + n], g["Coordinates"][:]) and np.array_equal(V[o:o + n], g["Velocities"][:])
               and np.array_equal(I[o:o + n], g["ParticleIDs"][:]))
        o += n
    ok &= "MASS" not in r and len(types) >= 1
    if not ok:
        print("differs:", binp); bad += 1
print("compared", len(glob.glob(h5dir + "/*/snapdir_*/snap_*.*.hdf5")), "files")
sys.exit(1 if bad else 0)
PY
  run 0 "inspect $f" "$COSMOTL" inspect "$f/0/snapdir_004"
  grep -qi "format I" out.txt || { fail "inspect does not name the binary format"; cat out.txt >&2; }
done
printf '[suite]\nn_sims = 1\n[sim]\nformat = gadget3\n' > bad10.ini
run 1 "unknown snapshot format" "$COSMOTL" simulate bad10.ini --out bad
grep -q "bad10.ini.*format.*hdf5, gadget1, gadget2" err.txt || { fail "format message"; cat err.txt >&2; }
[ "$(wc -l < err.txt)" -le 1 ] || fail "format error is more than one line"
mkdir ro; printf 'x' > ro/file
printf '[suite]\nn_sims = 1\n[sim]\nparticles = 8\nbox = 64\nsteps = 1\nz_init = 9\nformat = gadget2\n' > unw.ini
run 1 "unwritable output path" "$COSMOTL" simulate unw.ini --out ro/file/sub
grep -q "ro/file" err.txt || { fail "unwritable path message"; cat err.txt >&2; }
run 0 "inspect" "$COSMOTL" inspect a/0/snapdir_004
grep -q "512" out.txt || fail "inspect does not show the 512 particles"

# rerun: nothing to do; a removed simulation is redone, the others are not
run 0 "rerun" "$COSMOTL" simulate tiny.ini --out a
grep -qi "nothing to do" err.txt out.txt || fail "rerun does not say nothing to do"
rm -rf a/1
run 0 "redo one" "$COSMOTL" simulate tiny.ini --out a
grep -q "1 done" err.txt || { fail "redo did not run exactly one simulation"; cat err.txt >&2; }
h5diff -q a/1/snapdir_004/snap_004.0.hdf5 b/1/snapdir_004/snap_004.0.hdf5 || fail "redone snapshot differs"
run 0 "range" "$COSMOTL" simulate tiny.ini --out c --range 1:2
[ -d c/1 ] && [ ! -d c/0 ] && [ ! -d c/2 ] || fail "--range 1:2 did not simulate only 1"

# a Quijote table is one config line: LH_LC (f_NL only; the rest fiducial)
cat > lc.ini <<INI
[suite]
table = $(ct_shared quijote-params/LH_LC_params.txt)
[sim]
particles = 8
box = 64
steps = 1
z_init = 24
png = local
nfiles = 1
INI
run 0 "table" "$COSMOTL" simulate lc.ini --out lc --range 0:2
[ "$(grep -vc '^#' lc/params.txt)" = 1000 ] || fail "LH_LC table: params.txt rows"
[ "$(head -1 lc/params.txt)" = "# Omega_m Omega_b h n_s sigma_8 f_NL" ] || fail "LH_LC header: $(head -1 lc/params.txt)"
[ "$(sed -n 2p lc/params.txt)" = "0.3175 0.049 0.6711 0.9624 0.834 -98.7" ] || fail "LH_LC row 0: $(sed -n 2p lc/params.txt)"
[ -f lc/1/snapdir_004/snap_004.0.hdf5 ] || fail "LH_LC simulation 1 missing"

# bad input: one line naming the file and the problem, exit != 0, no output
printf '[suite]\nn_sims = 2\nbogus = 1\n[sim]\nparticles = 8\n' > bad1.ini
run 1 "unknown key" "$COSMOTL" simulate bad1.ini --out bad
grep -q "bad1.ini:3: unknown key suite.bogus" err.txt || { fail "unknown key message"; cat err.txt >&2; }
printf '[suite]\nn_sims = 2\n[params]\nOmega_m = 0.5, 0.1\n' > bad2.ini
run 1 "empty range" "$COSMOTL" simulate bad2.ini --out bad
grep -q "bad2.ini.*Omega_m.*empty" err.txt || { fail "empty range message"; cat err.txt >&2; }
printf '[suite]\nn_sims = 2\n[cosmology]\ntransfer = table\npk_table = nope.txt\n' > bad3.ini
run 1 "missing P(k) table" "$COSMOTL" simulate bad3.ini --out bad
grep -q "nope.txt" err.txt || { fail "missing table message"; cat err.txt >&2; }
printf '[suite]\nn_sims = 2\n[sim]\nparticles = 7\n' > bad4.ini
run 1 "odd particles" "$COSMOTL" simulate bad4.ini --out bad
run 2 "bad group size" "$mpirun_sh" 2 "$COSMOTL" simulate tiny.ini --out bad --group-size 3
run 2 "bad range" "$COSMOTL" simulate tiny.ini --out bad --range 2:9
run 2 "no config" "$COSMOTL" simulate
[ -e bad ] && fail "a failed run left output in bad/"

# one linear P(k) table per simulation (`pk_table = ...{i}...`): simulation 0's
# covers the k range, simulation 1's stops at 0.3 h/Mpc and fails with a message
# naming its file and the range needed
awk 'BEGIN { for (i = 0; i <= 200; i++) { k = 10^(-4 + 5 * i / 200); printf "%g %g\n", k, 2e4 * k / (1 + (k / 0.02)^2.6) } }' > pk_0.txt
awk '$1 < 0.3' pk_0.txt > pk_1.txt
printf '[suite]\nn_sims = 2\n[cosmology]\ntransfer = table\npk_table = pk_{i}.txt\n[sim]\nparticles = 8\nbox = 64\nsteps = 2\nz_init = 9\nnfiles = 1\n' > pertab.ini
run 3 "per-simulation P(k) tables" "$COSMOTL" simulate pertab.ini --out pertab
[ -f pertab/0/snapdir_004/snap_004.0.hdf5 ] || fail "per-simulation table: simulation 0 missing"
[ -e pertab/1/snapdir_004 ] && fail "per-simulation table: simulation 1 should have failed"
grep -q "pk_1.txt: the table covers k = .* but simulation 1 needs" pertab/manifest.tsv ||
  { fail "short table message"; cat pertab/manifest.tsv >&2; }
# the kernel and PGD keys are checked
printf '[suite]\nn_sims = 1\n[sim]\nforce = fancy\n' > bad5.ini
run 1 "unknown force kernel" "$COSMOTL" simulate bad5.ini --out bad
grep -q "bad5.ini.*force.*fd2, deconv" err.txt || { fail "force kernel message"; cat err.txt >&2; }
printf '[suite]\nn_sims = 1\n[sim]\npgd_alpha = -0.1\n' > bad6.ini
run 1 "negative PGD alpha" "$COSMOTL" simulate bad6.ini --out bad
# a neutrino mass with no neutrino species; screening parameters out of range
printf '[suite]\nn_sims = 1\n[params]\nM_nu = 0.1, 0.3\n[cosmology]\nn_nu = 0\n' > bad7.ini
run 1 "neutrino mass without species" "$COSMOTL" simulate bad7.ini --out bad
grep -q "bad7.ini.*M_nu.*n_nu = 0.*neutrino species" err.txt || { fail "n_nu = 0 message"; cat err.txt >&2; }
printf '[suite]\nn_sims = 1\n[sim]\nfr_screening_scale = 0\n' > bad8.ini
run 1 "screening scale 0" "$COSMOTL" simulate bad8.ini --out bad
grep -q "bad8.ini.*fr_screening_scale" err.txt || { fail "screening scale message"; cat err.txt >&2; }
printf '[suite]\nn_sims = 1\n[sim]\nfr_screening = maybe\n' > bad9.ini
run 1 "screening switch" "$COSMOTL" simulate bad9.ini --out bad
grep -q "bad9.ini.*fr_screening" err.txt || { fail "screening switch message"; cat err.txt >&2; }
[ -e bad ] && fail "a failed run left output in bad/"
[ "$(wc -l < err.txt)" -le 1 ] || fail "usage error is more than one line"

finish "simulate end to end"
