//! The bodies the API answers with, typed, so the OpenAPI document names
//! their schemas and the compiler keeps handlers and document in step.
//!
//! Field names are the JSON's (camelCase), and every struct lists its fields
//! in alphabetical order: the order of the `json!` maps these replaced, so
//! the bytes on the wire are what they were. `Option` fields are sent as
//! `null` unless marked otherwise.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Patience;
use crate::domain::{DatasetId, RunId, RunStatus};
use crate::metrics::trend::{FoldTrend, TrendReport};
use crate::store::{ResultRow, RunRow};

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Health {
    /// Candidates by state.
    pub(super) models: ModelCounts,
    /// Always `ok` when the server answers.
    pub(super) status: &'static str,
}

/// How many candidates are ready and how many rejected.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ModelCounts {
    /// Candidates a run can use.
    pub(super) ready: usize,
    /// Candidates rejected, each with a reason in `/api/ml/models`.
    pub(super) rejected: usize,
}

/// `202` to `POST /evaluations`: the new run's id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RunAccepted {
    /// Read the run at `/api/ml/evaluations/{runId}` (the Location header).
    pub(super) run_id: String,
}

/// `GET /evaluations/{id}`: a stored run, or one known only in memory
/// (queued, or refused before it started).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(super) enum RunState {
    /// The runner has stored it.
    Stored(StoredRun),
    /// Queued, or refused before it started.
    InMemory(PendingRun),
}

/// A run the runner has stored: its status and job counts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredRun {
    /// When it was created (RFC 3339).
    pub(super) created_at: String,
    /// The dataset snapshot: the sha256 of its canonical content.
    #[schema(value_type = String)]
    pub(super) dataset_id: DatasetId,
    /// When it ended; `null` while it runs.
    pub(super) finished_at: Option<String>,
    /// Its jobs, counted.
    pub(super) jobs: JobCounts,
    /// The run id.
    #[schema(value_type = String)]
    pub(super) run_id: RunId,
    /// `running`, `completed`, `failed` or `cancelled`.
    #[schema(value_type = String)]
    pub(super) status: RunStatus,
}

/// A run's jobs: how many, and how many in each status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct JobCounts {
    /// Job status to how many jobs have it (statuses with none left out).
    pub(super) by_status: BTreeMap<String, usize>,
    /// All jobs of the run.
    pub(super) total: usize,
}

impl StoredRun {
    /// The status of `run` with its `jobs` counted.
    pub(super) fn new(run: RunRow, jobs: &[crate::store::JobRow]) -> StoredRun {
        let mut by_status = BTreeMap::new();
        for j in jobs {
            *by_status.entry(j.status.as_str().to_owned()).or_default() += 1;
        }
        StoredRun {
            created_at: run.created_at,
            dataset_id: run.dataset_id,
            finished_at: run.finished_at,
            jobs: JobCounts { by_status, total: jobs.len() },
            run_id: run.id,
            status: run.status,
        }
    }
}

/// A run known only in memory.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PendingRun {
    /// Why it was refused (only when `status` is `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    /// The run id.
    pub(super) run_id: String,
    /// `queued`, or `failed` when it was refused before it started.
    pub(super) status: &'static str,
}

/// `GET /evaluations/{id}/results`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RunResults {
    /// One record per model and fold.
    pub(super) results: Vec<ResultRecord>,
    /// The run id.
    #[schema(value_type = String)]
    pub(super) run_id: RunId,
    /// The run's status.
    #[schema(value_type = String)]
    pub(super) status: RunStatus,
}

/// One model's metrics on one fold (fold -1: the mean over folds).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResultRecord {
    /// The run's dataset snapshot.
    #[schema(value_type = String)]
    pub(super) dataset_id: DatasetId,
    /// Fit and predict time (of the whole job for fold -1).
    pub(super) duration_ms: i64,
    /// The fold, from 0; -1 for the mean.
    pub(super) fold: i64,
    /// Metric name to value; `null` where the data leave it undefined.
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub(super) metrics: crate::domain::MetricSet,
    /// Candidate id.
    pub(super) model_id: String,
    /// Plugin version.
    pub(super) model_version: String,
}

