//! `jobs`: one row per trial (a candidate with one parameter set), with the
//! job-level events.

use rusqlite::params;
use serde::Serialize;

use super::outbox::{Event, emit};
use super::results::{ResultRow, insert_predictions, upsert_results};
use super::{Result, Store, Tx, now};
use crate::domain::{FoldPredictions, JobId, JobStatus, RunId};

/// A job to create with its run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewJob {
    /// Job id.
    pub job_id: JobId,
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// The trial's parameters, as canonical JSON.
    #[serde(skip)]
    pub params_json: String,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Job id.
    pub id: JobId,
    /// Its run.
    pub run_id: RunId,
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// The trial's parameters (`{}` for jobs stored before trials existed).
    pub params_json: String,
    /// Where it is.
    pub status: JobStatus,
    /// Times started.
    pub attempts: i64,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub finished_at: Option<String>,
}

/// How a job ended: what [`Store::job_finished`] records.
#[derive(Debug, Clone, Copy)]
pub struct JobEnd<'a> {
    /// Its final status.
    pub status: JobStatus,
    /// Why it did not succeed.
    pub error: Option<&'a str>,
    /// Per fold and the mean (fold -1); empty unless it succeeded.
    pub results: &'a [ResultRow],
    /// Held-out predictions per fold.
    pub predictions: &'a [FoldPredictions],
}

pub(super) fn insert(
    tx: &rusqlite::Transaction<'_>,
    run_id: &RunId,
    jobs: &[NewJob],
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare(
        "INSERT INTO jobs (id, run_id, model_id, model_version, params_json, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for j in jobs {
        insert.execute(params![
            j.job_id,
            run_id,
            j.model_id,
            j.model_version,
            j.params_json,
            JobStatus::Queued
        ])?;
    }
    Ok(())
}

/// `(run, model, version, attempts)` of a job.
fn identity(
    tx: &rusqlite::Transaction<'_>,
    job_id: &JobId,
) -> rusqlite::Result<(RunId, String, String, i64)> {
    tx.query_row(
        "SELECT run_id, model_id, model_version, attempts FROM jobs WHERE id = ?1",
        [job_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

impl Store {
    /// Marks a job running (one more attempt), with `evaluation.started`.
    pub fn job_started(&mut self, job_id: &JobId) -> Result<()> {
        self.write(|tx| {
            let at = now();
            tx.execute(
                "UPDATE jobs SET status = ?2, attempts = attempts + 1, started_at = ?3, error = NULL, finished_at = NULL WHERE id = ?1",
                params![job_id, JobStatus::Running, at],
            )?;
            let (run_id, model_id, model_version, attempt) = identity(tx, job_id)?;
            let event =
                Event::EvaluationStarted { job_id, model_id: &model_id, model_version: &model_version, attempt };
            emit(tx, &event, &run_id, &at)
        })
    }

    /// Ends a job: its status and error, its result rows and predictions
    /// (replacing any earlier ones of the same job), and
    /// `evaluation.completed` (with the mean metrics) or `evaluation.failed`
    /// (with the error), in one transaction.
    pub fn job_finished(&mut self, job_id: &JobId, end: JobEnd<'_>) -> Result<()> {
        self.write(|tx| finish(tx, job_id, end).map(drop))
    }

    /// A run's jobs, in creation order.
    pub fn jobs(&self, run_id: &str) -> Result<Vec<JobRow>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT id, run_id, model_id, model_version, params_json, status, attempts, error, started_at, finished_at
                 FROM jobs WHERE run_id = ?1 ORDER BY rowid",
            )?;
            let rows = q.query_map([run_id], |r| {
                Ok(JobRow {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    model_id: r.get(2)?,
                    model_version: r.get(3)?,
                    params_json: r.get(4)?,
                    status: r.get(5)?,
                    attempts: r.get(6)?,
                    error: r.get(7)?,
                    started_at: r.get(8)?,
                    finished_at: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// Records how a job ended (status, results, predictions, its event) in
/// the caller's transaction; returns its run.
pub(super) fn finish(tx: &Tx<'_>, job_id: &JobId, end: JobEnd<'_>) -> rusqlite::Result<RunId> {
    let at = now();
    tx.execute(
        "UPDATE jobs SET status = ?2, error = ?3, finished_at = ?4 WHERE id = ?1",
        params![job_id, end.status, end.error, at],
    )?;
    let (run_id, model_id, model_version, _) = identity(tx, job_id)?;
    upsert_results(tx, job_id, end.results, &at)?;
    insert_predictions(tx, job_id, end.predictions)?;
    let (model_id, model_version) = (model_id.as_str(), model_version.as_str());
    let event = if end.status == JobStatus::Succeeded {
        let metrics = end.results.iter().find(|r| r.fold == -1).map(|r| &r.metrics);
        let folds = end.results.iter().filter(|r| r.fold >= 0).count();
        Event::EvaluationCompleted { job_id, model_id, model_version, metrics, folds }
    } else {
        Event::EvaluationFailed {
            job_id,
            model_id,
            model_version,
            status: end.status,
            error: end.error,
        }
    };
    emit(tx, &event, &run_id, &at)?;
    Ok(run_id)
}
