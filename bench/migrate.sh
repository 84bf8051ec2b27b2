#!/usr/bin/env bash
# Time to open and migrate a database of RUNS_IN_DB (default 1,000) runs
# written by BASE, as an operator sees it on upgrade: the first
# `mlhost runs --json >/dev/null` of HEAD on a fresh copy of the file (the
# first open migrates it in place), versus
#   head, migrated: the same command of HEAD on a copy it already migrated;
#   base:           the same command of BASE on its own file (no migration).
# The file: SEEDS real evaluations by BASE's binary (baseline, logistic and
# mlp with their default params on builtin:iris, 5 folds: 3 jobs, 18 result
# rows, 8 events, 250 epoch rows per run), then every row of runs, jobs,
# results, events and epoch_metrics copied with SQL under new ids (the first
# 8 hex digits of each id replaced by the copy number, run times shifted back
# an hour per copy) until there are RUNS_IN_DB runs. The copy is made with
# `cp` before each timed command and not timed. N runs of each of the three
# commands, interleaved; medians with HEAD/BASE. If HEAD's schema version
# equals BASE's there is nothing to migrate: the script says so and the first
# two rows then measure the same thing.
# HEAD "worktree" (default) is the working tree, built with
# CARGO_TARGET_DIR=/work/bench-target; a BASE is built once in a worktree
# under /tmp and cached in /tmp/bench-bins/<sha>/ (see bench/rev_bins.sh).
# Needs sqlite3 and jq.
# Usage: bench/migrate.sh [BASE=1453631] [HEAD=worktree] [N=15] [RUNS_IN_DB=1000] [SEEDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-1453631}
HEAD=${2:-worktree}
N=${3:-15}
RUNS_IN_DB=${4:-1000}
SEEDS=${5:-3}
for c in sqlite3 jq; do command -v $c >/dev/null || { echo "install $c (apt-get install $c)" >&2; exit 1; }; done
source bench/rev_bins.sh
base_bins=$(rev_bins "$BASE" mlhost mlhost-plugin-baseline mlhost-plugin-logistic mlhost-plugin-mlp)
head_bins=$(rev_bins "$HEAD" mlhost)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Every database lives in a folder of its own beside a config/ naming it.
mkdir -p "$tmp/plugins"
for d in seed fresh migrated base; do
  mkdir -p "$tmp/$d/config"
  printf 'plugin_dirs = ["../../plugins"]\ndatabase = "../m.db"\n' > "$tmp/$d/config/mlhost.toml"
done
for p in baseline logistic mlp; do cp "$base_bins/libmlhost_plugin_$p.so" "$tmp/plugins/"; done
for i in $(seq "$SEEDS"); do
  "$base_bins/mlhost" --config "$tmp/seed/config/mlhost.toml" eval --dataset builtin:iris --folds 5 --seed "$i" >/dev/null 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; exit 1; }
done
db=$tmp/seed/m.db
seeds=$(sqlite3 "$db" 'SELECT count(*) FROM runs')
sqlite3 "$db" >/dev/null <<SQL
CREATE TEMP TABLE copies AS
  WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ($RUNS_IN_DB + $seeds - 1) / $seeds)
  SELECT r.id AS run_id, k.n AS k FROM runs r CROSS JOIN k ORDER BY k.n, r.created_at LIMIT $RUNS_IN_DB - $seeds;
BEGIN;
INSERT INTO runs (id, created_at, status, dataset_id, spec_json, finished_at)
  SELECT printf('%08x', c.k) || substr(r.id, 9),
         strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at, printf('-%d hours', c.k)),
         r.status, r.dataset_id, r.spec_json,
         strftime('%Y-%m-%dT%H:%M:%fZ', r.finished_at, printf('-%d hours', c.k))
  FROM copies c JOIN runs r ON r.id = c.run_id;
INSERT INTO jobs (id, run_id, model_id, model_version, status, attempts, error, started_at, finished_at)
  SELECT printf('%08x', c.k) || substr(j.id, 9), printf('%08x', c.k) || substr(j.run_id, 9),
         j.model_id, j.model_version, j.status, j.attempts, j.error, j.started_at, j.finished_at
  FROM copies c JOIN jobs j ON j.run_id = c.run_id;
