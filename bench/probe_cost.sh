#!/usr/bin/env bash
# Cost of the load-time probe, as an operator sees it: a fresh
# `mlhost registry --json` process per run over N distinct plugin files
# (copies of the release baseline, each with a different trailing byte, so
# each has its own sha256 and its own private image).
#   cold:  a fresh database per run, so every file is probed in a child
#          `mlhost probe` first (the first scan after a drop-in);
#   warm:  the verdicts are cached by sha256 (every later scan);
#   base:  the mlhost of git revision BASE (default HEAD, i.e. without this
#          work tree's changes) on 100 files made the same way from BASE's
#          own baseline plugin (an ABI change between the two would make
#          BASE reject today's files, on another code path).
# Per new plugin = (cold - warm) / N. Medians of RUNS runs; runs of the three
# kinds alternate so machine noise hits them alike.
# Usage: bench/probe_cost.sh [N=100] [RUNS=11] [BASE=HEAD]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
RUNS=${2:-11}
BASE=${3:-HEAD}
root=$PWD
cargo build --release -q -p mlhost -p mlhost-plugin-baseline
base_dir=target/bench-base
rm -rf "$base_dir/src" && mkdir -p "$base_dir"
git worktree remove --force "$base_dir/src" 2>/dev/null || true
git worktree add -q --detach "$base_dir/src" "$BASE"
(cd "$base_dir/src" && CARGO_TARGET_DIR="$root/$base_dir/target" cargo build --release -q -p mlhost -p mlhost-plugin-baseline)
base_bin="$root/$base_dir/target/release/mlhost"
git worktree remove --force "$base_dir/src"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/config" "$tmp/plugins" "$tmp/base/config" "$tmp/base/plugins"
echo 'plugin_dirs = ["../plugins"]' > "$tmp/config/mlhost.toml"
echo 'database = "../m.db"' >> "$tmp/config/mlhost.toml"
cp "$tmp/config/mlhost.toml" "$tmp/base/config/"
for i in $(seq -w 1 "$N"); do
  for pair in "$tmp/plugins:target/release" "$tmp/base/plugins:$base_dir/target/release"; do
    f="${pair%%:*}/libplugin$i.so"
    cp "${pair#*:}/libmlhost_plugin_baseline.so" "$f"
    printf '%s' "$i" >> "$f"
    chmod 0755 "$f"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
us() { local dir=$1 t0 t1; shift; t0=$(date +%s%N); (cd "$dir" && "$@" registry --json >/dev/null); t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
: > "$tmp/cold"; : > "$tmp/warm"; : > "$tmp/base.times"
"$root/target/release/mlhost" --config "$tmp/config/mlhost.toml" registry >/dev/null # warm the cache
for _ in $(seq "$RUNS"); do
  mv "$tmp/m.db" "$tmp/keep.db"; rm -f "$tmp"/m.db-*; rm -rf "$tmp/plugin-images"
  us "$tmp" "$root/target/release/mlhost" >> "$tmp/cold"
  mv "$tmp/keep.db" "$tmp/m.db"; rm -f "$tmp"/m.db-*
  us "$tmp" "$root/target/release/mlhost" >> "$tmp/warm"
  us "$tmp/base" "$base_bin" >> "$tmp/base.times"
done
cold=$(median < "$tmp/cold"); warm=$(median < "$tmp/warm"); base=$(median < "$tmp/base.times")
echo "machine: $(nproc) cores, $(uname -m); $N plugin files; median of $RUNS runs"
echo "registry, cold (every file probed): ${cold} us"
echo "registry, warm (verdicts cached):   ${warm} us"
echo "registry, $BASE (no probe, its own plugin build): ${base} us"
echo "plugin file: $(stat -c %s target/release/libmlhost_plugin_baseline.so) bytes now, $(stat -c %s "$base_dir/target/release/libmlhost_plugin_baseline.so") at $BASE"
echo "probe cost per new plugin: $(( (${cold%.*} - ${warm%.*}) / N )) us"
echo "warm / base: $(awk -v w="$warm" -v b="$base" 'BEGIN {printf "%.2f", w / b}')"
