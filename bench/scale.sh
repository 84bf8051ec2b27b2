#!/usr/bin/env bash
# Issue 14's scale figure: scikit-learn and mlhost on the same generated
# binary dataset (bench/scale.py: N rows x 20 features), six classic
# candidates each (logistic, naive-bayes, tree, knn, forest, mlp; see
# scale.py for the scikit-learn side), 5 folds, 2 workers / n_jobs=2.
# RUNS repetitions of each side, alternating; per model the accuracy and the
# median fit seconds per fold; the medians of the wall times.
# mlhost: `target/release/mlhost eval --dataset CSV --models ... --workers 2
# --json` with the repository's config/models.toml and release plugins
# (built here). Needs python3 with scikit-learn (PYTHONPATH) and jq.
# Usage: PYTHONPATH=/tmp/pylib bench/scale.sh [N=10000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
RUNS=${2:-3}
MODELS=logistic,naive-bayes,tree,knn,forest,mlp
cargo build --release -q -p mlhost $(for m in ${MODELS//,/ }; do echo "-p mlhost-plugin-$m"; done)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config"
cp config/models.toml "$tmp/config/"
printf 'plugin_dirs = ["%s/target/release"]\nregistry = "models.toml"\ndatabase = "../m.db"\n' "$PWD" > "$tmp/config/mlhost.toml"
for r in $(seq 1 "$RUNS"); do
  python3 bench/scale.py "$N" "$tmp/d.csv" > "$tmp/sk$r.json"
  t0=$(date +%s.%N)
  target/release/mlhost --config "$tmp/config/mlhost.toml" eval --dataset "$tmp/d.csv" --label y \
    --models "$MODELS" --workers 2 --json > "$tmp/mh$r.json"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc > "$tmp/mhwall$r"
done
python3 - "$tmp" "$RUNS" "$N" <<'PY'
import json, statistics, sys
tmp, runs, n = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sk = [json.load(open(f"{tmp}/sk{r}.json")) for r in range(1, runs + 1)]
mh = [json.load(open(f"{tmp}/mh{r}.json")) for r in range(1, runs + 1)]
walls = [float(open(f"{tmp}/mhwall{r}").read()) for r in range(1, runs + 1)]
med = statistics.median
print(f"{n} rows x 20, 5 folds, 2 workers; median of {runs}")
print(f"{'model':12} {'acc mlhost':>10} {'acc sklearn':>11} {'fit s mlhost':>12} {'fit s sklearn':>13} {'pred s mlhost':>13} {'pred s sklearn':>14}")
for m in sk[0]["models"]:
    ours = [next(x for x in r["models"] if x["modelId"] == m) for r in mh]
    print(f"{m:12} {ours[0]['metrics']['accuracy']:10.4f} {sk[0]['models'][m]['accuracy']:11.4f}"
          f" {med(o['metrics']['fit_seconds'] for o in ours):12.3f} {med(s['models'][m]['fit_seconds'] for s in sk):13.3f}"
          f" {med(o['metrics']['predict_seconds'] for o in ours):13.4f} {med(s['models'][m]['predict_seconds'] for s in sk):14.4f}")
w_mh, w_sk = med(walls), med(s["wall_seconds"] for s in sk)
print(f"wall: mlhost {w_mh:.2f} s, scikit-learn {w_sk:.2f} s, ratio {w_mh / w_sk:.2f}")
PY
