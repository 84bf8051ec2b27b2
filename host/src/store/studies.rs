//! `studies` and `trials`: a hyperparameter study is a run whose jobs are
//! trials. A trial is stored with its job in one transaction when it is
//! proposed, and its end (job status, results, the trial's state and
//! values, both events) is one transaction too, so a study killed at any
//! moment resumes with no trial lost or run twice.

use std::collections::BTreeMap;

use rusqlite::params;

use super::jobs::{JobEnd, NewJob};
use super::outbox::{Event, emit};
use super::{Result, Store, now};
use crate::domain::{DatasetId, JobId, RunId, RunStatus, StudyId, TrialStatus};

/// A study to create, with its run.
#[derive(Debug, Clone)]
pub struct NewStudy<'a> {
    /// Study id.
    pub id: &'a StudyId,
    /// Its run.
    pub run_id: &'a RunId,
    /// The dataset snapshot.
    pub dataset_id: &'a DatasetId,
    /// The run's spec (`runs.spec_json`).
    pub run_spec: &'a serde_json::Value,
    /// The candidate tuned.
    pub model_id: &'a str,
    /// grid, random or tpe.
    pub strategy: &'a str,
    /// The study's spec (`studies.spec_json`).
    pub spec: &'a serde_json::Value,
}

/// A stored study.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRow {
    /// Study id.
    pub id: StudyId,
    /// Its run.
    pub run_id: RunId,
    /// The candidate tuned.
    pub model_id: String,
    /// grid, random or tpe.
    pub strategy: String,
    /// The study's spec as stored.
    pub spec_json: String,
    /// RFC 3339.
    pub created_at: String,
    /// The run's status.
    pub status: RunStatus,
}

/// A stored trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    /// From 0, in proposal order.
    pub number: i64,
    /// Its job.
    pub job_id: JobId,
    /// The searched parameters, `{name: value}`.
    pub params_json: String,
    /// How it stands.
    pub state: TrialStatus,
    /// One value per objective, once complete.
    pub values_json: Option<String>,
    /// Why it was pruned or failed.
    pub note: Option<String>,
}

/// How a trial ended: what [`Store::trial_finished`] records beside its job.
#[derive(Debug, Clone, Copy)]
pub struct TrialEnd<'a> {
    /// Its study.
    pub study_id: &'a StudyId,
    /// Its number.
    pub number: i64,
    /// Complete, pruned or failed.
    pub state: TrialStatus,
    /// The searched parameters, `{name: value}`.
    pub params: &'a serde_json::Value,
    /// One value per objective (complete only).
    pub values: Option<&'a [f64]>,
    /// Why it was pruned or failed.
    pub note: Option<&'a str>,
}

const STUDY_COLUMNS: &str =
    "SELECT s.id, s.run_id, s.model_id, s.strategy, s.spec_json, s.created_at, r.status
     FROM studies s JOIN runs r ON r.id = s.run_id";

fn study_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StudyRow> {
    Ok(StudyRow {
        id: StudyId::from(r.get::<_, String>(0)?),
        run_id: r.get(1)?,
        model_id: r.get(2)?,
        strategy: r.get(3)?,
        spec_json: r.get(4)?,
        created_at: r.get(5)?,
        status: r.get(6)?,
    })
}

impl Store {
    /// Stores a study and its (still empty) run, with `run.started`.
    pub fn create_study(&mut self, s: &NewStudy<'_>) -> Result<()> {
        self.write(|tx| {
            let at = now();
            tx.execute(
                "INSERT INTO runs (id, created_at, status, dataset_id, spec_json) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.run_id, at, RunStatus::Running, s.dataset_id, s.run_spec.to_string()],
            )?;
            tx.execute(
                "INSERT INTO studies (id, run_id, model_id, strategy, spec_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.id.as_str(), s.run_id, s.model_id, s.strategy, s.spec.to_string(), at],
            )?;
            let event = Event::RunStarted { dataset_id: s.dataset_id, jobs: &[], spec: s.run_spec };
            emit(tx, &event, s.run_id, &at)
        })
    }

