#!/bin/sh
# Per-statistic pretraining networks ([pretrain.<statistic>]) end to end on the
# synthetic suites, with two statistics (the table's P(k) group copied as "mk"):
#   pretrain-override.sh MAKE_SUITES
# - the pk pretraining, bottleneck pretraining and scratch / combined baselines
#   use the [pretrain.pk] network and the mk ones the [pretrain.mk] network (layer
#   widths and dropout read back from the model files; the pretrainings' lr /
#   weight decay from their task result files), and a statistic without a section
#   keeps [pretrain];
# - results.h5 /settings and the report record each statistic's network;
# - another key in such a section, or a section for a statistic the study does
#   not run, is a one-line error naming the file and key, with no output.
# Every check is exact (integers, or numbers printed with 17 digits).
set -u
make_suites=$1
cosmotl=${COSMOTL:?}
d=$(mktemp -d /tmp/ct_study_pre_XXXXXX)
fail=0
bad() { echo "FAIL: $*"; fail=1; }
"$make_suites" "$d" || { echo "FAIL: cannot make suites"; exit 1; }
/usr/bin/python3 - "$d/lcdm.h5" "$d/nu.h5" <<'PY' || { echo "FAIL: cannot copy pk to mk"; exit 1; }
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, "r+") as f:
        f.copy("pk", "mk")
PY
cat > "$d/s.ini" <<INI
[study]
out = out
targets = NU
statistics = pk, mk, pk+mk
kmax = 0
architectures = dummy, bottleneck
baselines = scratch, combined
budgets = 16, 40
seeds = 1
bottleneck_width = 4
[pretrain]
name = LCDM
suite = lcdm.h5
params = Omega_m, sigma_8
hidden = 8
dropout = 0
epochs = 6
patience = 3
lr = 3e-3
weight_decay = 1e-5
[pretrain.pk]
hidden = 12, 6
dropout = 0.25
lr = 2e-3
weight_decay = 3e-4
[pretrain.mk]
hidden = 20
lr = 1e-3
[finetune]
epochs = 6
patience = 3
trials = 1
[target.NU]
suite = nu.h5
params = Omega_m, sigma_8, M_nu
[analysis]
shap_samples = 0
cka_samples = 0
INI
"$cosmotl" --quiet study "$d/s.ini" --no-plots > "$d/a.log" 2>&1 || { cat "$d/a.log"; bad "study run"; }
/usr/bin/python3 - "$d/out" <<'PY' || bad "a training did not use its statistic's network"
import sys, h5py
out = sys.argv[1]
def net(name):
    with h5py.File(f"{out}/models/{name}.h5", "r") as f:
        n = len(f["layers"])
        widths = [f[f"layers/{l}/W"].shape[0] for l in range(n - 1)]
        return widths, float(f.attrs["dropout"])
def lr_wd(task):
    v = dict(l.split()[:2] for l in open(f"{out}/tasks/{task}.txt") if l[:2] in ("lr", "we"))
    return float(v["lr"]), float(v["weight_decay"])
want = {"pk": ([12, 6], 0.25, 2e-3, 3e-4), "mk": ([20], 0.0, 1e-3, 1e-5),
        "pk-mk": ([8], 0.0, 3e-3, 1e-5)}  # pk+mk has no section: [pretrain]
for st, (w, drop, lr, wd) in want.items():
    got = net(f"pretrain_{st}_g0")
    assert got == (w, drop), (st, "pretrain", got)
    assert lr_wd(f"pretrain_{st}_g0") == (lr, wd), (st, lr_wd(f"pretrain_{st}_g0"))
    got = net(f"pretrain_bottleneck_{st}_g0")
    assert got == (w + [4], drop), (st, "bottleneck", got)
    assert lr_wd(f"pretrain_bottleneck_{st}_g0") == (lr, wd), (st, "bottleneck lr/wd")
    for arch in ("scratch", "combined"):
        got = net(f"NU_{st}_{arch}_b16_s0")
        assert got == (w, drop), (st, arch, got)
with h5py.File(f"{out}/results.h5", "r") as f:
    a = f["settings"].attrs
    def s(k):
        v = a[k]
        return v.decode() if isinstance(v, bytes) else str(v)
    assert s("pretrain.pk.hidden") == "12, 6", s("pretrain.pk.hidden")
    assert s("pretrain.mk.hidden") == "20", s("pretrain.mk.hidden")
    assert float(s("pretrain.mk.weight_decay")) == 1e-5  # inherited from [pretrain], recorded
print("networks per statistic: as configured")
PY
grep -q "Network per statistic: pk: 2 hidden layer(s) of 12 6, dropout 0.25.*; mk: 1 hidden layer(s) of 20, dropout 0.*; pk+mk: 1 hidden layer(s) of 8," "$d/out/report.md" ||
  bad "report does not give each statistic's network: $(grep -o 'Network[^.]*' "$d/out/report.md")"
# a key the section cannot override
sed 's/^\[pretrain.mk\]/[pretrain.mk]\nepochs = 3/' "$d/s.ini" > "$d/bad1.ini"
"$cosmotl" study "$d/bad1.ini" --out "$d/C1" > "$d/c1.log" 2>&1 && bad "epochs in [pretrain.mk] accepted"
grep -q "bad1.ini.*pretrain.mk.epochs" "$d/c1.log" || bad "error does not name file and key: $(cat "$d/c1.log")"
[ "$(grep -c . "$d/c1.log")" = 1 ] || bad "error is not one line: $(cat "$d/c1.log")"
[ -e "$d/C1" ] && bad "bad config left output"
# a section for a statistic the study does not run
sed 's/^\[pretrain.mk\]/[pretrain.bk]\nhidden = 4\n[pretrain.mk]/' "$d/s.ini" > "$d/bad2.ini"
"$cosmotl" study "$d/bad2.ini" --out "$d/C2" > "$d/c2.log" 2>&1 && bad "[pretrain.bk] accepted"
grep -q "bad2.ini.*pretrain.bk.hidden" "$d/c2.log" || bad "error does not name file and key: $(cat "$d/c2.log")"
[ -e "$d/C2" ] && bad "bad config left output"
# a malformed override
sed 's/^hidden = 20$/hidden = 20, x/' "$d/s.ini" > "$d/bad3.ini"
"$cosmotl" study "$d/bad3.ini" --out "$d/C3" > "$d/c3.log" 2>&1 && bad "hidden = 20, x accepted"
grep -q "bad3.ini.*pretrain.mk.hidden" "$d/c3.log" || bad "error does not name file and key: $(cat "$d/c3.log")"
[ -e "$d/C3" ] && bad "bad config left output"
if [ $fail = 0 ]; then echo "PASS"; rm -rf "$d"; else echo "kept $d"; fi
exit $fail
