#!/usr/bin/env bash
# CPU cost of idle SSE clients on `mlhost serve`, BASE vs HEAD in one run.
# Per serve (release, fresh database, --bind 127.0.0.1:0, [eval] workers = 1
# and isolation = "process"):
#   1. POST {"dataset":"builtin:iris","models":["baseline"]} and wait until it
#      completed (warms the probe cache and the store);
#   2. POST a run of candidate `slow` (mlp, 100,000 epochs, 4,096 hidden
#      units) and, once its worker process exists, SIGSTOP that child: the
#      run stays `running` with no new events and no CPU spent on training
#      (the server only waits on the child's pipe; the SSE stream of both
#      revisions ends only at run.completed, so clients on it stay open);
#   3. WINDOWS pairs of SECS-second windows: one with 0 clients, one with
#      CLIENTS concurrent `curl -sN .../evaluations/RUN/events` connected
#      (started 2 s before the window, killed after it).
# CPU% of a window = (utime + stime of the serve process, from
# /proc/PID/stat, at its end minus at its start) / SECS x 100; children's
# time is not in it. ROUNDS rounds, each starting one BASE then one HEAD
# serve; medians over all windows with HEAD/BASE. Clients that are no longer
# running at the end of a window (their stream ended) are counted and shown.
# HEAD "worktree" (default) is the working tree, built with
# CARGO_TARGET_DIR=/work/bench-target; a BASE is built once in a worktree
# under /tmp and cached in /tmp/bench-bins/<sha>/ (see bench/rev_bins.sh).
# Needs curl and jq.
# Usage: bench/sse_idle.sh [BASE=1453631] [HEAD=worktree] [CLIENTS=100] [SECS=10] [WINDOWS=3] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-1453631}
HEAD=${2:-worktree}
CLIENTS=${3:-100}
SECS=${4:-10}
WINDOWS=${5:-3}
ROUNDS=${6:-2}
for c in curl jq; do command -v $c >/dev/null || { echo "install $c (apt-get install $c)" >&2; exit 1; }; done
source bench/rev_bins.sh
crates=(mlhost mlhost-plugin-baseline mlhost-plugin-mlp)
tmp=$(mktemp -d)
pid= clients=() stopped=
cleanup() {
  if [ ${#clients[@]} -gt 0 ]; then kill "${clients[@]}" 2>/dev/null || true; fi
  if [ -n "$stopped" ]; then kill -KILL $stopped 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
for side in base head; do
  rev=$BASE; [ "$side" = head ] && rev=$HEAD
  bins=$(rev_bins "$rev" "${crates[@]}")
  mkdir -p "$tmp/$side/config" "$tmp/$side/plugins"
  cp "$bins/libmlhost_plugin_baseline.so" "$bins/libmlhost_plugin_mlp.so" "$tmp/$side/plugins/"
  ln -s "$bins/mlhost" "$tmp/$side/mlhost"
  cat > "$tmp/$side/config/mlhost.toml" <<'TOML'
plugin_dirs = ["../plugins"]
database = "../m.db"
[eval]
workers = 1
isolation = "process"
TOML
  cat > "$tmp/$side/config/models.toml" <<'TOML'
[[model]]
id = "baseline"
plugin = "baseline"

[[model]]
id = "slow"
plugin = "mlp"
params = { epochs = 100000, hidden = 4096 }
TOML
done
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
post() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$1/api/ml/evaluations" | jq -r .runId; }
status() { curl -s "$1/api/ml/evaluations/$2" | jq -r .status; }
is_status() { [ "$(status "$1" "$2")" = "$3" ]; }
wait_for() { # wait_for TRIES CMD...: retry CMD every 0.1 s
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  echo "timed out waiting for: $*" >&2; exit 1
}
tick=$(getconf CLK_TCK)
# window SIDE N_CLIENTS: appends "cpu% dropped" to $tmp/SIDE.N_CLIENTS
window() {
  local side=$1 n=$2 c0 c1 t0 t1 dropped=0 c
  clients=()
  for _ in $(seq "$n"); do curl -sN "$url/api/ml/evaluations/$run/events" >/dev/null 2>&1 & clients+=($!); done
  [ "$n" -gt 0 ] && sleep 2
  c0=$(cpu_ticks "$pid"); t0=$(date +%s%N)
  sleep "$SECS"
  c1=$(cpu_ticks "$pid"); t1=$(date +%s%N)
  for c in "${clients[@]}"; do kill -0 "$c" 2>/dev/null || dropped=$((dropped + 1)); done
  [ ${#clients[@]} -gt 0 ] && { kill "${clients[@]}" 2>/dev/null; wait "${clients[@]}" 2>/dev/null || true; }
  clients=()
  awk -v c=$((c1 - c0)) -v hz="$tick" -v ns=$((t1 - t0)) -v d="$dropped" \
    'BEGIN {printf "%.2f %d\n", c / hz / (ns / 1e9) * 100, d}' >> "$tmp/$side.$n"
}
one_serve() {
  local side=$1 dir=$tmp/$1 child
  rm -rf "$dir"/m.db* "$dir/plugin-images" "$dir/out"
  (cd "$dir" && exec ./mlhost serve --bind 127.0.0.1:0 > out 2> err) &
  pid=$!
  wait_for 300 grep -q '^listening on ' "$dir/out"
  url=$(sed -n 's/^listening on //p' "$dir/out")
  run=$(post "$url" '{"dataset":"builtin:iris","models":["baseline"]}')
  wait_for 600 is_status "$url" "$run" completed
  run=$(post "$url" '{"dataset":"builtin:iris","models":["slow"]}')
  wait_for 600 pgrep -P "$pid" >/dev/null
  stopped=$(pgrep -P "$pid" | tr '\n' ' ')
  kill -STOP $stopped
  [ "$(status "$url" "$run")" = running ] || { echo "$side: run $run is not running" >&2; exit 1; }
  for _ in $(seq "$WINDOWS"); do window "$side" 0; window "$side" "$CLIENTS"; done
  [ "$(status "$url" "$run")" = running ] || echo "$side: run $run left running during the windows" >&2
  kill -KILL $stopped 2>/dev/null; stopped=
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
for _ in $(seq "$ROUNDS"); do one_serve base; one_serve head; done
col() { awk -v c="$2" '{print $c}' "$tmp/$1" | median; }
dmax() { awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$tmp/$1"; }
bl=$(rev_label "$BASE"); hl=$(rev_label "$HEAD")
echo "machine: $(nproc) cores, $(uname -m); serve CPU% (one core = 100) over ${SECS} s windows; median of $((WINDOWS * ROUNDS)) windows each"
fmt='%-30s %10s %10s %9s\n'
printf "$fmt" "idle SSE clients" "$bl" "$hl" HEAD/BASE
for n in 0 "$CLIENTS"; do
  b=$(col "base.$n" 1); h=$(col "head.$n" 1)
  printf "$fmt" "$n clients, CPU %" "$b" "$h" "$(ratio "$h" "$b")"
done
b=$(awk -v x="$(col "base.$CLIENTS" 1)" -v y="$(col base.0 1)" 'BEGIN {printf "%.3f", (x - y) / '"$CLIENTS"'}')
h=$(awk -v x="$(col "head.$CLIENTS" 1)" -v y="$(col head.0 1)" 'BEGIN {printf "%.3f", (x - y) / '"$CLIENTS"'}')
printf "$fmt" "per client, CPU % (difference)" "$b" "$h" "$(ratio "$h" "$b")"
echo "clients whose stream ended early (max per window): base $(dmax "base.$CLIENTS"), head $(dmax "head.$CLIENTS")"
