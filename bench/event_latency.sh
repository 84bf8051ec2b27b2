#!/usr/bin/env bash
# Time from a state change to its event in Redis: runs an evaluation with the
# relay on (a fresh stream), then compares each event's occurredAt with the
# time Redis stored it (the stream entry id's milliseconds). Prints median
# and p99 over all events of RUNS runs. Needs redis-cli and a Redis at
# REDIS_URL (default redis://127.0.0.1:6379). Usage: bench/event_latency.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
cargo build --release -q
tmp=$(mktemp -d)
stream="mlhost-bench-$$"
sed -e 's|^database = .*|database = "'"$tmp"'/ev.db"|' \
    -e 's|^# redis_url = .*|redis_url = "'"$REDIS_URL"'"|' \
    -e 's|^stream = .*|stream = "'"$stream"'"|' config/mlhost.toml > config/.bench-events.toml
trap 'rm -rf "$tmp" config/.bench-events.toml; redis-cli -u "$REDIS_URL" DEL "$stream" >/dev/null' EXIT
for _ in $(seq "$RUNS"); do
  target/release/mlhost --config config/.bench-events.toml eval --dataset builtin:iris >/dev/null
done
redis-cli -u "$REDIS_URL" --raw XRANGE "$stream" - + > "$tmp/x.txt"
python3 - "$tmp/x.txt" <<'PY'
import sys, json, datetime
lines = open(sys.argv[1]).read().split("\n")
lat = []
for i, line in enumerate(lines):
    if line.startswith("{") and '"occurredAt"' in line:
        ev = json.loads(line)
        # the entry id is a few lines above: "<ms>-<seq>"
        j = i
        while "-" not in lines[j] or not lines[j].split("-")[0].isdigit():
            j -= 1
        stored_ms = int(lines[j].split("-")[0])
        occurred = datetime.datetime.fromisoformat(ev["occurredAt"].replace("Z", "+00:00"))
        lat.append(stored_ms - occurred.timestamp() * 1000)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"events: {len(lat)}; state change -> in Redis: median {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms")
PY
