//! Hyperparameter studies: start one (queued for the runner thread, like a
//! run), read its report. A study is a run whose jobs are trials; once it
//! has started, its report names that run, whose events stream at
//! `/evaluations/{runId}/events`.
//!
//! What can be checked without the data is checked before the 202 (the
//! model, `params` against the plugin's schema, the strategy against the
//! space, the trials, the metrics against the model's tasks), so bad input
//! is a 4xx and stores nothing. What needs the data (the label, the task's
//! own metrics) is checked when the study starts: a study refused then is
//! `failed`, with the reason, at `GET /tuning/{id}`, and stored nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mlhost_plugin_api::Task;
use serde::Deserialize;

use super::dto::{PendingStudy, StoredStudy, StudyAccepted, StudyState};
use super::{AppState, Pending, Problem, Queued, Work, datasets};
use crate::domain::{
    Direction, Isolation, PrunerName, RunRequest, StrategyName, StudyId, StudyRequest, StudySpec,
};
use crate::service::runs as run_service;
use crate::service::tuning as study_service;

/// `POST /api/ml/tuning`, mirroring `mlhost tune`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct TuneRequest {
    /// `builtin:NAME`, `dataset:ID` (from `POST /api/ml/datasets`), or a
    /// path inside one of `[api] data_dirs`.
    dataset: String,
    /// The label column.
    label: Option<String>,
    /// The candidate to tune (an id of `GET /api/ml/models`).
    model: String,
    /// How trials are proposed (default tpe).
    strategy: Option<StrategyName>,
    /// Trials to run (default 50; a grid: every point, and 0 means that too).
    trials: Option<usize>,
    /// Parameter name to SPEC, searched instead of the plugin's own range:
    /// `a,b,c` (values; a grid axis), `LOW..HIGH` (uniform; ints stay ints)
    /// or `LOW..HIGH:log`.
    #[serde(default)]
    params: BTreeMap<String, String>,
    /// The one metric to optimize (or give `metrics`).
    metric: Option<String>,
    /// Metrics to optimize (default f1, r2 for regression): the first picks
    /// the best trial, all make the Pareto front.
    metrics: Option<Vec<String>>,
    /// One per metric (default: losses and seconds minimize, scores maximize).
    #[serde(default)]
    directions: Vec<Direction>,
    /// Stop bad trials early from their per-epoch values (default none).
    pruner: Option<PrunerName>,
    /// The per-epoch value the pruner reads (default val_loss).
    prune_on: Option<String>,
    /// At most this many trials at once.
    workers: Option<u32>,
    /// Cross-validation folds.
    folds: Option<u32>,
    /// Hold out this fraction instead of cross-validating.
    holdout: Option<f64>,
    /// Seeds the proposals, the folds' shuffle and each fit.
    seed: Option<u64>,
    /// The study's budget: no trial starts after this many seconds.
    timeout_secs: Option<u64>,
    /// A trial's own timeout in seconds (default `[eval] timeout_secs`).
    trial_timeout_secs: Option<u64>,
    /// Trial isolation (default `[eval] isolation`).
    isolation: Option<Isolation>,
    /// Force the task instead of inferring it from the labels.
    task: Option<TaskName>,
    /// Positive class for binary metrics.
    pos_label: Option<String>,
}

/// A task, as a request names it.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum TaskName {
    /// Predict one of k classes.
    Classification,
    /// Predict a number.
    Regression,
}

impl TuneRequest {
    /// The request as the library takes it, with the dataset as checked.
    fn into_study(self, dataset: String) -> Result<StudyRequest, Problem> {
        let metrics = match (self.metric, self.metrics) {
            (Some(_), Some(_)) => {
                return Err(Problem::invalid(
                    "invalid-params",
                    "give \"metric\" or \"metrics\", not both",
                ));
            }
            (Some(m), None) => vec![m],
            (None, ms) => ms.unwrap_or_default(),
        };
        Ok(StudyRequest {
            run: RunRequest {
                dataset: Some(dataset),
                label: self.label,
                models: Vec::new(),
                workers: self.workers,
                cv: crate::domain::CvRequest {
                    folds: self.folds,
                    holdout: self.holdout,
                    ..Default::default()
                },
                seed: self.seed,
                timeout_secs: self.trial_timeout_secs,
                task: self.task.map(|t| match t {
                    TaskName::Classification => Task::Classification,
                    TaskName::Regression => Task::Regression,
                }),
                pos_label: self.pos_label,
                isolation: self.isolation,
                early_stopping: None,
                returns_col: None,
                periods_per_year: None,
                fairness_col: None,
            },
            model: self.model,
            strategy: self.strategy,
            trials: self.trials,
            params: self.params.into_iter().collect(),
            metrics,
            directions: self.directions,
            pruner: self.pruner,
            prune_on: self.prune_on,
            timeout_secs: self.timeout_secs,
        })
    }
}