INSERT INTO results (run_id, model_id, model_version, dataset_id, fold, metrics_json, duration_ms, created_at)
  SELECT printf('%08x', c.k) || substr(x.run_id, 9), x.model_id, x.model_version, x.dataset_id, x.fold,
         x.metrics_json, x.duration_ms, x.created_at
  FROM copies c JOIN results x ON x.run_id = c.run_id;
INSERT INTO events (id, event_type, run_id, occurred_at, payload_json, published_at)
  SELECT printf('%08x', c.k) || substr(e.id, 9), e.event_type, printf('%08x', c.k) || substr(e.run_id, 9),
         e.occurred_at, e.payload_json, e.published_at
  FROM copies c JOIN events e ON e.run_id = c.run_id;
INSERT INTO epoch_metrics (job_id, fold, epoch, metrics_json, recorded_at)
  SELECT printf('%08x', c.k) || substr(m.job_id, 9), m.fold, m.epoch, m.metrics_json, m.recorded_at
  FROM copies c JOIN jobs j ON j.run_id = c.run_id JOIN epoch_metrics m ON m.job_id = j.id;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
rm -f "$db"-wal "$db"-shm
counts() { local t; for t in runs jobs results events epoch_metrics; do printf '%s %s, ' "$(sqlite3 "$1" "SELECT count(*) FROM $t")" "$t"; done; printf '%s KB\n' $(( $(stat -c %s "$1") / 1024 )); }
echo "database: $(counts "$db") schema version $(sqlite3 "$db" 'PRAGMA user_version') (made by $(rev_label "$BASE"))"
# Copy the seed file into folder $1 (no -wal/-shm: the seed was checkpointed).
fresh() { rm -f "$tmp/$1"/m.db*; cp "$db" "$tmp/$1/m.db"; }
us() { local t0 t1; t0=$(date +%s%N); "$1" --config "$tmp/$2/config/mlhost.toml" runs --json >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 )); }
fresh migrated; fresh base
"$head_bins/mlhost" --config "$tmp/migrated/config/mlhost.toml" runs --json > "$tmp/runs.json"
v_base=$(sqlite3 "$db" 'PRAGMA user_version'); v_head=$(sqlite3 "$tmp/migrated/m.db" 'PRAGMA user_version')
listed=$(jq '.runs | length' "$tmp/runs.json")
echo "after HEAD's first open: $(counts "$tmp/migrated/m.db") schema version $v_head; HEAD lists $listed runs"
[ "$listed" = "$RUNS_IN_DB" ] || echo "warning: HEAD lists $listed runs, not $RUNS_IN_DB" >&2
if [ "$v_head" = "$v_base" ]; then
  echo "HEAD's schema version equals BASE's ($v_base): nothing to migrate; 'head, first open' is a plain open"
fi
: > "$tmp/t.first"; : > "$tmp/t.migrated"; : > "$tmp/t.base"
for _ in $(seq "$N"); do
  fresh fresh
  us "$head_bins/mlhost" fresh >> "$tmp/t.first"
  us "$head_bins/mlhost" migrated >> "$tmp/t.migrated"
  us "$base_bins/mlhost" base >> "$tmp/t.base"
done
ms() { awk '{printf "%.1f\n", $1 / 1000}' "$1" | median; }
b=$(ms "$tmp/t.base")
echo "machine: $(nproc) cores, $(uname -m); median of $N runs each, interleaved; HEAD = $(rev_label "$HEAD"), BASE = $(rev_label "$BASE")"
fmt='%-46s %10s %9s\n'
printf "$fmt" "mlhost runs --json, $RUNS_IN_DB runs" "ms" HEAD/BASE
printf "$fmt" "base, its own schema (v$v_base)" "$b" 1.000
for row in "first:head, first open (v$v_base -> v$v_head)" "migrated:head, already migrated (v$v_head)"; do
  h=$(ms "$tmp/t.${row%%:*}")
  printf "$fmt" "${row#*:}" "$h" "$(ratio "$h" "$b")"
done
