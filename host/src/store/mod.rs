//! SQLite storage of runs, jobs and results (WAL, versioned migrations).
//!
//! Owns the schema and every SQL statement. One `Store` is the single writer
//! of a run: workers never touch the database, they send their results to the
//! thread that owns the store, so parallel jobs never meet "database is
//! locked". Re-storing a job's results replaces them (unique key), never
//! duplicates them.

use std::path::Path;
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

mod probes;

pub use crate::domain::EpochRow;
pub use probes::ProbeVerdict;

/// A database problem, with the file and, for the common ones, what to do.
#[derive(Debug, thiserror::Error)]
#[error("database {path}: {source}{}", hint(source))]
pub struct StoreError {
    /// The database file.
    pub path: String,
    /// What SQLite said.
    #[source]
    pub source: rusqlite::Error,
}

/// What to do about the SQLite errors an operator can meet.
fn hint(err: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode as C;
    match err.sqlite_error_code() {
        Some(C::NotADatabase | C::DatabaseCorrupt) => {
            "; it is not a usable SQLite database (damaged, or another kind of file): move it aside, or set `database` in the config to a new file"
        }
        Some(C::ReadOnly) => {
            "; the file or its folder is read-only: make both writable by this user"
        }
        Some(C::CannotOpen) => "; check that its folder exists and is writable by this user",
        Some(C::DatabaseBusy | C::DatabaseLocked) => {
            "; another process held its lock for longer than the busy timeout: stop it, or retry"
        }
        Some(C::DiskFull) => "; the disk is full: free some space",
        _ => "",
    }
}

/// How long a connection waits for another's lock before giving up.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `Result` with [`StoreError`].
pub type Result<T> = std::result::Result<T, StoreError>;

/// Schema versions, applied in order; `PRAGMA user_version` records the last.
const MIGRATIONS: &[&str] = &[
    // 1: the tables DESIGN.md names.
    "CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled')),
        dataset_id  TEXT NOT NULL,
        spec_json   TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE jobs (
        id            TEXT PRIMARY KEY,
        run_id        TEXT NOT NULL REFERENCES runs(id),
        model_id      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','timed_out','cancelled')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        error         TEXT,
        started_at    TEXT,
        finished_at   TEXT
    );
    CREATE INDEX jobs_run ON jobs(run_id);
    CREATE TABLE results (
        run_id        TEXT NOT NULL,
        model_id      TEXT NOT NULL,
        model_version TEXT NOT NULL,
        dataset_id    TEXT NOT NULL,
        fold          INTEGER NOT NULL,
        metrics_json  TEXT NOT NULL,
        duration_ms   INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        UNIQUE (run_id, model_id, model_version, dataset_id, fold)
    );
    CREATE TABLE epoch_metrics (
        job_id       TEXT NOT NULL,
        epoch        INTEGER NOT NULL,
        metrics_json TEXT NOT NULL,
        recorded_at  TEXT NOT NULL,
        PRIMARY KEY (job_id, epoch)
    );
    CREATE TABLE events (
        id           TEXT PRIMARY KEY,
        event_type   TEXT NOT NULL,
        run_id       TEXT,
        occurred_at  TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        published_at TEXT
    );",
    // 2: the relay asks for unpublished events every few milliseconds.
    "CREATE INDEX events_pending ON events(published_at) WHERE published_at IS NULL;
     CREATE INDEX events_run ON events(run_id);",
    // 3: a job trains one model per fold, so epochs are per (job, fold).
    "ALTER TABLE epoch_metrics RENAME TO epoch_metrics_v1;
     CREATE TABLE epoch_metrics (
        job_id       TEXT NOT NULL,
        fold         INTEGER NOT NULL DEFAULT 0,
        epoch        INTEGER NOT NULL,
        metrics_json TEXT NOT NULL,
        recorded_at  TEXT NOT NULL,
        PRIMARY KEY (job_id, fold, epoch)
     );
     INSERT INTO epoch_metrics (job_id, fold, epoch, metrics_json, recorded_at)
        SELECT job_id, 0, epoch, metrics_json, recorded_at FROM epoch_metrics_v1;
     DROP TABLE epoch_metrics_v1;",
    // 4: verdicts of the child-process probe of plugin files, so a known
    // build is never probed twice. `params_key` is '' for the file itself
    // (dlopen + info), else the canonical JSON of a constructor's params.
    // `host_abi` is the plugin-api version and probe protocol they hold for.
    "CREATE TABLE plugin_probes (
        sha256     TEXT NOT NULL,
        params_key TEXT NOT NULL,
        host_abi   TEXT NOT NULL,
        plugin     TEXT,
        passed     INTEGER NOT NULL,
        reason     TEXT,
        probed_at  TEXT NOT NULL,
        PRIMARY KEY (sha256, params_key, host_abi)
     );",
];

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// RFC 3339 UTC with milliseconds, as every stored time.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub id: String,
    /// When it was created.
    pub created_at: String,
    /// queued | running | completed | failed | cancelled.
    pub status: String,
    /// The dataset snapshot id.
    pub dataset_id: String,
    /// The run's spec as JSON.
    pub spec_json: String,
    /// When it ended.
    pub finished_at: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Job id.
    pub id: String,
    /// Its run.
    pub run_id: String,
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// queued | running | succeeded | failed | timed_out | cancelled.
    pub status: String,
    /// Times started.
    pub attempts: i64,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub finished_at: Option<String>,
}

