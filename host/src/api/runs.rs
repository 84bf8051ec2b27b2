//! Runs: start one (queued for the runner thread), read its status and
//! results. Its live events are in [`super::events`].

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::dto::{PendingRun, ResultRecord, RunAccepted, RunResults, RunState, StoredRun};
use super::{AppState, Pending, Problem, Queued, Work, datasets};
use crate::domain::{CvName, CvRequest, RunId, RunRequest, RunSpec};
use crate::service::runs as run_service;

/// `POST /api/ml/evaluations`, mirroring `mlhost eval` and its `--cv`
/// flags (`host/src/cli/cv_args.rs`), each a camelCase field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct EvalRequest {
    /// `builtin:NAME`, `dataset:ID` (from `POST /api/ml/datasets`), or a
    /// path inside one of `[api] data_dirs`.
    dataset: String,
    label: Option<String>,
    models: Option<Vec<String>>,
    workers: Option<u32>,
    /// Shuffles the folds (shuffled splitters) and seeds each fit.
    seed: Option<u64>,
    /// The splitter (default: stratified k-fold for classification, k-fold
    /// for regression). Deterministic ones equal scikit-learn's split().
    cv: Option<CvName>,
    /// Folds or splits (2-100).
    folds: Option<u32>,
    /// Hold out this fraction for testing instead of cross-validating (the
    /// same as `"cv": "holdout"` with `testSize`).
    holdout: Option<f64>,
    /// Repeated k-fold: this many repetitions, each reshuffled.
    repeats: Option<u32>,
    /// holdout and shuffle: the test fraction; time-series: test rows per
    /// split.
    test_size: Option<f64>,
    /// time-series: rows left out between each train window and its test
    /// rows.
    gap: Option<u32>,
    /// time-series: the train window's size at most (walk-forward).
    max_train_size: Option<u32>,
    /// group: the column holding each row's group (never a feature).
    group_col: Option<String>,
    /// Sort rows by this column before splitting (for time-series splits
    /// of rows not in time order).
    time_col: Option<String>,
    /// Shuffle k-fold rows even without `seed` (seed 0).
    #[serde(default)]
    shuffle: bool,
    /// Trading metrics: the column of each row's next-period return (never
    /// a feature).
    returns_col: Option<String>,
    /// Trading metrics: periods in a year (default 252).
    periods_per_year: Option<f64>,
    /// Bias check: the sensitive attribute (never a feature); the report is
    /// `GET /api/ml/evaluations/{id}/fairness?column=COL`.
    fairness_col: Option<String>,
}

impl EvalRequest {
    /// The request as the library takes it, with the dataset as checked.
    fn into_run(self, dataset: String) -> RunRequest {
        RunRequest {
            dataset: Some(dataset),
            label: self.label,
            models: self.models.unwrap_or_default(),
            workers: self.workers,
            cv: CvRequest {
                cv: self.cv,
                folds: self.folds,
                holdout: self.holdout,
                repeats: self.repeats,
                test_size: self.test_size,
                gap: self.gap,
                max_train_size: self.max_train_size,
                shuffle: self.shuffle,
                group_col: self.group_col,
                time_col: self.time_col,
            },
            seed: self.seed,
            returns_col: self.returns_col,
            periods_per_year: self.periods_per_year,
            fairness_col: self.fairness_col,
            ..RunRequest::default()
        }
    }
}

/// The library's messages name the `--cv` flags; the API's name the
/// fields of the body instead (`--gap` is `gap`, `--cv group` is
/// `"cv": "group"`).
pub(super) fn cv_in_body_terms(message: &str) -> String {
    const FLAGS: &[(&str, &str)] = &[
        ("--max-train-size", "maxTrainSize"),
        ("--test-size", "testSize"),
        ("--group-col COLUMN", "groupCol"),
        ("--group-col", "groupCol"),
        ("--holdout", "holdout"),
        ("--repeats", "repeats"),
        ("--folds", "folds"),
        ("--gap", "gap"),
        ("--returns-col COLUMN", "returnsCol"),
        ("--returns-col", "returnsCol"),
        ("--periods-per-year", "periodsPerYear"),
        ("--fairness-col", "fairnessCol"),
    ];
    let names = [
        CvName::Stratified,
        CvName::Kfold,
        CvName::TimeSeries,
        CvName::Shuffle,
        CvName::Group,
        CvName::Holdout,
    ];
    let message = names.iter().fold(message.to_owned(), |m, n| {
        m.replace(&format!("--cv {}", n.as_str()), &format!("\"cv\": \"{}\"", n.as_str()))
    });
    FLAGS.iter().fold(message.replace("--cv", "cv"), |m, (flag, field)| m.replace(flag, field))
}

