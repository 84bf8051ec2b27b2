//! `events`: the outbox. Each event is written in the transaction of the
//! state change it announces; the relay publishes it later. Payloads are
//! typed here and serialized by serde, never assembled in SQL.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;

use super::jobs::NewJob;
use super::{Result, Store, Tx, now};
use crate::domain::{
    DatasetId, JobId, JobStatus, MetricSet, RunId, RunStatus, StudyId, TrialStatus,
};

/// An event as the outbox stores it, by type (the payloads DESIGN.md names).
#[derive(Debug, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub(super) enum Event<'a> {
    /// `run.started`: the run and its queued jobs.
    RunStarted { dataset_id: &'a DatasetId, jobs: &'a [NewJob], spec: &'a serde_json::Value },
    /// `run.started` again, for `eval --resume`.
    RunResumed,
    /// `evaluation.started`.
    EvaluationStarted { job_id: &'a JobId, model_id: &'a str, model_version: &'a str, attempt: i64 },
    /// `evaluation.completed`, with the mean metrics.
    EvaluationCompleted {
        job_id: &'a JobId,
        model_id: &'a str,
        model_version: &'a str,
        metrics: Option<&'a MetricSet>,
        folds: usize,
    },
    /// `evaluation.failed`, with the error.
    EvaluationFailed {
        job_id: &'a JobId,
        model_id: &'a str,
        model_version: &'a str,
        status: JobStatus,
        error: Option<&'a str>,
    },
    /// `run.completed`, with the job counts by status.
    RunCompleted { status: RunStatus, jobs: BTreeMap<String, i64> },
    /// `trial.completed`, `trial.pruned` or `trial.failed`.
    TrialEnded {
        study_id: &'a StudyId,
        trial: i64,
        job_id: &'a JobId,
        state: TrialStatus,
        params: serde_json::Value,
        values: Option<serde_json::Value>,
        note: Option<&'a str>,
    },
    /// `study.completed`, with the trial counts by state and the best.
    StudyCompleted {
        study_id: &'a StudyId,
        status: RunStatus,
        trials: BTreeMap<String, i64>,
        best: Option<&'a serde_json::Value>,
    },
    /// `model.registered`: a new version and where it came from.
    ModelRegistered {
        name: &'a str,
        version: i64,
        semver: &'a str,
        artifact: &'a str,
        plugin: &'a str,
        plugin_version: &'a str,
        source_run: Option<&'a str>,
        source_study: Option<&'a str>,
    },
    /// `model.stage_changed` (by `models stage` or `models rollback`).
    ModelStageChanged { name: &'a str, version: i64, from: &'a str, to: &'a str, change: &'a str },
    /// `model.alias_set`.
    ModelAliasSet { name: &'a str, version: i64, alias: &'a str, previous: Option<i64> },
}

impl Event<'_> {
    fn event_type(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } | Event::RunResumed => "run.started",
            Event::EvaluationStarted { .. } => "evaluation.started",
            Event::EvaluationCompleted { .. } => "evaluation.completed",
            Event::EvaluationFailed { .. } => "evaluation.failed",
            Event::RunCompleted { .. } => "run.completed",
            Event::TrialEnded { state: TrialStatus::Complete, .. } => "trial.completed",
            Event::TrialEnded { state: TrialStatus::Pruned, .. } => "trial.pruned",
            Event::TrialEnded { .. } => "trial.failed",
            Event::StudyCompleted { .. } => "study.completed",
            Event::ModelRegistered { .. } => "model.registered",
            Event::ModelStageChanged { .. } => "model.stage_changed",
            Event::ModelAliasSet { .. } => "model.alias_set",
        }
    }

    fn payload(&self) -> serde_json::Value {
        match self {
            Event::RunResumed => serde_json::json!({"resumed": true, "status": RunStatus::Running}),
            Event::EvaluationCompleted { .. } => {
                let mut v = serde_json::to_value(self).expect("events serialize");
                v["status"] = JobStatus::Succeeded.as_str().into();
                v
            }
            _ => serde_json::to_value(self).expect("events serialize"),
        }
    }
}

