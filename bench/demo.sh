#!/usr/bin/env bash
# Wall time of the default demo, `mlhost eval` with no flags (every ready
# candidate on builtin:breast_cancer, stratified 5-fold, 3 workers), once
# built. Prints every run and the median. Usage: bench/demo.sh [RUNS=11]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A throwaway database, so the demo's runs do not pile up in mlhost.db.
sed 's|^database = .*|database = "'"$tmp"'/demo.db"|' config/mlhost.toml > config/.bench-demo.toml
trap 'rm -rf "$tmp" config/.bench-demo.toml' EXIT
times=()
for _ in $(seq "$RUNS"); do
  t0=$(date +%s%N)
  target/release/mlhost --config config/.bench-demo.toml eval >/dev/null
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000000 )))
done
echo "machine: $(nproc) cores, $(uname -m); candidates: $(target/release/mlhost --config config/.bench-demo.toml registry --json | grep -c '"state": "ready"') ready"
echo "runs (ms): ${times[*]}"
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "median: " a[int((NR+1)/2)] " ms"}'