    /// Stores a proposed trial: its queued job and its `running` row.
    pub fn add_trial(
        &mut self,
        study_id: &StudyId,
        run_id: &RunId,
        number: i64,
        job: &NewJob,
        params_json: &str,
    ) -> Result<()> {
        self.write(|tx| {
            super::jobs::insert(tx, run_id, std::slice::from_ref(job))?;
            tx.execute(
                "INSERT INTO trials (study_id, number, job_id, params_json, state) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![study_id.as_str(), number, job.job_id, params_json, TrialStatus::Running],
            )?;
            Ok(())
        })
    }

    /// Records how trial `end.number` ended and how its job did, with both
    /// events, in one transaction.
    pub fn trial_finished(
        &mut self,
        job_id: &JobId,
        job: JobEnd<'_>,
        end: TrialEnd<'_>,
    ) -> Result<()> {
        self.write(|tx| {
            let run_id = super::jobs::finish(tx, job_id, job)?;
            let values = end.values.map(|v| serde_json::json!(v));
            tx.execute(
                "UPDATE trials SET state = ?3, values_json = ?4, note = ?5 WHERE study_id = ?1 AND number = ?2",
                params![
                    end.study_id.as_str(),
                    end.number,
                    end.state,
                    values.as_ref().map(|v| v.to_string()),
                    end.note
                ],
            )?;
            let event = Event::TrialEnded {
                study_id: end.study_id,
                trial: end.number,
                job_id,
                state: end.state,
                params: end.params.clone(),
                values,
                note: end.note,
            };
            emit(tx, &event, &run_id, &now())
        })
    }

    /// Drops a job's stored epochs (a trial about to run again from its
    /// start).
    pub fn forget_epochs(&mut self, job_id: &JobId) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM epoch_metrics WHERE job_id = ?1", [job_id])?;
            Ok(())
        })
    }

    /// Ends a study: its run's final status with `run.completed`, then
    /// `study.completed` with the trial counts and the best trial.
    pub fn finish_study(
        &mut self,
        study_id: &StudyId,
        run_id: &RunId,
        status: RunStatus,
        best: Option<&serde_json::Value>,
    ) -> Result<()> {
        self.finish_run(run_id, status)?;
        self.write(|tx| {
            let mut trials = BTreeMap::new();
            let mut q = tx
                .prepare("SELECT state, COUNT(*) FROM trials WHERE study_id = ?1 GROUP BY state")?;
            for row in q.query_map([study_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))? {
                let (state, n): (String, i64) = row?;
                trials.insert(state, n);
            }
            let event = Event::StudyCompleted { study_id, status, trials, best };
            emit(tx, &event, run_id, &now())
        })
    }

    /// One study by its id, its run's id, or a unique prefix of either.
    pub fn study(&self, id: &str) -> Result<Option<StudyRow>> {
        self.read(|c| {
            let sql = format!(
                "{STUDY_COLUMNS} WHERE substr(s.id, 1, length(?1)) = ?1 OR substr(s.run_id, 1, length(?1)) = ?1
                 ORDER BY (s.id = ?1 OR s.run_id = ?1) DESC LIMIT 2"
            );
            let found: Vec<StudyRow> =
                c.prepare(&sql)?.query_map([id], study_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(match found.as_slice() {
                [one] => Some(one.clone()),
                [first, _] if first.id == *id || first.run_id == *id => Some(first.clone()),
                _ => None,
            })
        })
    }

    /// Every study, newest first.
    pub fn studies(&self) -> Result<Vec<StudyRow>> {
        self.read(|c| {
            let mut q =
                c.prepare(&format!("{STUDY_COLUMNS} ORDER BY s.created_at DESC, s.id DESC"))?;
            let rows = q.query_map([], study_row)?;
            rows.collect()
        })
    }

    /// A study's trials in proposal order.
    pub fn trials(&self, study_id: &StudyId) -> Result<Vec<TrialRow>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT number, job_id, params_json, state, values_json, note FROM trials
                 WHERE study_id = ?1 ORDER BY number",
            )?;
            let rows = q.query_map([study_id.as_str()], |r| {
                Ok(TrialRow {
                    number: r.get(0)?,
                    job_id: r.get(1)?,
                    params_json: r.get(2)?,
                    state: r.get(3)?,
                    values_json: r.get(4)?,
                    note: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }
}