/// Writes an outbox event inside the caller's transaction, so the event
/// exists exactly when the state change it describes does; the transaction
/// keeps the row to announce it after the commit.
pub(super) fn emit(
    tx: &Tx<'_>,
    event: &Event<'_>,
    run_id: &RunId,
    at: &str,
) -> rusqlite::Result<()> {
    push(tx, event, Some(run_id.to_string()), at)
}

fn push(tx: &Tx<'_>, event: &Event<'_>, run_id: Option<String>, at: &str) -> rusqlite::Result<()> {
    let mut row = EventRow {
        seq: 0,
        id: uuid::Uuid::now_v7().to_string(),
        event_type: event.event_type().to_owned(),
        run_id,
        occurred_at: at.to_owned(),
        payload_json: event.payload().to_string(),
    };
    tx.prepare_cached(
        "INSERT INTO events (id, event_type, run_id, occurred_at, payload_json) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![row.id, row.event_type, row.run_id, row.occurred_at, row.payload_json])?;
    row.seq = tx.last_insert_rowid();
    tx.events.borrow_mut().push(row);
    Ok(())
}

/// Writes a registered model's event (it belongs to no run) inside the
/// caller's transaction.
pub(super) fn emit_model(tx: &Tx<'_>, event: &Event<'_>, at: &str) -> rusqlite::Result<()> {
    push(tx, event, None, at)
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

/// The envelope DESIGN.md fixes for every event, on the Redis stream and
/// the API's event stream alike. Fields in alphabetical order, as the JSON
/// has always had them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    /// A UUIDv7, unique per event.
    pub event_id: String,
    /// `run.started`, `evaluation.started`, `evaluation.completed`,
    /// `evaluation.failed`, `run.completed`; for a study also
    /// `trial.completed`, `trial.pruned`, `trial.failed` and
    /// `study.completed`; for registered models `model.registered`,
    /// `model.stage_changed` and `model.alias_set`.
    pub event_type: String,
    /// The envelope's version: 1.
    pub event_version: u32,
    /// When the state change happened (RFC 3339).
    pub occurred_at: String,
    /// The event's payload, by type (see DESIGN.md "Events").
    pub payload: serde_json::Value,
    /// The run it belongs to.
    pub run_id: Option<String>,
}

impl EventRow {
    /// The typed envelope. A payload that is not JSON (written by something
    /// else) is sent as a string rather than lost.
    pub fn to_envelope(&self) -> EventEnvelope {
        let payload = serde_json::from_str::<serde_json::Value>(&self.payload_json)
            .unwrap_or_else(|_| self.payload_json.clone().into());
        EventEnvelope {
            event_id: self.id.clone(),
            event_type: self.event_type.clone(),
            event_version: 1,
            occurred_at: self.occurred_at.clone(),
            payload,
            run_id: self.run_id.clone(),
        }
    }

    /// The envelope DESIGN.md fixes as JSON: `{eventId, eventType,
    /// eventVersion, occurredAt, runId, payload}`.
    pub fn envelope(&self) -> serde_json::Value {
        serde_json::to_value(self.to_envelope()).expect("an envelope serializes")
    }
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

impl Store {
    /// Outbox events not yet published, oldest first (at most `limit`).
    pub fn pending_events(&self, limit: usize) -> Result<Vec<EventRow>> {
        self.read(|c| {
            let mut q = c.prepare_cached(
                "SELECT rowid, id, event_type, run_id, occurred_at, payload_json FROM events
                 WHERE published_at IS NULL ORDER BY rowid LIMIT ?1",
            )?;
            q.query_map([limit as i64], event_row)?.collect()
        })
    }

    /// Events of a run after outbox position `after` (0: all), oldest first.
    pub fn run_events(&self, run_id: &str, after: i64) -> Result<Vec<EventRow>> {
        self.read(|c| {
            let mut q = c.prepare_cached(
                "SELECT rowid, id, event_type, run_id, occurred_at, payload_json FROM events
                 WHERE run_id = ?1 AND rowid > ?2 ORDER BY rowid",
            )?;
            q.query_map(params![run_id, after], event_row)?.collect()
        })
    }

    /// Marks an event published.
    pub fn mark_published(&mut self, event_id: &str) -> Result<()> {
        let at = now();
        self.write(|tx| {
            tx.execute("UPDATE events SET published_at = ?2 WHERE id = ?1", params![event_id, at])
                .map(drop)
        })
    }
}
