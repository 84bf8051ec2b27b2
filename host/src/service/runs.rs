//! Runs as the CLI and the API use them: start one, resume one, read one
//! back as a report.

use serde::Serialize;

use crate::domain::{JobId, JobStatus, MetricSet, RunId, RunSpec, RunStatus, summarize};
use crate::engine::{self, WorkerSetup};
pub use crate::engine::{EvalError, Progress, Quiet, RunContext};
use crate::registry::Registry;
use crate::store::{Store, StoreError};

/// `mlhost eval --json`, and what `show` prints.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Run id.
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// Dataset snapshot id.
    pub dataset_id: String,
    /// Run status.
    #[schema(value_type = String)]
    pub status: RunStatus,
    /// One entry per job.
    pub models: Vec<ModelReport>,
}

/// One job's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelReport {
    /// The job: the id `mlhost analyze` and `/operations/{id}/metrics` take.
    #[schema(value_type = String)]
    pub job_id: JobId,
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// Job status.
    #[schema(value_type = String)]
    pub status: JobStatus,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// Mean over folds (`null` where undefined).
    #[schema(value_type = std::collections::BTreeMap<String, Option<f64>>)]
    pub metrics: MetricSet,
    /// Population standard deviation over folds.
    #[schema(value_type = std::collections::BTreeMap<String, Option<f64>>)]
    pub metrics_std: MetricSet,
    /// Per fold.
    #[schema(value_type = Vec<std::collections::BTreeMap<String, Option<f64>>>)]
    pub folds: Vec<MetricSet>,
}

/// One line of `mlhost runs`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// Run id.
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// RFC 3339.
    pub created_at: String,
    /// Run status.
    #[schema(value_type = String)]
    pub status: RunStatus,
    /// Dataset snapshot id.
    pub dataset_id: String,
    /// Jobs in the run.
    pub jobs: usize,
    /// Jobs that succeeded.
    pub succeeded: usize,
    /// RFC 3339, once it ended.
    pub finished_at: Option<String>,
    /// The study, when the run is one (`mlhost tune`).
    pub study: Option<crate::service::tuning::StudyLine>,
}

/// Every run, newest first, with its job counts.
pub fn list(store: &Store) -> Result<Vec<RunSummary>, StoreError> {
    let mut out = Vec::new();
    let mut studies = crate::service::tuning::list(store)?;
    for r in store.runs()? {
        let jobs = store.jobs(&r.id)?;
        out.push(RunSummary {
            study: studies.remove(&r.id),
            succeeded: jobs.iter().filter(|j| j.status == JobStatus::Succeeded).count(),
            jobs: jobs.len(),
            run_id: r.id,
            created_at: r.created_at,
            status: r.status,
            dataset_id: r.dataset_id.to_string(),
            finished_at: r.finished_at,
        });
    }
    Ok(out)
}

/// How this process runs jobs: `exe` for process workers (the `mlhost`
/// binary), snapshots beside `database`, a fresh cancel flag, and `run_id`
/// when the caller hands the id out before the run starts (the API).
pub fn context(
    exe: std::path::PathBuf,
    database: &std::path::Path,
    run_id: Option<RunId>,
) -> RunContext {
    RunContext {
        workers_from: Some(WorkerSetup {
            exe,
            snapshot_dir: crate::engine::worker::snapshot_dir(database),
        }),
        cancel: crate::domain::StopFlag::default(),
        run_id,
        study_id: None,
    }
}

/// Runs `spec` and reports it.
pub fn start(
    registry: &Registry,
    store: &mut Store,
    spec: &RunSpec,
    ctx: &RunContext,
    progress: &mut dyn Progress,
) -> Result<RunReport, EvalError> {
    let run_id = engine::evaluate(registry, store, spec, ctx, progress)?;
    Ok(report(store, run_id.as_str())?.expect("the run was just stored"))
}

/// Resumes run `run_id` and reports it.
pub fn resume(
    registry: &Registry,
    store: &mut Store,
    run_id: &str,
    ctx: &RunContext,
    progress: &mut dyn Progress,
) -> Result<RunReport, EvalError> {
    let run_id = engine::resume(registry, store, run_id, ctx, progress)?;
    Ok(report(store, run_id.as_str())?.expect("the run was just stored"))
}

/// Rebuilds a run's report from the store; `None` for an unknown run.
pub fn report(store: &Store, run_id: &str) -> Result<Option<RunReport>, StoreError> {
    let Some(run) = store.run(run_id)? else { return Ok(None) };
    let results = store.results(&run.id)?;
    let models = store
        .jobs(&run.id)?
        .into_iter()
        .map(|job| {
            let folds: Vec<MetricSet> = results
                .iter()
                .filter(|r| r.job_id == job.id && r.fold >= 0)
                .map(|r| r.metrics.clone())
                .collect();
            let (metrics, metrics_std) = summarize(&folds);
            ModelReport {
                job_id: job.id,
                model_id: job.model_id,
                model_version: job.model_version,
                status: job.status,
                error: job.error,
                metrics,
                metrics_std,
                folds,
            }
        })
        .collect();
    Ok(Some(RunReport {
        run_id: run.id,
        dataset_id: run.dataset_id.to_string(),
        status: run.status,
        models,
    }))
}

#[cfg(test)]
mod tests {
    /// A database written by mlhost 0.1 (schema 4, `tests/fixtures/db`,
    /// made by `mlhost eval` at 1453631; its `show --json` output is
    /// beside it) shows every run exactly as 0.1 showed it.
    #[test]
    fn runs_of_a_schema_4_database_show_as_they_did() {
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/db");
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("old.db");
        std::fs::copy(fixtures.join("schema-v4.db"), &db).unwrap();
        let text = std::fs::read_to_string(fixtures.join("schema-v4.expected.json")).unwrap();
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        let store = crate::store::Store::open(&db).unwrap();
        let shown = expected["show"].as_object().unwrap();
        assert_eq!(shown.len(), 3);
        for (id, old) in shown {
            let report = super::report(&store, id).unwrap().unwrap();
            assert_eq!(&serde_json::to_value(report).unwrap(), old, "run {id}");
        }
    }
}
