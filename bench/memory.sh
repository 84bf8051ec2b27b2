#!/usr/bin/env bash
# Peak memory (max RSS) of `mlhost eval` on a ~200 MB dataset (as f64 in
# memory: 262,144 rows x 100 features) with 3 workers versus 1. The snapshot
# is shared by every worker and folds are index views, so the ratio should
# stay near 1. Usage: bench/memory.sh [ROWS=262144]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-262144}
cargo build --release -q -p mlhost -p mlhost-plugin-baseline
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config" "$tmp/plugins"
cp target/release/libmlhost_plugin_baseline.so "$tmp/plugins/"
printf 'plugin_dirs = ["../plugins"]\ndatabase = "../m.db"\n' > "$tmp/config/mlhost.toml"
for i in 1 2 3; do printf '[[model]]\nid = "b%s"\nplugin = "baseline"\n\n' "$i"; done > "$tmp/config/models.toml"
python3 - "$tmp/big.csv" "$ROWS" <<'PY'
import sys, random
path, rows = sys.argv[1], int(sys.argv[2])
random.seed(1)
with open(path, "w") as f:
    f.write(",".join(f"f{i}" for i in range(100)) + ",y\n")
    vals = [f"{random.random():.4f}" for _ in range(4096)]
    for r in range(rows):
        f.write(",".join(vals[(r * 7 + i) % 4096] for i in range(100)) + f",{r % 2}\n")
PY
echo "dataset: $ROWS rows x 100 features = $((ROWS * 100 * 8 / 1000000)) MB as f64; CSV $(du -m "$tmp/big.csv" | cut -f1) MB"
peak() {
  (cd "$tmp" && /usr/bin/time -f '%M' "$OLDPWD/target/release/mlhost" --config config/mlhost.toml \
     eval --dataset big.csv --label y --workers "$1" --folds 5 >/dev/null) 2>&1 | tail -1
}
one=$(peak 1); three=$(peak 3)
echo "machine: $(nproc) cores; 3 candidates x 5 folds"
echo "peak RSS, 1 worker:  $((one / 1024)) MB"
echo "peak RSS, 3 workers: $((three / 1024)) MB"
python3 -c "print(f'ratio 3/1: {$three/$one:.3f}')"
