#!/usr/bin/env bash
# Issue 16's drift figure: `mlhost drift` on two generated CSVs of
# 1,000,000 rows x 20 columns each (18 numeric with 4 decimals, 2 text
# columns of 5 categories; in the current file two numeric columns and one
# text column are shifted). Release build; the wall time of the whole
# command (reading both files, every statistic, the JSON), median of RUNS.
# The CSVs (about 150 MB each) are generated once into $DRIFT_DATA.
# Usage: bench/drift.sh [RUNS=3]   (numpy: PYTHONPATH=/tmp/pylib)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DATA=${DRIFT_DATA:-${TMPDIR:-/tmp}/mlhost-drift-bench}
cargo build --release -q -p mlhost
BIN=${CARGO_TARGET_DIR:-target}/release/mlhost
mkdir -p "$DATA"
if [ ! -s "$DATA/current.csv" ]; then
  python3 - "$DATA" <<'PY'
import sys
import numpy as np
out, rows, chunk = sys.argv[1], 1_000_000, 100_000
cats = np.array(["alpha", "beta", "gamma", "delta", "eps"])
for name, shifted, seed in (("reference", False, 1), ("current", True, 2)):
    rng = np.random.default_rng(seed)
    with open(f"{out}/{name}.csv", "w") as f:
        f.write(",".join([f"x{i}" for i in range(18)] + ["c0", "c1"]) + "\n")
        for _ in range(rows // chunk):
            x = rng.normal(0, 1, (chunk, 18))
            if shifted:
                x[:, 0] += 0.3
                x[:, 1] *= 1.5
            p1 = [0.1, 0.2, 0.3, 0.2, 0.2] if shifted else [0.2] * 5
            c0 = cats[rng.integers(0, 5, chunk)]
            c1 = cats[rng.choice(5, chunk, p=p1)]
            cells = np.char.mod("%.4f", x)
            lines = [",".join(r) + f",{a},{b}" for r, a, b in zip(cells.tolist(), c0, c1)]
            f.write("\n".join(lines) + "\n")
PY
fi
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
for _ in $(seq 1 "$RUNS"); do
  secs "$BIN" drift --reference "$DATA/reference.csv" --current "$DATA/current.csv" --json >> "$DATA/times"
done
"$BIN" drift --reference "$DATA/reference.csv" --current "$DATA/current.csv" | tail -1
python3 - "$DATA/times" "$RUNS" <<'PY'
import statistics, sys
t = [float(l) for l in open(sys.argv[1])][-int(sys.argv[2]):]
print(f"drift 1,000,000 x 20 rows, two files: median {statistics.median(t):.2f} s (runs: {', '.join(f'{x:.2f}' for x in t)})")
PY