impl ResultRecord {
    /// A stored result row of a run on `dataset_id`.
    pub(super) fn new(r: ResultRow, dataset_id: &DatasetId) -> ResultRecord {
        ResultRecord {
            dataset_id: dataset_id.clone(),
            duration_ms: r.duration_ms,
            fold: r.fold,
            metrics: r.metrics,
            model_id: r.model_id,
            model_version: r.model_version,
        }
    }
}

/// `202` to `POST /tuning`: the new study's id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StudyAccepted {
    /// Read the study at `/api/ml/tuning/{studyId}` (the Location header).
    pub(super) study_id: String,
}

/// `GET /tuning/{id}`: a stored study's report (so far, while it runs), or
/// a study known only in memory (queued, or refused before it started).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(super) enum StudyState {
    /// The runner has stored it.
    Stored(Box<StoredStudy>),
    /// Queued, or refused before it started.
    InMemory(PendingStudy),
}

/// A stored study: its report, and why it failed if it did (the report's
/// fields in its own order, as `mlhost tune --json` prints them).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredStudy {
    /// The report `mlhost tune --json` prints.
    #[serde(flatten)]
    pub(super) report: crate::service::tuning::StudyReport,
    /// Why it failed (only when `status` is `failed` and this server knows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
}

/// A study known only in memory.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PendingStudy {
    /// Why it was refused (only when `status` is `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    /// `queued`, or `failed` when it was refused before it started.
    pub(super) status: &'static str,
    /// The study id.
    pub(super) study_id: String,
}

/// `GET|POST /operations/{id}/metrics`: an operation's epochs per fold,
/// each fold with its trend.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct OperationMetrics {
    /// One entry per fold, by fold.
    pub(super) folds: Vec<FoldTrend>,
    /// The operation (job) id.
    pub(super) operation_id: String,
    /// The thresholds the trends were computed with.
    pub(super) patience: PatienceUsed,
}

impl OperationMetrics {
    /// The report of operation `id`.
    pub(super) fn new(id: String, report: TrendReport) -> OperationMetrics {
        let Patience { patience, min_delta } = report.patience;
        OperationMetrics {
            folds: report.folds,
            operation_id: id,
            patience: PatienceUsed { min_delta, patience },
        }
    }
}

/// Trend thresholds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PatienceUsed {
    /// The smallest decrease of validation loss that counts.
    pub(super) min_delta: f64,
    /// Epochs without improvement that make a plateau.
    pub(super) patience: u32,
}

/// `201` to `POST /datasets`: the stored upload, and what it was checked
/// against.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct UploadedDataset {
    /// Size, columns and names of the upload (its fields come first, as
    /// they always did: the JSON keys stay in alphabetical order).
    #[serde(flatten)]
    pub(super) info: DatasetInfo,
    /// The label column it was validated against.
    pub(super) label: String,
    /// Data rows.
    pub(super) rows: usize,
}

/// `GET /datasets/{id}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DatasetInfo {
    /// Size of the file.
    pub(super) bytes: u64,
    /// The header row.
    pub(super) columns: Vec<String>,
    /// What to post as `dataset` to `/evaluations`: `dataset:ID`.
    pub(super) dataset: String,
    /// The sha256 of the bytes (64 lowercase hex digits).
    pub(super) dataset_id: String,
}

impl DatasetInfo {
    /// An upload's answer, from its id (the sha256 of its bytes).
    pub(super) fn new(id: String, bytes: u64, columns: Vec<String>) -> DatasetInfo {
        DatasetInfo { bytes, columns, dataset: format!("dataset:{id}"), dataset_id: id }
    }
}

/// An RFC 7807 problem document (`application/problem+json`): the body of
/// every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProblemDetails {
    /// What is wrong and how to fix it, in one line.
    pub(super) detail: String,
    /// The HTTP status.
    pub(super) status: u16,
    /// A short summary of the problem type.
    pub(super) title: &'static str,
    /// `/problems/SLUG`, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    pub(super) kind: String,
}

/// `GET /models/{name}/versions`: a registered model's versions.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ModelVersions {
    /// The model.
    pub(super) name: String,
    /// Newest first: number, semver, stage, aliases, artifact, plugin,
    /// features, metrics and lineage (dataset, source run or study, parent
    /// version).
    pub(super) versions: Vec<crate::store::VersionRow>,
}
