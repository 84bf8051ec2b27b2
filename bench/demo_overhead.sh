#!/usr/bin/env bash
# Wall time of the default demo and the host's overhead per job, BASE vs HEAD
# in one run. Two cases, each a fresh `mlhost eval --json` process on a fresh
# temp database (so the load-time probe of every plugin file is included):
#   demo:  no other flags: every ready candidate of the revision's own
#          config/models.toml on builtin:breast_cancer, 5 folds, 3 workers;
#   demo-w1: the same with --workers 1 (with 3 workers on this machine's
#          cores the fits overlap and inflate each other, so their sum can
#          exceed the wall time and the demo's overhead comes out negative;
#          with one worker it is the serial overhead of the same jobs);
#   tiny:  JOBS candidates b01..bNN all backed by the baseline plugin, on
#          builtin:iris with --folds 10 --workers 1 (fits take microseconds,
#          so the overhead dominates).
# Host overhead per job = (wall - sum over jobs and folds of the
# fit_seconds + predict_seconds the JSON reports) / jobs, where jobs = the
# number of entries in `models`. Each revision runs its own plugin builds.
# N runs per case and revision; BASE and HEAD alternate run by run, so
# machine noise hits both alike; medians are printed with HEAD/BASE.
# HEAD "worktree" (default) is the working tree, built with
# CARGO_TARGET_DIR=/work/bench-target; a BASE is built once in a worktree
# under /tmp and cached in /tmp/bench-bins/<sha>/ (see bench/rev_bins.sh).
# Needs jq. Usage: bench/demo_overhead.sh [BASE=1453631] [HEAD=worktree] [N=15] [JOBS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-1453631}
HEAD=${2:-worktree}
N=${3:-15}
JOBS=${4:-20}
command -v jq >/dev/null || { echo "install jq (apt-get install jq)" >&2; exit 1; }
source bench/rev_bins.sh
plugins=(baseline logistic tree naive-bayes knn forest mlp linear)
crates=(mlhost); for p in "${plugins[@]}"; do crates+=("mlhost-plugin-$p"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One folder per revision and case: config/, plugins/, the database beside them.
setup() { # setup SIDE REV BINDIR
  local side=$1 rev=$2 bins=$3 p
  for c in demo tiny; do mkdir -p "$tmp/$side/$c/config" "$tmp/$side/$c/plugins"; done
  for p in "${plugins[@]}"; do cp "$bins/libmlhost_plugin_${p//-/_}.so" "$tmp/$side/demo/plugins/"; done
  cp "$bins/libmlhost_plugin_baseline.so" "$tmp/$side/tiny/plugins/"
  if [ "$rev" = worktree ]; then cp config/models.toml "$tmp/$side/demo/config/"
  else git show "$rev:config/models.toml" > "$tmp/$side/demo/config/models.toml"; fi
  for i in $(seq -w 1 "$JOBS"); do printf '[[model]]\nid = "b%s"\nplugin = "baseline"\n\n' "$i"; done > "$tmp/$side/tiny/config/models.toml"
  for c in demo tiny; do printf 'plugin_dirs = ["../plugins"]\ndatabase = "../m.db"\n' > "$tmp/$side/$c/config/mlhost.toml"; done
  cp -r "$tmp/$side/demo" "$tmp/$side/demo-w1"
  ln -s "$bins/mlhost" "$tmp/$side/mlhost"
}
setup base "$BASE" "$(rev_bins "$BASE" "${crates[@]}")"
setup head "$HEAD" "$(rev_bins "$HEAD" "${crates[@]}")"
# one SIDE CASE: appends "wall_us fitpredict_us jobs" to $tmp/SIDE.CASE
one() {
  local side=$1 case=$2 dir=$tmp/$1/$2 t0 t1
  shift 2
  rm -rf "$dir"/m.db* "$dir/plugin-images"
  t0=$(date +%s%N)
  "$dir/../mlhost" --config "$dir/config/mlhost.toml" eval --json "$@" > "$dir/out.json" 2> "$dir/err" || { cat "$dir/err" >&2; exit 1; }
  t1=$(date +%s%N)
  jq -r --arg w $(( (t1 - t0) / 1000 )) \
    '"\($w) \([.models[].folds[]? | (.fit_seconds // 0) + (.predict_seconds // 0)] | add // 0 | . * 1e6 | floor) \(.models | length)"' \
    "$dir/out.json" >> "$tmp/$side.$case"
}
for _ in $(seq "$N"); do
  for side in base head; do
    one "$side" demo
    one "$side" demo-w1 --workers 1
    one "$side" tiny --dataset builtin:iris --folds 10 --workers 1
  done
done
col() { awk -v c="$2" '{ if (c == "wall") v = $1 / 1000; else if (c == "fp") v = $2 / 1000; else if (c == "jobs") v = $3; else v = ($1 - $2) / $3 / 1000; printf (c == "jobs") ? "%d\n" : "%.3f\n", v }' "$tmp/$1" | median; }
bl=$(rev_label "$BASE"); hl=$(rev_label "$HEAD")
echo "machine: $(nproc) cores, $(uname -m); median of $N runs each, BASE and HEAD alternating; fresh database per run"
fmt='%-34s %-16s %10s %10s %9s\n'
printf "$fmt" case metric "$bl" "$hl" HEAD/BASE
for c in demo demo-w1 tiny; do
  case $c in
    demo) label="demo: $(col base.demo jobs)|$(col head.demo jobs) jobs, 3 workers" ;;
    demo-w1) label="demo --workers 1" ;;
    tiny) label="tiny: $JOBS jobs, 10 folds, 1 worker" ;;
  esac
  for m in wall:"wall ms" fp:"fit+predict ms" ovh:"overhead/job ms"; do
    b=$(col "base.$c" "${m%%:*}"); h=$(col "head.$c" "${m%%:*}")
    printf "$fmt" "$label" "${m#*:}" "$b" "$h" "$(ratio "$h" "$b")"
    label=""
  done
done
