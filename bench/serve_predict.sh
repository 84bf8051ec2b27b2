#!/usr/bin/env bash
# Serving figures against a release `mlhost serve` on loopback, in a fresh
# folder (its own database, artifacts and plugin dir):
# - load of a stored version: VERSIONS versions of `iris` (logistic on
#   iris, each with its own `c`, so each its own artifact) asked once each
#   after one warm-up request to another version; the server's own "model
#   loaded for serving" time (artifact read and sha256-checked, header
#   parsed, plugin model built and loaded) and curl's time of that first
#   request (process start not included); the same for a 100-tree forest
#   on breast_cancer (a 1 MB artifact);
# - single-row POST /api/ml/models/iris/predict over HTTP keep-alive: wrk,
#   1 thread, 1 connection (latency, one request at a time), RUNS runs of
#   SECS seconds, then 2 connections (throughput); medians of the runs'
#   p50 and p99 (the tail moves with whatever else the 2 cores run: the
#   load average is printed before and after);
# - hot reload: four plugin files copied, one at a time, into the plugin
#   dir of the running server; the time from the copy until `/health`
#   counts it (a new file: probed in a child, then loaded), polled every
#   10 ms (a copy not seen within about 10 s counts as that long).
# ISOLATION is `[serving] isolation`: process (each model instance a child
# `mlhost serve-worker`, the default) or thread (in the server's process).
# Needs wrk (Debian package `wrk`).
# Usage: bench/serve_predict.sh [SECS=10] [RUNS=5] [VERSIONS=10] [ISOLATION=process]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
RUNS=${2:-5}
VERSIONS=${3:-10}
ISOLATION=${4:-process}
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release -q
T=${CARGO_TARGET_DIR:-target}/release
BIN=$T/mlhost
tmp=$(mktemp -d)
mkdir -p "$tmp/plugins" "$tmp/config"
cp "$T/libmlhost_plugin_logistic.so" "$tmp/plugins/liblogistic.so"
cp "$T/libmlhost_plugin_forest.so" "$tmp/plugins/libforest.so"
printf 'plugin_dirs = ["../plugins"]\ndatabase = "../mlhost.db"\n\n[serving]\nisolation = "%s"\n' "$ISOLATION" > "$tmp/config/mlhost.toml"
: > "$tmp/config/models.toml"
mlhost() { "$BIN" --config "$tmp/config/mlhost.toml" "$@"; }
for i in $(seq 0 "$VERSIONS"); do
  mlhost train --model logistic --name iris --dataset builtin:iris --param "c=$((i + 1))" > /dev/null
done
mlhost train --model forest --name bc --dataset builtin:breast_cancer > /dev/null
"$BIN" --config "$tmp/config/mlhost.toml" serve --bind 127.0.0.1:0 > "$tmp/serve.out" 2> "$tmp/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do grep -q listening "$tmp/serve.out" && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out")
row='{"rows":[[5.1,3.5,1.4,0.2]]}'
echo "isolation: $ISOLATION; machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average: $(cut -d' ' -f1-3 /proc/loadavg); $url"

ask() { curl -s -o /dev/null -w '%{time_total}\n' -X POST "$url/api/ml/models/$1/predict" \
  -H 'content-type: application/json' -d "$2"; }
ask iris:1 "$row" > /dev/null; ask iris:1 "$row" > /dev/null   # warm-up
for v in $(seq 2 $((VERSIONS + 1))); do ask "iris:$v" "$row" >> "$tmp/first"; done
ask bc "{\"rows\":[$(python3 -c 'print([0.5] * 30)')]}" > "$tmp/forest"
python3 - "$tmp/serve.log" "$tmp/first" "$tmp/forest" <<'PY'
import re, statistics, sys
loads = [(m[0], float(m[1])) for m in re.findall(r"model loaded for serving model=(\S+).*?ms=([0-9.]+)", open(sys.argv[1]).read())]
iris = [ms for name, ms in loads if name == "iris"][1:]
first = [1000 * float(l) for l in open(sys.argv[2])]
forest = [ms for name, ms in loads if name == "bc"]
print(f"load of a stored version, logistic ({len(iris)} versions): server median {statistics.median(iris):.2f} ms, "
      f"max {max(iris):.2f} ms; first request (curl) median {statistics.median(first):.2f} ms, max {max(first):.2f} ms")
print(f"load of a stored version, forest 100 trees: server {forest[0]:.2f} ms; first request (curl) {1000 * float(open(sys.argv[3]).read()):.2f} ms")
PY

cat > "$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$row'
wrk.headers["Content-Type"] = "application/json"
LUA
curl -s -X POST "$url/api/ml/models/iris/predict" -H 'content-type: application/json' -d "$row"; echo
wrk_run() {  # connections, seconds -> "p50_us p99_us requests_per_s"
  wrk -t1 -c"$1" -d"$2s" --latency -s "$tmp/post.lua" "$url/api/ml/models/iris/predict" | python3 -c '
import re, sys
t = sys.stdin.read()
assert "Non-2xx" not in t and "Socket errors" not in t, t
us = lambda p: (lambda v, u: float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[u])(*re.search(rf"^ +{p}% +([0-9.]+)(us|ms|s)$", t, re.M).groups())
print(us(50), us(99), float(re.search(r"Requests/sec: +([0-9.]+)", t).group(1)))'
}
for c in 1 2; do
  : > "$tmp/wrk$c"
  for _ in $(seq "$RUNS"); do wrk_run "$c" "$SECS" >> "$tmp/wrk$c"; done
  python3 - "$tmp/wrk$c" "$c" "$SECS" <<'PY'
import statistics, sys
runs = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
med = lambda i: statistics.median(r[i] for r in runs)
print(f"single-row predict, keep-alive, wrk -t1 -c{sys.argv[2]}, {len(runs)} runs of {sys.argv[3]} s: "
      f"median p50 {med(0) / 1e3:.3f} ms, median p99 {med(1) / 1e3:.2f} ms, {med(2):,.0f} requests/s "
      f"(p99 per run: {', '.join(f'{r[1] / 1e3:.2f}' for r in runs)} ms)")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

ready() { curl -s "$url/health" | sed -n 's/.*"ready":\([0-9]*\).*/\1/p'; }
for p in naive_bayes tree knn gbdt; do
  want=$(( $(ready) + 1 ))
  t0=$(date +%s.%N)
  cp "$T/libmlhost_plugin_$p.so" "$tmp/plugins/lib$p.so"
  for _ in $(seq 1000); do [ "$(ready)" -lt "$want" ] || break; sleep 0.01; done
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc >> "$tmp/reload"
done
python3 - "$tmp/reload" "$tmp/serve.log" <<'PY'
import re, statistics, sys
t = [1000 * float(l) for l in open(sys.argv[1])]
scans = [int(m) for m in re.findall(r"plugins reloaded.*?ms=([0-9]+)", open(sys.argv[2]).read())]
print(f"hot reload, copy -> /health counts it: median {statistics.median(t):.0f} ms, max {max(t):.0f} ms "
      f"(runs: {', '.join(f'{x:.0f}' for x in t)}); first event -> registry replaced: {', '.join(map(str, scans))} ms")
PY
