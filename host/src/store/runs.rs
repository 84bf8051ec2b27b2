//! `runs`: one row per run, with its run-level events.

use std::collections::BTreeMap;

use rusqlite::params;

use super::jobs::NewJob;
use super::outbox::{Event, emit};
use super::{Result, Store, now};
use crate::domain::{DatasetId, RunId, RunStatus};

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// Run id.
    pub id: RunId,
    /// When it was created.
    pub created_at: String,
    /// Where it is.
    pub status: RunStatus,
    /// The dataset snapshot id.
    pub dataset_id: DatasetId,
    /// The run's spec as JSON.
    pub spec_json: String,
    /// When it ended.
    pub finished_at: Option<String>,
}

const COLUMNS: &str = "id, created_at, status, dataset_id, spec_json, finished_at";

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

impl Store {
    /// Records a new run and its queued jobs in one transaction, before any
    /// work starts, with its `run.started` event.
    pub fn create_run(
        &mut self,
        run_id: &RunId,
        dataset_id: &DatasetId,
        spec: &serde_json::Value,
        jobs: &[NewJob],
    ) -> Result<()> {
        self.write(|tx| {
            let at = now();
            tx.execute(
                "INSERT INTO runs (id, created_at, status, dataset_id, spec_json) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run_id, at, RunStatus::Running, dataset_id, spec.to_string()],
            )?;
            super::jobs::insert(tx, run_id, jobs)?;
            let event = Event::RunStarted { dataset_id, jobs, spec };
            emit(tx, &event, run_id, &at)
        })
    }

    /// Sets a stopped run running again (`eval --resume`), with a
    /// `run.started` event that says it resumed.
    pub fn resume_run(&mut self, run_id: &RunId) -> Result<()> {
        self.write(|tx| {
            let at = now();
            tx.execute(
                "UPDATE runs SET status = ?2, finished_at = NULL WHERE id = ?1",
                params![run_id, RunStatus::Running],
            )?;
            emit(tx, &Event::RunResumed, run_id, &at)
        })
    }

    /// Sets a run's final status, with `run.completed` and its job counts.
    pub fn finish_run(&mut self, run_id: &RunId, status: RunStatus) -> Result<()> {
        self.write(|tx| {
            let at = now();
            tx.execute(
                "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1",
                params![run_id, status, at],
            )?;
            let mut counts = BTreeMap::new();
            let mut q =
                tx.prepare("SELECT status, COUNT(*) FROM jobs WHERE run_id = ?1 GROUP BY status")?;
            for row in q.query_map([run_id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))? {
                let (s, n) = row?;
                counts.insert(s, n);
            }
            emit(tx, &Event::RunCompleted { status, jobs: counts }, run_id, &at)
        })
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        self.read(|c| {
            let sql = format!("SELECT {COLUMNS} FROM runs ORDER BY created_at DESC, id DESC");
            c.prepare(&sql)?.query_map([], run_row)?.collect()
        })
    }

    /// One run, if it exists. A unique id prefix is accepted.
    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        self.read(|c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id = ?1 DESC LIMIT 2"
            );
            let found: Vec<RunRow> =
                c.prepare(&sql)?.query_map([id], run_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(match found.as_slice() {
                [exact] => Some(exact.clone()),
                [first, _] if first.id == *id => Some(first.clone()),
                _ => None,
            })
        })
    }
}