/// The library's messages name `mlhost tune`'s flags (and the `--cv` ones
/// it shares with `eval`); the API's name the fields of the body instead.
pub(super) fn in_body_terms(message: &str) -> String {
    const FLAGS: &[(&str, &str)] = &[
        ("--param NAME=SPEC", "\"params\": {\"NAME\": \"SPEC\"}"),
        ("--param ", "params."),
        ("--trials", "trials"),
        ("--metric", "metric"),
        ("--direction", "direction"),
        ("--timeout-secs", "timeoutSecs"),
        ("--prune-on", "pruneOn"),
    ];
    let message = FLAGS.iter().fold(message.to_owned(), |m, (flag, field)| m.replace(flag, field));
    super::runs::cv_in_body_terms(&message)
}

/// Starts a study (queued); the answer carries its id.
#[utoipa::path(post, path = "/tuning", request_body = TuneRequest, responses(
    (status = 202, body = StudyAccepted, description = "queued; the Location header is its report's URL"),
    (status = 400, description = "malformed JSON, unknown field, or a value of the wrong type"),
    (status = 401, description = "token missing or wrong"),
    (status = 403, description = "`dataset` is a path outside `[api] data_dirs` (the same answer whether it exists or not)"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "unknown model or dataset; a parameter the plugin lacks or a malformed SPEC; a grid over a range; no trials; a metric the model's tasks lack; other invalid params"),
    (status = 503, description = "the run queue is full; Retry-After"),
))]
pub(super) async fn start_study(
    State(state): State<Arc<AppState>>,
    body: Result<Json<TuneRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    if !state.registry().candidates.iter().any(|c| c.id == req.model) {
        return Err(Problem::invalid(
            "unknown-model",
            format!("unknown model '{}'; GET /api/ml/models lists them", req.model),
        ));
    }
    let dataset = datasets::resolve(&state, &req.dataset)?;
    let request = req.into_study(dataset.spec.clone())?;
    let invalid = |e: String| Problem::invalid("invalid-params", in_body_terms(&e));
    let spec = StudySpec::resolve(request, &state.config.eval.run_defaults())
        .map_err(|e| invalid(e.to_string()))?;
    study_service::check(&state.registry(), &spec).map_err(invalid)?;
    let study_id = StudyId::generate();
    let mut ctx = run_service::context(state.exe.clone(), &state.config.database, None);
    ctx.study_id = Some(study_id.clone());
    let study_id = study_id.to_string();
    let work = Queued { work: Work::Study(spec), ctx, dataset };
    state.enqueue(&state.studies, &study_id, work)?;
    let location = format!("/api/ml/tuning/{study_id}");
    let mut r = (StatusCode::ACCEPTED, Json(StudyAccepted { study_id })).into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(&location).map_err(Problem::internal)?);
    Ok(r)
}

/// A study's report: its trials so far and the best of them.
#[utoipa::path(get, path = "/tuning/{id}", params(("id" = String, Path, description = "study id")), responses(
    (status = 200, body = StudyState, description = "a stored study's report (`status` running until it ends: the trials so far and the best of them), or `{studyId, status}` of a queued study (`queued`) or one refused before it started (`failed`, with `error`)"),
    (status = 401, description = "token missing or wrong"), (status = 404, description = "no such study"),
))]
pub(super) async fn study_report(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<StudyState>, Problem> {
    // Held while the store is read: the runner forgets a study only once
    // it is stored, so a study is always found in one or the other.
    let studies = state.studies.lock().unwrap_or_else(|e| e.into_inner());
    let report = {
        let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        study_service::report(&store, &id).map_err(Problem::internal)?
    };
    if let Some(report) = report {
        let error = match studies.get(&report.study_id) {
            Some(Pending::Refused(why)) => Some(why.clone()),
            _ => None,
        };
        return Ok(Json(StudyState::Stored(Box::new(StoredStudy { report, error }))));
    }
    let (status, error) = match studies.get(&id) {
        Some(Pending::Queued) => ("queued", None),
        Some(Pending::Refused(why)) => ("failed", Some(why.clone())),
        None => return Err(Problem::not_found(format!("no study '{id}'"))),
    };
    Ok(Json(StudyState::InMemory(PendingStudy { error, status, study_id: id })))
}
