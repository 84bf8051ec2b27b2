//! `results` (metrics per job and fold; fold -1 is the mean) and
//! `predictions` (each fold's held-out predictions, as little-endian blobs).

use rusqlite::params;

use super::{Result, Store};
use crate::domain::{FoldPredictions, JobId, MetricSet};
use crate::domain::{f64_bytes, f64s_from, u32_bytes, u32s_from};

/// One result row: a fold's metrics, or the mean over folds (fold -1).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// The job (trial) it belongs to.
    pub job_id: JobId,
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// Fold number; -1 = mean over folds.
    pub fold: i64,
    /// The values, `None` where undefined.
    pub metrics: MetricSet,
    /// Fit + predict time of the fold (the whole job for -1).
    pub duration_ms: i64,
}

/// Stores a job's rows; a row of the same (job, fold) is replaced. The
/// run, model, version and dataset columns come from the job's own rows in
/// `jobs` and `runs`, not from `rows` (they cannot disagree).
pub(super) fn upsert_results(
    tx: &rusqlite::Transaction<'_>,
    job_id: &JobId,
    rows: &[ResultRow],
    at: &str,
) -> rusqlite::Result<()> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO results (job_id, run_id, model_id, model_version, dataset_id, fold, metrics_json, duration_ms, created_at)
         SELECT j.id, j.run_id, j.model_id, j.model_version, r.dataset_id, ?2, ?3, ?4, ?5
         FROM jobs j JOIN runs r ON r.id = j.run_id WHERE j.id = ?1
         ON CONFLICT (job_id, fold)
         DO UPDATE SET metrics_json = excluded.metrics_json, duration_ms = excluded.duration_ms, created_at = excluded.created_at",
    )?;
    for row in rows {
        upsert.execute(params![job_id, row.fold, row.metrics, row.duration_ms, at])?;
    }
    Ok(())
}

/// Stores a job's predictions, replacing the job's earlier ones. An empty
/// list (a job that failed) leaves earlier ones in place, as it leaves the
/// job's earlier result rows.
pub(super) fn insert_predictions(
    tx: &rusqlite::Transaction<'_>,
    job_id: &JobId,
    folds: &[FoldPredictions],
) -> rusqlite::Result<()> {
    if folds.is_empty() {
        return Ok(());
    }
    tx.execute("DELETE FROM predictions WHERE job_id = ?1", [job_id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO predictions (job_id, fold, n_rows, n_classes, row_index, y_true, y_pred, proba)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for p in folds {
        insert.execute(params![
            job_id,
            p.fold,
            p.rows.len() as i64,
            p.n_classes,
            u32_bytes(&p.rows),
            f64_bytes(&p.y_true),
            f64_bytes(&p.y_pred),
            p.proba.as_deref().map(f64_bytes),
        ])?;
    }
    Ok(())
}

fn blob_error(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Blob,
        format!("predictions.{what}: its length is not a whole number of values").into(),
    )
}

impl Store {
    /// A run's result rows, by model then fold (-1 first).
    pub fn results(&self, run_id: &str) -> Result<Vec<ResultRow>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT job_id, model_id, model_version, fold, metrics_json, duration_ms FROM results
                 WHERE run_id = ?1 ORDER BY model_id, job_id, fold",
            )?;
            let rows = q.query_map([run_id], |r| {
                Ok(ResultRow {
                    job_id: r.get(0)?,
                    model_id: r.get(1)?,
                    model_version: r.get(2)?,
                    fold: r.get(3)?,
                    metrics: r.get(4)?,
                    duration_ms: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// A job's held-out predictions, by fold (empty for jobs stored before
    /// predictions were kept, and for jobs that did not succeed).
    pub fn predictions(&self, job_id: &str) -> Result<Vec<FoldPredictions>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT fold, n_classes, row_index, y_true, y_pred, proba FROM predictions
                 WHERE job_id = ?1 ORDER BY fold",
            )?;
            let rows = q.query_map([job_id], |r| {
                let f64s = |i: usize, what| {
                    r.get_ref(i)?
                        .as_blob()
                        .map_err(rusqlite::Error::from)
                        .and_then(|b| f64s_from(b).ok_or_else(|| blob_error(i, what)))
                };
                let rows = u32s_from(r.get_ref(2)?.as_blob()?)
                    .ok_or_else(|| blob_error(2, "row_index"))?;
                let proba = match r.get_ref(5)?.as_blob_or_null()? {
                    None => None,
                    Some(b) => Some(f64s_from(b).ok_or_else(|| blob_error(5, "proba"))?),
                };
                Ok(FoldPredictions {
                    fold: r.get(0)?,
                    n_classes: r.get(1)?,
                    rows,
                    y_true: f64s(3, "y_true")?,
                    y_pred: f64s(4, "y_pred")?,
                    proba,
                })
            })?;
            rows.collect()
        })
    }
}
