//! SQLite storage of runs, jobs, results, predictions, epochs and the event
//! outbox (WAL, versioned migrations).
//!
//! Owns the schema and every SQL statement, one file per table family
//! (`runs`, `jobs`, `results`, `epochs`, `outbox`, `probes`). One `Store` is
//! the single writer of a run: workers never touch the database, they send
//! their outcomes to the thread that owns the store, so parallel jobs never
//! meet "database is locked". Every state change and its event are written
//! in one transaction ([`Store::write`]); a listener set with
//! [`Store::on_commit`] hears of the events once their transaction committed.

use std::path::Path;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension};

pub mod artifacts;
mod epochs;
mod gc;
mod jobs;
mod migrations;
mod model_changes;
mod models;
mod outbox;
mod probes;
mod results;
mod runs;
mod studies;

pub use crate::domain::EpochRow;
pub use jobs::{JobEnd, JobRow, NewJob};
pub use model_changes::{ChangeRow, StageChange};
pub use models::{NewVersion, VersionRow};
pub use outbox::{EventEnvelope, EventRow};
pub use probes::ProbeVerdict;
pub use results::ResultRow;
pub use runs::RunRow;
pub use studies::{NewStudy, StudyRow, TrialEnd, TrialRow};

use migrations::MIGRATIONS;

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

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// `Result` with [`StoreError`].
pub type Result<T> = std::result::Result<T, StoreError>;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub use crate::domain::now;

/// What [`Store::on_commit`] calls with the events of a committed write.
pub type CommitListener = Box<dyn Fn(&[EventRow]) + Send>;

/// The database of one host.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
    listener: Option<Listener>,
}

/// A [`CommitListener`], shown by `Debug` as a placeholder.
struct Listener(CommitListener);

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener(..)")
    }
}

/// A write transaction that also collects the events [`outbox::emit`]
/// writes in it, so they can be announced once it committed. Reads as the
/// transaction it wraps.
pub(crate) struct Tx<'c> {
    tx: rusqlite::Transaction<'c>,
    events: std::cell::RefCell<Vec<EventRow>>,
}

impl<'c> std::ops::Deref for Tx<'c> {
    type Target = rusqlite::Transaction<'c>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
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
        let mut store = Store { conn, path: name.clone(), listener: None };
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
            let started = std::time::Instant::now();
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tracing::info!(
                database = %self.path,
                version = i + 1,
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "migrated the database schema"
            );
        }
        tx.commit()
    }

    /// The database file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<usize> {
        self.read(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
    }

    fn wrap<T>(&self, r: rusqlite::Result<T>) -> Result<T> {
        r.map_err(|source| StoreError { path: self.path.clone(), source })
    }

    /// Calls `listener` after every write transaction that committed
    /// events, with those events in outbox order; never for one that rolled
    /// back. It runs on the writing thread, so it should only hand them on
    /// (e.g. into a channel). Replaces an earlier listener.
    pub fn on_commit(&mut self, listener: CommitListener) {
        self.listener = Some(Listener(listener));
    }

    /// Runs `f` in one transaction: all of its writes (a state change and
    /// its events) commit together, or none do. The events are announced to
    /// the [`Store::on_commit`] listener after the commit.
    fn write<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> rusqlite::Result<T>) -> Result<T> {
        let r = (|| {
            let tx = Tx { tx: self.conn.transaction()?, events: Default::default() };
            let value = f(&tx)?;
            let events = tx.events.take();
            tx.tx.commit()?;
            Ok((value, events))
        })();
        let (value, events) = self.wrap(r)?;
        if let Some(Listener(listen)) = self.listener.as_ref().filter(|_| !events.is_empty()) {
            listen(&events);
        }
        Ok(value)
    }

    /// Runs the query `f` on the connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let r = f(&self.conn);
        self.wrap(r)
    }

    /// Counts rows of a table (tests and diagnostics).
    pub fn count(&self, table: &str, run_id: &str) -> Result<i64> {
        let sql = match table {
            "jobs" => "SELECT COUNT(*) FROM jobs WHERE run_id = ?1",
            "results" => "SELECT COUNT(*) FROM results WHERE run_id = ?1",
            "predictions" => {
                "SELECT COUNT(*) FROM predictions WHERE job_id IN (SELECT id FROM jobs WHERE run_id = ?1)"
            }
            _ => "SELECT COUNT(*) FROM runs WHERE id = ?1",
        };
        self.read(|c| c.query_row(sql, [run_id], |r| r.get(0)).optional()).map(|v| v.unwrap_or(0))
    }
}

/// Ids and statuses go in and out of SQLite as the strings they always were.
macro_rules! sql_text {
    ($($t:ty: |$s:ident| $parse:expr),+ $(,)?) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let $s = value.as_str()?;
                $parse.map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    )+};
}

sql_text!(
    crate::domain::RunStatus: |s| s.parse::<crate::domain::RunStatus>(),
    crate::domain::JobStatus: |s| s.parse::<crate::domain::JobStatus>(),
    crate::domain::TrialStatus: |s| s.parse::<crate::domain::TrialStatus>(),
    crate::domain::RunId: |s| Ok::<_, std::convert::Infallible>(crate::domain::RunId::from(s)),
    crate::domain::JobId: |s| Ok::<_, std::convert::Infallible>(crate::domain::JobId::from(s)),
    crate::domain::DatasetId: |s| Ok::<_, std::convert::Infallible>(crate::domain::DatasetId::from(s)),
);

impl ToSql for crate::domain::MetricSet {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_json()))
    }
}

/// A stored `metrics_json` that does not parse is an error naming the
/// problem, never an empty set.
impl FromSql for crate::domain::MetricSet {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        crate::domain::MetricSet::from_json(value.as_str()?)
            .map_err(|e| FromSqlError::Other(format!("metrics_json: {e}").into()))
    }
}

#[cfg(test)]
mod tests;
