#!/usr/bin/env bash
# Peak memory of `mlhost eval` on a ~200 MB dataset (as f64 in memory:
# 262,144 rows x 100 features) with 3 workers versus 1, in thread and in
# process isolation. Measured as the peak total PSS of the host and its
# worker processes (bench/peak_pss.py): shared pages (the memory-mapped
# snapshot) count once. The snapshot is shared by every worker and folds are
# index views, so the ratios should stay near 1.
# Usage: bench/memory.sh [ROWS=262144]
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
root=$PWD
peak() {
  (cd "$tmp" && python3 "$root/bench/peak_pss.py" "$root/target/release/mlhost" --config config/mlhost.toml \
     eval --dataset big.csv --label y --workers "$2" --folds 5 --isolation "$1")
}
echo "machine: $(nproc) cores; 3 candidates x 5 folds"
for iso in thread process; do
  one=$(peak "$iso" 1); three=$(peak "$iso" 3)
  echo "$iso: peak PSS 1 worker $((one / 1024)) MB, 3 workers $((three / 1024)) MB, ratio $(python3 -c "print(f'{$three/$one:.3f}')")"
done
