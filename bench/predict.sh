#!/usr/bin/env bash
# The batch-predict figure: `mlhost predict` of a generated CSV of
# 1,000,000 rows x 30 numeric features (6 decimals, about 290 MB) to a CSV
# of predictions, with logistic (standard scaling, as config/models.toml)
# trained on a 20,000-row sample of the same columns. Release build; the
# wall time of the whole command (registry, artifact check, load, the
# stream), its CPU time (user + sys: what the wall time would be bound by
# on an idle machine, over the 2 cores) and its peak RSS, from GNU time,
# median of RUNS, predictions written to a file (--output: temp file,
# fsync, rename), with the load average at the start (other builds share
# the machine). With --proba as well, one run. The CSVs are generated once
# into $PREDICT_DATA. CHUNK_ROWS=N passes --chunk-rows N (tuning).
# Usage: PYTHONPATH=/tmp/pylib bench/predict.sh [RUNS=5]   (numpy, GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DATA=${PREDICT_DATA:-${TMPDIR:-/tmp}/mlhost-predict-bench}
cargo build --release -q -p mlhost -p mlhost-plugin-logistic
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/mlhost
mkdir -p "$DATA"
if [ ! -s "$DATA/input.csv" ]; then
  python3 - "$DATA" <<'PY'
import sys
import numpy as np
out, rows, chunk, cols = sys.argv[1], 1_000_000, 100_000, 30
rng = np.random.default_rng(7)
w = rng.normal(0, 1, cols)
head = ",".join(f"x{i}" for i in range(cols))
def block(n):
    x = rng.normal(0, 1, (n, cols))
    y = (x @ w + rng.normal(0, 2, n) > 0).astype(int)
    return x, y
with open(f"{out}/train.csv", "w") as f:
    x, y = block(20_000)
    f.write(head + ",y\n")
    np.savetxt(f, np.column_stack([x, y]), fmt=["%.6f"] * cols + ["%d"], delimiter=",")
with open(f"{out}/input.csv", "w") as f:
    f.write(head + "\n")
    for _ in range(rows // chunk):
        x, _ = block(chunk)
        np.savetxt(f, x, fmt="%.6f", delimiter=",")
PY
fi
sb=$(mktemp -d); trap 'rm -rf "$sb"' EXIT
mkdir -p "$sb/config" "$sb/plugins"
cp "$TARGET/release/libmlhost_plugin_logistic.so" "$sb/plugins/"
printf 'plugin_dirs = ["../plugins"]\ndatabase = "../m.db"\n' > "$sb/config/mlhost.toml"
printf '[[model]]\nid = "logistic"\nplugin = "logistic"\nscale = "standard"\n' > "$sb/config/models.toml"
M=("$BIN" --config "$sb/config/mlhost.toml")
"${M[@]}" train --model logistic --dataset "$DATA/train.csv" --label y --name bench
echo "input: $(du -m "$DATA/input.csv" | cut -f1) MB, $(($(wc -l < "$DATA/input.csv") - 1)) rows; load average $(cut -d' ' -f1-3 /proc/loadavg)"
CHUNK=()
if [ -n "${CHUNK_ROWS:-}" ]; then CHUNK=(--chunk-rows "$CHUNK_ROWS"); fi
: > "$sb/runs"
for _ in $(seq 1 "$RUNS"); do
  /usr/bin/time -f "%e %M %U %S" -o "$sb/time" "${M[@]}" predict --model bench --input "$DATA/input.csv" \
    --output "$sb/p.csv" "${CHUNK[@]}" 2> "$sb/err" || { cat "$sb/err"; exit 1; }
  cat "$sb/time" >> "$sb/runs"
done
tail -1 "$sb/err"
/usr/bin/time -f "%e %M" -o "$sb/time" "${M[@]}" predict --model bench --input "$DATA/input.csv" \
  --output "$sb/p.csv" --proba "${CHUNK[@]}" 2> /dev/null
read -r psecs pkb < "$sb/time"
head -3 "$sb/p.csv"
python3 - "$sb/runs" "$psecs" "$pkb" <<'PY'
import statistics, sys
runs = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
secs = [r[0] for r in runs]
rss = [r[1] / 1024 for r in runs]
cpu = [r[2] + r[3] for r in runs]
med = statistics.median(secs)
print(f"predict 1,000,000 x 30 -> CSV, logistic: median {med:.2f} s = {1e6 / med:,.0f} rows/s "
      f"(runs: {', '.join(f'{s:.2f}' for s in secs)}); CPU median {statistics.median(cpu):.2f} s "
      f"(runs: {', '.join(f'{c:.2f}' for c in cpu)}); peak RSS median {statistics.median(rss):.1f} MB "
      f"(max {max(rss):.1f})")
p = float(sys.argv[2])
print(f"with --proba: {p:.2f} s = {1e6 / p:,.0f} rows/s, peak RSS {float(sys.argv[3]) / 1024:.1f} MB")
PY
