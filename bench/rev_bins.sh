# Sourced by the BASE-vs-HEAD benches (demo_overhead.sh, migrate.sh,
# sse_idle.sh); not run on its own.
#   rev_bins REV CRATE...   prints a folder holding `mlhost` and the plugin
#                           .so files of git revision REV, release build.
# REV "worktree" is the working tree as it is now, built with
# CARGO_TARGET_DIR=${BENCH_TARGET:-/work/bench-target} (never the default
# target dir, which another build may be using). Any other REV is built once
# in its own git worktree and target dir under /tmp and its binaries cached
# in /tmp/bench-bins/<full sha>/; a later call with the same crates is free.
# Build output goes to stderr, so `dir=$(rev_bins ...)` works.
rev_bins() {
  local rev=$1 root sha wt tgt out c missing=0
  shift
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")/.." rev-parse --show-toplevel)
  local pkgs=() files=(mlhost)
  for c in "$@"; do pkgs+=(-p "$c"); [ "$c" = mlhost ] || files+=("lib${c//-/_}.so"); done
  if [ "$rev" = worktree ]; then
    tgt=${BENCH_TARGET:-/work/bench-target}
    (cd "$root" && CARGO_TARGET_DIR="$tgt" cargo build --release -q "${pkgs[@]}") >&2
    echo "$tgt/release"
    return
  fi
  sha=$(git -C "$root" rev-parse --verify "$rev^{commit}")
  out=/tmp/bench-bins/$sha
  for c in "${files[@]}"; do [ -e "$out/$c" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    wt=/tmp/bench-src-$sha tgt=/tmp/bench-target-$sha
    [ -d "$wt" ] || git -C "$root" worktree add -q --detach "$wt" "$sha" >&2
    (cd "$wt" && CARGO_TARGET_DIR="$tgt" cargo build --release -q "${pkgs[@]}") >&2
    mkdir -p "$out"
    for c in "${files[@]}"; do cp "$tgt/release/$c" "$out/"; done
    git -C "$root" worktree remove --force "$wt" >&2
  fi
  echo "$out"
}

# The label a revision argument is shown with: a short sha, or "worktree".
rev_label() {
  if [ "$1" = worktree ]; then echo worktree; else git rev-parse --short "$1^{commit}"; fi
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v h="$1" -v b="$2" 'BEGIN {if (b <= 0 || h < 0 || b == "nan" || h == "nan") print "-"; else printf "%.3f", h / b}'; }
