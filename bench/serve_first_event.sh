#!/usr/bin/env bash
# Time for `mlhost serve` on a database file that does not exist yet to
# publish its first event: start serve (fresh database, relay on), POST an
# evaluation as soon as it listens, and poll the Redis stream until the
# first entry is there. Reports medians of RUNS runs of
#   post->redis:  from the POST to the event in Redis,
#   start->redis: from starting the process to the event in Redis.
# Needs curl, redis-cli and a Redis at REDIS_URL (default redis://127.0.0.1:6379).
# Usage: bench/serve_first_event.sh [RUNS=11]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
cargo build --release -q -p mlhost -p mlhost-plugin-baseline
tmp=$(mktemp -d)
stream="mlhost-bench-first-$$"
mkdir -p "$tmp/config" "$tmp/plugins"
cp target/release/libmlhost_plugin_baseline.so "$tmp/plugins/"
cat > "$tmp/config/mlhost.toml" <<TOML
plugin_dirs = ["../plugins"]
database = "../fresh.db"
[events]
redis_url = "$REDIS_URL"
stream = "$stream"
TOML
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; redis-cli -u "$REDIS_URL" DEL "$stream" >/dev/null; }
trap cleanup EXIT
now_us() { echo $(( $(date +%s%N) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
: > "$tmp/post"; : > "$tmp/start"
for _ in $(seq "$RUNS"); do
  rm -rf "$tmp"/fresh.db* "$tmp/plugin-images"
  redis-cli -u "$REDIS_URL" DEL "$stream" >/dev/null
  t0=$(now_us)
  (cd "$tmp" && exec "$OLDPWD/target/release/mlhost" serve --bind 127.0.0.1:0 > "$tmp/out" 2>"$tmp/err") &
  pid=$!
  until grep -q '^listening on ' "$tmp/out" 2>/dev/null; do sleep 0.005; done
  url=$(sed -n 's/^listening on //p' "$tmp/out")
  t1=$(now_us)
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"dataset":"builtin:iris","folds":2}' "$url/api/ml/evaluations"
  until [ "$(redis-cli -u "$REDIS_URL" XLEN "$stream")" -gt 0 ]; do sleep 0.002; done
  t2=$(now_us)
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo $(( t2 - t1 )) >> "$tmp/post"
  echo $(( t2 - t0 )) >> "$tmp/start"
done
echo "machine: $(nproc) cores, $(uname -m); median of $RUNS runs, fresh database each"
echo "post->redis:  $(median < "$tmp/post") us"
echo "start->redis: $(median < "$tmp/start") us"
