#!/usr/bin/env bash
# Registry load time for N plugin files, cold, as an operator sees it: a fresh
# `mlhost registry --json` process per run (dlopen, abi_stable checks, info(),
# one trial model per candidate). Reports the median of RUNS runs for N
# copies of the release baseline plugin, and for an empty plugin dir (process
# start + config) so the difference is the loading itself.
# Usage: bench/registry_load.sh [N=20] [RUNS=15]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
RUNS=${2:-15}
cargo build --release -q -p mlhost -p mlhost-plugin-baseline
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config" "$tmp/empty/config" "$tmp/plugins" "$tmp/empty/plugins"
echo 'plugin_dirs = ["../plugins"]' > "$tmp/config/mlhost.toml"
echo 'plugin_dirs = ["../plugins"]' > "$tmp/empty/config/mlhost.toml"
for i in $(seq -w 1 "$N"); do
  cp target/release/libmlhost_plugin_baseline.so "$tmp/plugins/libplugin$i.so"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
time_runs() {
  local dir=$1
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    (cd "$dir" && "$OLDPWD/target/release/mlhost" registry --json >/dev/null)
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
  done | median
}
with=$(time_runs "$tmp")
without=$(time_runs "$tmp/empty")
echo "machine: $(nproc) cores, $(uname -m); runs: $RUNS"
echo "registry with $N plugins: median ${with} us"
echo "registry with 0 plugins:  median ${without} us"
echo "per plugin: $(( (${with%.*} - ${without%.*}) / N )) us"
