#!/usr/bin/env bash
# Training-metrics figures: storage per 100 epochs, and GET latency of
# /api/ml/operations/{id}/metrics with 100 epochs recorded (wrk, 1
# connection, 5 s, loopback). Needs wrk. Usage: bench/training_figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
tmp=$(mktemp -d)
sed 's|^database = .*|database = "'"$tmp"'/t.db"|' config/mlhost.toml > config/.bench-train.toml
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp" config/.bench-train.toml' EXIT
pid=0
# 1. Storage: the mlp for 100 epochs on 5 folds (500 epochs), with and
#    without its epoch rows.
cat > "$tmp/models.toml" <<'TOML'
[[model]]
id = "net"
plugin = "mlp"
params = { epochs = 100 }
scale = "standard"
TOML
sed -i 's|^registry = .*|registry = "'"$tmp"'/models.toml"|' config/.bench-train.toml
target/release/mlhost --config config/.bench-train.toml eval --models net >/dev/null
python3 - "$tmp/t.db" <<'PY'
import os, shutil, sqlite3, sys
db = sys.argv[1]
c = sqlite3.connect(db); c.execute("VACUUM"); c.close()
full = os.path.getsize(db)
shutil.copy(db, db + ".bare")
c = sqlite3.connect(db + ".bare")
n = c.execute("SELECT COUNT(*) FROM epoch_metrics").fetchone()[0]
c.execute("DELETE FROM epoch_metrics"); c.commit(); c.execute("VACUUM"); c.close()
bare = os.path.getsize(db + ".bare")
print(f"storage: {n} epochs take {full - bare} bytes: {(full - bare) * 100 / n / 1024:.1f} KB per 100 epochs")
PY
# 2. GET latency with 100 epochs.
target/release/mlhost --config config/.bench-train.toml serve --bind 127.0.0.1:0 > "$tmp/serve.out" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/serve.out" && break; sleep 0.05; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out")/api/ml/operations/bench-op/metrics
python3 -c '
import json
eps = [{"epoch": i + 1, "metrics": {"train_loss": 1 / (i + 1), "val_loss": 1 / (i + 1) + 0.01 * i, "val_accuracy": 0.9, "learning_rate": 0.01}} for i in range(100)]
print(json.dumps({"epochs": eps}))' > "$tmp/eps.json"
curl -s -o /dev/null -w "POST 100 epochs: %{http_code} in %{time_total}s\n" -X POST "$url" -H 'content-type: application/json' --data @"$tmp/eps.json"
wrk -t1 -c1 -d5s --latency "$url" | grep -E "Requests/sec|50%|99%"
