#!/usr/bin/env bash
# Issue 14's memory figure: peak RSS of `mlhost eval` on a ROWS x 20 CSV
# (default 1,000,000 rows: 160 MB of f64 features) with 2 workers, against
# the budget 1.5 x the f64 data + 150 MB. The CSV is streamed into the matrix,
# so the file's text is never held; jobs work on views of the one shared
# matrix, except a candidate that scales, imputes or encodes, which works on
# a prepared copy of its fold (the second line shows that cost).
# Needs python3 with numpy (PYTHONPATH) to write the CSV, and GNU time.
# Usage: PYTHONPATH=/tmp/pylib bench/rss.sh [ROWS=1000000] [MODELS=naive-bayes,tree]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
MODELS=${2:-naive-bayes,tree}
cargo build --release -q -p mlhost -p mlhost-plugin-naive-bayes -p mlhost-plugin-tree -p mlhost-plugin-gbdt \
  -p mlhost-plugin-logistic
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config"
cp config/models.toml "$tmp/config/"
printf 'plugin_dirs = ["%s/target/release"]\nregistry = "models.toml"\ndatabase = "../m.db"\n' "$PWD" > "$tmp/config/mlhost.toml"
python3 - "$ROWS" "$tmp/big.csv" <<'PY'
import sys
import numpy as np
n, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(3)
x = rng.uniform(-1, 1, size=(n, 20))
y = (x[:, 0] * x[:, 1] + 0.6 * x[:, 2] > 0).astype(int)
with open(out, "w") as f:
    f.write(",".join([f"f{i}" for i in range(20)] + ["y"]) + "\n")
    for start in range(0, n, 100_000):
        block = np.column_stack([x[start:start + 100_000], y[start:start + 100_000]])
        np.savetxt(f, block, fmt=["%.6f"] * 20 + ["%d"], delimiter=",")
PY
data_mb=$(echo "$ROWS * 20 * 8 / 1000000" | bc)
budget_mb=$(echo "$data_mb * 1.5 + 150" | bc)
echo "$ROWS rows x 20: f64 data ${data_mb} MB, CSV $(du -m "$tmp/big.csv" | cut -f1) MB, budget ${budget_mb} MB"
for models in "$MODELS" logistic; do
  /usr/bin/time -f "%M %e" -o "$tmp/time" target/release/mlhost --config "$tmp/config/mlhost.toml" \
    eval --dataset "$tmp/big.csv" --label y --models "$models" --workers 2 --folds 2 --json > "$tmp/out.json"
  read -r kb secs < "$tmp/time"
  status=$(jq -r '[.models[] | "\(.modelId)=\(.status)"] | join(" ")' "$tmp/out.json")
  echo "models $models: peak RSS $((kb / 1000)) MB, wall ${secs} s ($status)"
done