/// Starts a run (queued); the answer carries its id.
#[utoipa::path(post, path = "/evaluations", request_body = EvalRequest, responses(
    (status = 202, body = RunAccepted, description = "queued; the Location header is its status URL"),
    (status = 400, description = "malformed JSON, unknown field, or a value of the wrong type (an unknown `cv`, a negative `gap`)"),
    (status = 401, description = "token missing or wrong"),
    (status = 403, description = "`dataset` is a path outside `[api] data_dirs` (the same answer whether it exists or not)"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "unknown model or dataset, a path that is not a regular file, invalid params: a bound (`folds`, `repeats`, `testSize`, ...) or a field the chosen `cv` does not use, named in the detail"),
    (status = 503, description = "the run queue is full; Retry-After"),
))]
pub(super) async fn start_run(
    State(state): State<Arc<AppState>>,
    body: Result<Json<EvalRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    let known = |id: &String| state.registry().candidates.iter().any(|c| &c.id == id);
    if let Some(unknown) = req.models.iter().flatten().find(|m| !known(m)) {
        return Err(Problem::invalid(
            "unknown-model",
            format!("unknown model '{unknown}'; GET /api/ml/models lists them"),
        ));
    }
    let dataset = datasets::resolve(&state, &req.dataset)?;
    let request = req.into_run(dataset.spec.clone());
    let spec = RunSpec::resolve(request, &state.config.eval.run_defaults())
        .map_err(|e| Problem::invalid("invalid-params", cv_in_body_terms(&e.to_string())))?;
    let run_id = RunId::generate();
    let ctx = run_service::context(state.exe.clone(), &state.config.database, Some(run_id.clone()));
    let run_id = run_id.to_string();
    state.enqueue(&state.pending, &run_id, Queued { work: Work::Run(spec), ctx, dataset })?;
    let location = format!("/api/ml/evaluations/{run_id}");
    let mut r = (StatusCode::ACCEPTED, Json(RunAccepted { run_id })).into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(&location).map_err(Problem::internal)?);
    Ok(r)
}

/// A run's status and job counts.
#[utoipa::path(get, path = "/evaluations/{id}", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, body = RunState, description = "a stored run's status and job counts, or `{runId, status}` of a queued run (`queued`) or one refused before it started (`failed`, with `error`)"),
    (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunState>, Problem> {
    let stored = {
        let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        match store.run(&id).map_err(Problem::internal)? {
            Some(run) => Some((store.jobs(&run.id).map_err(Problem::internal)?, run)),
            None => None,
        }
    };
    if let Some((jobs, run)) = stored {
        return Ok(Json(RunState::Stored(StoredRun::new(run, &jobs))));
    }
    let (status, error) = match state.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        Some(Pending::Queued) => ("queued", None),
        Some(Pending::Refused(why)) => ("failed", Some(why.clone())),
        None => return Err(Problem::not_found(format!("no run '{id}'"))),
    };
    Ok(Json(RunState::InMemory(PendingRun { error, run_id: id, status })))
}

/// A run's metric records: one per model and fold (fold -1 = mean).
#[utoipa::path(get, path = "/evaluations/{id}/results", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, body = RunResults, description = "metric records"), (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_results(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunResults>, Problem> {
    let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
    let Some(run) = store.run(&id).map_err(Problem::internal)? else {
        return Err(Problem::not_found(format!("no run '{id}' (a queued run has no results yet)")));
    };
    let results = store.results(&run.id).map_err(Problem::internal)?;
    Ok(Json(RunResults {
        results: results.into_iter().map(|r| ResultRecord::new(r, &run.dataset_id)).collect(),
        run_id: run.id,
        status: run.status,
    }))
}
