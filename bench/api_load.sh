#!/usr/bin/env bash
# Loopback load on GET /api/ml/evaluations/{id}/results: wrk with 2
# connections for 10 s against a release `mlhost serve`, after one finished
# run (baseline and logistic on iris, 5 folds: 12 result rows).
# Needs wrk (Debian package `wrk`). Usage: bench/api_load.sh [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q
tmp=$(mktemp -d)
sed 's|^database = .*|database = "'"$tmp"'/api.db"|' config/mlhost.toml > config/.bench-api.toml
target/release/mlhost --config config/.bench-api.toml serve --bind 127.0.0.1:0 > "$tmp/serve.out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp" config/.bench-api.toml' EXIT
for _ in $(seq 100); do grep -q listening "$tmp/serve.out" && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out")
run=$(curl -s -X POST "$url/api/ml/evaluations" -H 'content-type: application/json' \
  -d '{"dataset":"builtin:iris","models":["baseline","logistic"]}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["runId"])')
for _ in $(seq 200); do
  curl -s "$url/api/ml/evaluations/$run" | grep -q '"completed"' && break; sleep 0.05
done
echo "machine: $(nproc) cores; wrk -t1 -c2 -d${SECS}s on $url/api/ml/evaluations/$run/results"
wrk -t1 -c2 -d"${SECS}s" --latency "$url/api/ml/evaluations/$run/results" | grep -E "Requests/sec|99%|50%|Non-2xx" || true