/// One result row: a fold's metrics, or the mean over folds (fold -1).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// Fold number; -1 = mean over folds.
    pub fold: i64,
    /// `{name: value|null}`.
    pub metrics_json: String,
    /// Fit + predict time of the fold (the whole job for -1).
    pub duration_ms: i64,
}

/// The database of one host.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let name = path.display().to_string();
        let err = |source| StoreError { path: name.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        let mut store = Store { conn, path: name.clone() };
        store.setup().map_err(err)?;
        Ok(store)
    }

    /// WAL mode and migrations. Several connections may open a database
    /// that is being created at the same moment (`serve` opens three): the
    /// migration takes the write lock first (IMMEDIATE) and reads the
    /// version under it, and a lock that the busy handler does not wait for
    /// (switching to WAL) is retried until [`BUSY_TIMEOUT`].
    fn setup(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            match self.try_setup() {
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn try_setup(&mut self) -> rusqlite::Result<()> {
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: usize = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version >= MIGRATIONS.len() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
        }
        tx.commit()
    }

    /// The database file.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn wrap<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
        r.map_err(|source| StoreError { path: self.path.clone(), source })
    }

    /// Records a new run and its queued jobs in one transaction, before any
    /// work starts, with its `run.started` event. `jobs` are `(job id, model
    /// id, model version)`.
    pub fn create_run(
        &mut self,
        run_id: &str,
        dataset_id: &str,
        spec_json: &str,
        jobs: &[(String, String, String)],
    ) -> Result<()> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let at = now();
            tx.execute(
                "INSERT INTO runs (id, created_at, status, dataset_id, spec_json) VALUES (?1, ?2, 'running', ?3, ?4)",
                params![run_id, at, dataset_id, spec_json],
            )?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO jobs (id, run_id, model_id, model_version, status) VALUES (?1, ?2, ?3, ?4, 'queued')",
                )?;
                for (id, model, version) in jobs {
                    insert.execute(params![id, run_id, model, version])?;
                }
            }
            let models: Vec<_> = jobs
                .iter()
                .map(|(id, m, v)| serde_json::json!({"jobId": id, "modelId": m, "modelVersion": v}))
                .collect();
            let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
            let payload =
                serde_json::json!({"datasetId": dataset_id, "jobs": models, "spec": spec});
            emit(&tx, "run.started", run_id, &payload, &at)?;
            tx.commit()
        })();
        self.wrap(r)
    }

    /// Marks a job running (one more attempt), with `evaluation.started`.
    pub fn job_started(&mut self, job_id: &str) -> Result<()> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let at = now();
            tx.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?2, error = NULL, finished_at = NULL WHERE id = ?1",
                params![job_id, at],
            )?;
            let (run_id, model_id, version, attempt): (String, String, String, i64) = tx
                .query_row(
                    "SELECT run_id, model_id, model_version, attempts FROM jobs WHERE id = ?1",
                    [job_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
            let payload = serde_json::json!({
                "jobId": job_id, "modelId": model_id, "modelVersion": version, "attempt": attempt
            });
            emit(&tx, "evaluation.started", &run_id, &payload, &at)?;
            tx.commit()
        })();
        self.wrap(r)
    }

    /// Ends a job: its status and error, its result rows (replacing any
    /// earlier ones for the same key), and `evaluation.completed` (with the
    /// mean metrics) or `evaluation.failed` (with the error), in one
    /// transaction.
    pub fn job_finished(
        &mut self,
        job_id: &str,
        status: &str,
        error: Option<&str>,
        run_id: &str,
        dataset_id: &str,
        results: &[ResultRow],
    ) -> Result<()> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let at = now();
            tx.execute(
                "UPDATE jobs SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
                params![job_id, status, error, at],
            )?;
            {
                let mut upsert = tx.prepare(
                    "INSERT INTO results (run_id, model_id, model_version, dataset_id, fold, metrics_json, duration_ms, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (run_id, model_id, model_version, dataset_id, fold)
                     DO UPDATE SET metrics_json = excluded.metrics_json, duration_ms = excluded.duration_ms, created_at = excluded.created_at",
                )?;
                for r in results {
                    upsert.execute(params![
                        run_id,
                        r.model_id,
                        r.model_version,
                        dataset_id,
                        r.fold,
                        r.metrics_json,
                        r.duration_ms,
                        at
                    ])?;
                }
            }
            let (model_id, version): (String, String) = tx.query_row(
                "SELECT model_id, model_version FROM jobs WHERE id = ?1",
                [job_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut payload = serde_json::json!({
                "jobId": job_id, "modelId": model_id, "modelVersion": version, "status": status,
            });
            if status == "succeeded" {
                let mean = results.iter().find(|r| r.fold == -1);
                payload["metrics"] = mean
                    .and_then(|r| serde_json::from_str(&r.metrics_json).ok())
                    .unwrap_or_default();
                payload["folds"] = results.iter().filter(|r| r.fold >= 0).count().into();
                emit(&tx, "evaluation.completed", run_id, &payload, &at)?;
            } else {
                payload["error"] = error.into();
                emit(&tx, "evaluation.failed", run_id, &payload, &at)?;
            }
            tx.commit()
        })();
        self.wrap(r)
    }

    /// Sets a run back to running (resume), with a `run.started` event that
    /// says so.
    pub fn set_run_status(&mut self, run_id: &str, status: &str) -> Result<()> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let at = now();
            tx.execute(
                "UPDATE runs SET status = ?2, finished_at = NULL WHERE id = ?1",
                params![run_id, status],
            )?;
            let payload = serde_json::json!({"resumed": true, "status": status});
            emit(&tx, "run.started", run_id, &payload, &at)?;
            tx.commit()
        })();
        self.wrap(r)
    }

    /// Sets a run's final status, with `run.completed` and its job counts.
    pub fn finish_run(&mut self, run_id: &str, status: &str) -> Result<()> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            let at = now();
            tx.execute(
                "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1",
                params![run_id, status, at],
            )?;
            let mut counts = serde_json::Map::new();
            {
                let mut q = tx.prepare(
                    "SELECT status, COUNT(*) FROM jobs WHERE run_id = ?1 GROUP BY status",
                )?;
                let rows =
                    q.query_map([run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (s, n) = row?;
                    counts.insert(s, n.into());
                }
            }
            let payload = serde_json::json!({"status": status, "jobs": counts});
            emit(&tx, "run.completed", run_id, &payload, &at)?;
            tx.commit()
        })();
        self.wrap(r)
    }

    /// Outbox events not yet published, oldest first (at most `limit`).
    pub fn pending_events(&self, limit: usize) -> Result<Vec<EventRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT rowid, id, event_type, run_id, occurred_at, payload_json FROM events
                 WHERE published_at IS NULL ORDER BY rowid LIMIT ?1",
            )?;
            let rows = q.query_map([limit as i64], event_row)?;
            rows.collect()
        })();
        self.wrap(r)
    }

    /// Every event of a run, oldest first.
    pub fn run_events(&self, run_id: &str) -> Result<Vec<EventRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT rowid, id, event_type, run_id, occurred_at, payload_json FROM events
                 WHERE run_id = ?1 ORDER BY rowid",
            )?;
            let rows = q.query_map([run_id], event_row)?;
            rows.collect()
        })();
        self.wrap(r)
    }

    /// Records epochs (replacing a same-numbered one), in one transaction.
    pub fn record_epochs(&mut self, epochs: &[EpochRow]) -> Result<()> {
        let r = (|| {
            let tx = self.conn.transaction()?;
            {
                let mut q = tx.prepare(
                    "INSERT INTO epoch_metrics (job_id, fold, epoch, metrics_json, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (job_id, fold, epoch) DO UPDATE SET metrics_json = excluded.metrics_json, recorded_at = excluded.recorded_at",
                )?;
                for e in epochs {
                    q.execute(params![e.job_id, e.fold, e.epoch, e.metrics_json, e.recorded_at])?;
                }
            }
            tx.commit()
        })();
        self.wrap(r)
    }

    /// A job's (operation's) epochs, by fold then epoch.
    pub fn epochs(&self, job_id: &str) -> Result<Vec<EpochRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT job_id, fold, epoch, metrics_json, recorded_at FROM epoch_metrics WHERE job_id = ?1 ORDER BY fold, epoch",
            )?;
            let rows = q.query_map([job_id], |r| {
                Ok(EpochRow {
                    job_id: r.get(0)?,
                    fold: r.get(1)?,
                    epoch: r.get(2)?,
                    metrics_json: r.get(3)?,
                    recorded_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })();
        self.wrap(r)
    }

    /// Marks an event published.
    pub fn mark_published(&mut self, event_id: &str) -> Result<()> {
        let r = self
            .conn
            .execute("UPDATE events SET published_at = ?2 WHERE id = ?1", params![event_id, now()]);
        self.wrap(r).map(drop)
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT id, created_at, status, dataset_id, spec_json, finished_at FROM runs ORDER BY created_at DESC, id DESC",
            )?;
            let rows = q.query_map([], run_row)?;
            rows.collect()
        })();
        self.wrap(r)
    }

    /// One run, if it exists. A unique id prefix is accepted.
    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT id, created_at, status, dataset_id, spec_json, finished_at FROM runs WHERE id = ?1 OR id LIKE ?1 || '%' ORDER BY id = ?1 DESC LIMIT 2",
            )?;
            let found: Vec<RunRow> =
                q.query_map([id], run_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(match found.as_slice() {
                [exact] => Some(exact.clone()),
                [first, _] if first.id == id => Some(first.clone()),
                _ => None,
            })
        })();
        self.wrap(r)
    }

    /// A run's jobs, in creation order.
    pub fn jobs(&self, run_id: &str) -> Result<Vec<JobRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT id, run_id, model_id, model_version, status, attempts, error, started_at, finished_at
                 FROM jobs WHERE run_id = ?1 ORDER BY rowid",
            )?;
            let rows = q.query_map([run_id], |r| {
                Ok(JobRow {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    model_id: r.get(2)?,
                    model_version: r.get(3)?,
                    status: r.get(4)?,
                    attempts: r.get(5)?,
                    error: r.get(6)?,
                    started_at: r.get(7)?,
                    finished_at: r.get(8)?,
                })
            })?;
            rows.collect()
        })();
        self.wrap(r)
    }

    /// A run's result rows, by model then fold (-1 first).
    pub fn results(&self, run_id: &str) -> Result<Vec<ResultRow>> {
        let r = (|| {
            let mut q = self.conn.prepare(
                "SELECT model_id, model_version, fold, metrics_json, duration_ms FROM results
                 WHERE run_id = ?1 ORDER BY model_id, fold",
            )?;
            let rows = q.query_map([run_id], |r| {
                Ok(ResultRow {
                    model_id: r.get(0)?,
                    model_version: r.get(1)?,
                    fold: r.get(2)?,
                    metrics_json: r.get(3)?,
                    duration_ms: r.get(4)?,
                })
            })?;
            rows.collect()
        })();
        self.wrap(r)
    }

    /// Counts rows of a table (tests and diagnostics).
    pub fn count(&self, table: &str, run_id: &str) -> Result<i64> {
        let sql = match table {
            "jobs" => "SELECT COUNT(*) FROM jobs WHERE run_id = ?1",
            "results" => "SELECT COUNT(*) FROM results WHERE run_id = ?1",
            _ => "SELECT COUNT(*) FROM runs WHERE id = ?1",
        };
        let r = self.conn.query_row(sql, [run_id], |r| r.get(0)).optional();
        self.wrap(r).map(|v| v.unwrap_or(0))
    }
}

