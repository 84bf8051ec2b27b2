#!/usr/bin/env bash
# Issue 15's figures for `mlhost tune` (release build, this machine):
#  1. overhead per trial beyond its jobs: the objective fixture (a fit that
#     costs nothing, 2 folds of a 20-row CSV, one worker); the wall time of
#     a 401-trial study minus that of a 1-trial study, over 400 trials, for
#     random and TPE (TPE's proposal time grows with the trials told);
#  2. parallel speedup: a 40-trial random study of gbdt on breast_cancer
#     (learning_rate 0.01..0.3 log, max_leaf_nodes 4..64; gbdt fits on one
#     thread, so a worker is a core), --workers 1 against --workers 2.
# RUNS repetitions, alternated; medians.
# Usage: bench/tune.sh [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
cargo build --release -q -p mlhost -p mlhost-plugin-gbdt
cp Cargo.lock tests/fixtures/Cargo.lock
cargo build --release -q --manifest-path tests/fixtures/Cargo.toml -p fixture-objective \
  --target-dir target/test-plugins
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config" "$tmp/plugins"
cp target/test-plugins/release/libfixture_objective.so target/release/libmlhost_plugin_gbdt.so "$tmp/plugins/"
printf 'plugin_dirs = ["../plugins"]\nregistry = "models.toml"\ndatabase = "../m.db"\n' > "$tmp/config/mlhost.toml"
cat > "$tmp/config/models.toml" <<'TOML'
[[model]]
id = "objective"
plugin = "objective"
params = { epochs = 0, sleep_ms = 0 }

[[model]]
id = "gbdt"
plugin = "gbdt"
encode = "ordinal"
TOML
{ echo "a,label"; for i in $(seq 1 20); do echo "$i,0"; done; } > "$tmp/zero.csv"
mh() { target/release/mlhost --config "$tmp/config/mlhost.toml" "$@"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
objective() { mh tune --json --model objective --dataset "$tmp/zero.csv" --label label --task regression \
  --folds 2 --metric mae --workers 1 --seed 1 "$@"; }
gbdt() { mh tune --json --model gbdt --dataset builtin:breast_cancer --strategy random --trials 40 --seed 1 \
  --param learning_rate=0.01..0.3:log --param max_leaf_nodes=4..64 "$@"; }
for r in $(seq 1 "$RUNS"); do
  for s in random tpe; do
    echo "$(secs objective --strategy "$s" --trials 1) $(secs objective --strategy "$s" --trials 401)" >> "$tmp/over_$s"
  done
  secs gbdt --workers 1 >> "$tmp/w1"
  secs gbdt --workers 2 >> "$tmp/w2"
done
python3 - "$tmp" <<'PY'
import statistics, sys
d = sys.argv[1]
def rows(name):
    return [list(map(float, l.split())) for l in open(f"{d}/{name}")]
for s in ("random", "tpe"):
    per = [(b - a) / 400 * 1000 for a, b in rows(f"over_{s}")]
    print(f"overhead per trial, {s:6}: median {statistics.median(per):.2f} ms  (runs: {', '.join(f'{p:.2f}' for p in per)})")
w1 = [r[0] for r in rows("w1")]; w2 = [r[0] for r in rows("w2")]
print(f"gbdt 40 trials x 5 folds: 1 worker {statistics.median(w1):.2f} s, 2 workers {statistics.median(w2):.2f} s, "
      f"speedup {statistics.median(w1) / statistics.median(w2):.2f}x (per run: "
      f"{', '.join(f'{a / b:.2f}' for a, b in zip(w1, w2))})")
PY
