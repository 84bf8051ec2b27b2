#!/usr/bin/env bash
# Issue 16's compare figure (target < 100 ms): `mlhost compare RUN --json`
# on a stored run of 100 candidates x 10 folds of builtin:breast_cancer
# (569 rows, binary; compared on f1: 99 corrected t-tests, Wilcoxon,
# McNemar, Holm, 100 bootstrap intervals of 2,000 resamples each). The
# candidates are a models.toml of 34 knn (k = 1..34), 33 tree
# (max_depth = 1..33) and 33 logistic entries (C = 10^-3 .. 10^3), evaluated
# once with `eval --folds 10 --seed 1`. Release build; the wall time of the
# whole command (process start, store reads, JSON), median of RUNS.
# With OTHER (another mlhost binary, e.g. a copy built from an older
# commit), both are timed on the same run, alternated, and their JSON must
# be identical.
# Usage: bench/compare.sh [RUNS=11] [OTHER]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
OTHER=${2:-}
cargo build --release -q -p mlhost -p mlhost-plugin-knn -p mlhost-plugin-tree -p mlhost-plugin-logistic
OUT=${CARGO_TARGET_DIR:-target}/release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config" "$tmp/plugins"
for p in knn tree logistic; do cp "$OUT/libmlhost_plugin_$p.so" "$tmp/plugins/"; done
printf 'plugin_dirs = ["../plugins"]\nregistry = "models.toml"\ndatabase = "../m.db"\n' > "$tmp/config/mlhost.toml"
{
  for k in $(seq 1 34); do
    printf '[[model]]\nid = "knn-%s"\nplugin = "knn"\nparams = { k = %s }\nscale = "standard"\n\n' "$k" "$k"
  done
  for d in $(seq 1 33); do
    printf '[[model]]\nid = "tree-%s"\nplugin = "tree"\nparams = { max_depth = %s }\n\n' "$d" "$d"
  done
  for i in $(seq 0 32); do
    c=$(python3 -c "print(f'{10 ** (-3 + 6 * $i / 32):.6g}')")
    printf '[[model]]\nid = "logistic-%s"\nplugin = "logistic"\nparams = { c = %s }\nscale = "standard"\n\n' "$i" "$c"
  done
} > "$tmp/config/models.toml"
mh() { "$OUT/mlhost" --config "$tmp/config/mlhost.toml" "$@"; }
other() { "$OTHER" --config "$tmp/config/mlhost.toml" "$@"; }
run=$(mh eval --json --dataset builtin:breast_cancer --folds 10 --seed 1 --workers 2 |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["runId"])')
report=$(mh compare "$run" --json)
python3 - "$report" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert len(r["comparisons"]) == 99 and r["folds"] == 10, (len(r["comparisons"]), r["folds"])
assert all(c["bootstrapLow"] is not None for c in r["comparisons"])
print(f"run of 100 candidates x 10 folds, reference {r['reference']} (f1 {r['referenceMean']:.4f})")
PY
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
if [ -n "$OTHER" ]; then
  [ "$(other compare "$run" --json)" = "$report" ] || { echo "OTHER's JSON differs" >&2; exit 1; }
  echo "OTHER ($OTHER) prints the same JSON"
fi
for _ in $(seq 1 "$RUNS"); do
  secs mh compare "$run" --json >> "$tmp/times"
  if [ -n "$OTHER" ]; then secs other compare "$run" --json >> "$tmp/other"; fi
done
python3 - "$tmp" <<'PY'
import os, statistics, sys
def line(name, what):
    t = [float(l) * 1000 for l in open(f"{sys.argv[1]}/{name}")]
    print(f"compare, 100 candidates x 10 folds, {what}: median {statistics.median(t):.1f} ms "
          f"(min {min(t):.1f}, max {max(t):.1f}, {len(t)} runs)")
line("times", "this build")
if os.path.exists(f"{sys.argv[1]}/other"):
    line("other", "OTHER")
PY