/// One outbox event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Outbox order.
    pub seq: i64,
    /// `eventId`.
    pub id: String,
    /// `eventType`.
    pub event_type: String,
    /// The run it belongs to.
    pub run_id: Option<String>,
    /// RFC 3339.
    pub occurred_at: String,
    /// The payload.
    pub payload_json: String,
}

impl EventRow {
    /// The envelope DESIGN.md fixes: `{eventId, eventType, eventVersion,
    /// occurredAt, runId, payload}`.
    pub fn envelope(&self) -> serde_json::Value {
        serde_json::json!({
            "eventId": self.id,
            "eventType": self.event_type,
            "eventVersion": 1,
            "occurredAt": self.occurred_at,
            "runId": self.run_id,
            "payload": serde_json::from_str::<serde_json::Value>(&self.payload_json).unwrap_or_default(),
        })
    }
}

/// Writes an outbox event inside the caller's transaction, so the event
/// exists exactly when the state change it describes does.
fn emit(
    tx: &rusqlite::Transaction<'_>,
    event_type: &str,
    run_id: &str,
    payload: &serde_json::Value,
    at: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO events (id, event_type, run_id, occurred_at, payload_json) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![uuid::Uuid::now_v7().to_string(), event_type, run_id, at, payload.to_string()],
    )
    .map(drop)
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        event_type: r.get(2)?,
        run_id: r.get(3)?,
        occurred_at: r.get(4)?,
        payload_json: r.get(5)?,
    })
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        created_at: r.get(1)?,
        status: r.get(2)?,
        dataset_id: r.get(3)?,
        spec_json: r.get(4)?,
        finished_at: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, fold: i64, acc: f64) -> ResultRow {
        ResultRow {
            model_id: model.into(),
            model_version: "1.0.0".into(),
            fold,
            metrics_json: format!("{{\"accuracy\":{acc}}}"),
            duration_ms: 3,
        }
    }

    #[test]
    fn runs_jobs_and_results_round_trip_and_rerun_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/m.db");
        let mut s = Store::open(&db).unwrap();
        let jobs = vec![("j1".to_owned(), "a".to_owned(), "1.0.0".to_owned())];
        s.create_run("r1", "d1", "{}", &jobs).unwrap();
        assert_eq!(s.jobs("r1").unwrap()[0].status, "queued");
        s.job_started("j1").unwrap();
        s.job_finished("j1", "succeeded", None, "r1", "d1", &[row("a", 0, 0.5), row("a", -1, 0.5)])
            .unwrap();
        // The same job again: results replaced, not duplicated.
        s.job_started("j1").unwrap();
        s.job_finished(
            "j1",
            "succeeded",
            None,
            "r1",
            "d1",
            &[row("a", 0, 0.75), row("a", -1, 0.75)],
        )
        .unwrap();
        s.finish_run("r1", "completed").unwrap();
        drop(s);

        let s = Store::open(&db).unwrap(); // migrations are idempotent
        let results = s.results("r1").unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].fold, -1);
        assert_eq!(results[1].metrics_json, "{\"accuracy\":0.75}");
        let job = &s.jobs("r1").unwrap()[0];
        assert_eq!((job.status.as_str(), job.attempts), ("succeeded", 2));
        assert!(job.finished_at.as_deref().unwrap().ends_with('Z'));
        assert_eq!(s.run("r").unwrap().unwrap().status, "completed");
        assert_eq!(s.run("nope").unwrap(), None);
        assert_eq!(s.runs().unwrap().len(), 1);
        let journal: String =
            s.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn every_state_change_writes_its_event_in_the_same_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("m.db")).unwrap();
        let jobs = vec![
            ("j1".to_owned(), "a".to_owned(), "1.0".to_owned()),
            ("j2".into(), "b".into(), "2.0".into()),
        ];
        s.create_run("r1", "d1", "{\"workers\":2}", &jobs).unwrap();
        s.job_started("j1").unwrap();
        s.job_finished("j1", "succeeded", None, "r1", "d1", &[row("a", -1, 0.5), row("a", 0, 0.5)])
            .unwrap();
        s.job_started("j2").unwrap();
        s.job_finished("j2", "failed", Some("boom"), "r1", "d1", &[]).unwrap();
        s.finish_run("r1", "completed").unwrap();
        // A refused state change writes no event.
        assert!(s.job_finished("j2", "exploded", None, "r1", "d1", &[]).is_err());
        let events = s.run_events("r1").unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "run.started",
                "evaluation.started",
                "evaluation.completed",
                "evaluation.started",
                "evaluation.failed",
                "run.completed"
            ]
        );
        let completed = events[2].envelope();
        assert_eq!(completed["eventVersion"], 1);
        assert_eq!(completed["runId"], "r1");
        assert_eq!(completed["payload"]["metrics"]["accuracy"], 0.5);
        assert_eq!(completed["payload"]["modelId"], "a");
        assert_eq!(events[4].envelope()["payload"]["error"], "boom");
        assert_eq!(
            events[5].envelope()["payload"]["jobs"],
            serde_json::json!({"succeeded": 1, "failed": 1})
        );
        assert_eq!(events[0].envelope()["payload"]["spec"]["workers"], 2);
        assert_eq!(s.pending_events(100).unwrap().len(), 6);
        s.mark_published(&events[0].id).unwrap();
        assert_eq!(s.pending_events(100).unwrap()[0].id, events[1].id);
    }

    #[test]
    fn statuses_outside_the_contract_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("m.db")).unwrap();
        s.create_run("r1", "d1", "{}", &[("j".into(), "a".into(), "1".into())]).unwrap();
        assert!(s.job_finished("j", "exploded", None, "r1", "d1", &[]).is_err());
    }
}
