//! `POST /api/ml/suggestions`: `mlhost automl` for a dataset, answered
//! within the request with the same JSON as `mlhost automl --json`.
//!
//! Synchronous, unlike `POST /tuning`'s 202: the answer is a report that
//! is not stored (its studies are), so a 202 would need a report kept in
//! memory and a route to poll. The budget is what bounds the wait, so it
//! is capped at [`MAX_BUDGET_SECS`] (a longer search is `mlhost automl`'s).
//! One search runs at a time per server (a second gets 503 and
//! Retry-After); it runs beside the queue's runner, on its own store
//! connection, and stops when the caller goes away. It registers the
//! winner only when asked (`"register": true`): a suggestion is advice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use mlhost_plugin_api::Task;
use serde::Deserialize;

use super::tuning::TaskName;
use super::{AppState, Problem, datasets};
use crate::domain::{CvRequest, Gate, Isolation, RunRequest, StopFlag};
use crate::engine::{EvalError, RunContext};
use crate::service::automl::{self, AutomlReport, AutomlRequest, Services, Silent};
use crate::service::runs as run_service;
use crate::store::Store;
use crate::store::artifacts::Artifacts;

/// The largest `budgetSecs` this API runs within a request.
pub(super) const MAX_BUDGET_SECS: u64 = 300;

/// Whether a search is running in this process.
static BUSY: AtomicBool = AtomicBool::new(false);

/// `POST /api/ml/suggestions`, mirroring `mlhost automl`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SuggestionRequest {
    /// `builtin:NAME`, `dataset:ID` (from `POST /api/ml/datasets`), or a
    /// path inside one of `[api] data_dirs`.
    dataset: String,
    /// The label column.
    label: Option<String>,
    /// The candidates to race (default: every ready one that can do the
    /// task and has a parameter to search).
    #[serde(default)]
    models: Vec<String>,
    /// The reference, evaluated once and not tuned (default `baseline`).
    baseline: Option<String>,
    /// The metric to optimize and rank by (default f1, r2 for regression).
    metric: Option<String>,
    /// The search's budget in seconds (default 120, at most 300).
    budget_secs: Option<u64>,
    /// Trials of each rung-0 study, doubled at each rung (default 5).
    trials: Option<usize>,
    /// Gates on the winner's best trial: `f1>=0.9`, `better-than:baseline`.
    #[serde(default)]
    gates: Vec<String>,
    /// Significance level of the comparisons (default 0.05).
    alpha: Option<f64>,
    /// Register the winner as a model version (default false).
    #[serde(default)]
    register: bool,
    /// Its name (default `automl-<dataset stem>`).
    name: Option<String>,
    /// At most this many trials at once.
    workers: Option<u32>,
    /// Cross-validation folds.
    folds: Option<u32>,
    /// Hold out this fraction instead of cross-validating.
    holdout: Option<f64>,
    /// Shuffles the folds and seeds each fit and the proposals.
    seed: Option<u64>,
    /// A trial's own timeout in seconds (default: its study's share of the budget).
    trial_timeout_secs: Option<u64>,
    /// Trial isolation (default `[eval] isolation`).
    isolation: Option<Isolation>,
    /// Force the task instead of inferring it from the labels.
    task: Option<TaskName>,
    /// Positive class for binary metrics.
    pos_label: Option<String>,
}

impl SuggestionRequest {
    /// The request as the library takes it, with the dataset as checked.
    fn into_automl(self, dataset: &datasets::Resolved) -> Result<AutomlRequest, Problem> {
        let gates = self
            .gates
            .iter()
            .map(|g| g.parse::<Gate>().map_err(|e| invalid(&e.0)))
            .collect::<Result<Vec<_>, _>>()?;
        let name = match (self.register, self.name) {
            (true, None) => Some(automl::default_name(&dataset.public)),
            (_, name) => name,
        };
        Ok(AutomlRequest {
            run: RunRequest {
                dataset: Some(dataset.spec.clone()),
                label: self.label,
                models: self.models,
                workers: self.workers,
                cv: CvRequest { folds: self.folds, holdout: self.holdout, ..Default::default() },
                seed: self.seed,
                timeout_secs: self.trial_timeout_secs,
                task: self.task.map(|t| match t {
                    TaskName::Classification => Task::Classification,
                    TaskName::Regression => Task::Regression,
                }),
                pos_label: self.pos_label,
                isolation: self.isolation,
                ..RunRequest::default()
            },
            baseline: self.baseline,
            metric: self.metric,
            budget_secs: self.budget_secs,
            trials: self.trials,
            gates,
            alpha: self.alpha,
            register: self.register,
            name,
        })
    }
}

/// A 422 whose detail names the body's fields, not `mlhost automl`'s flags.
fn invalid(message: &str) -> Problem {
    const FLAGS: &[(&str, &str)] = &[
        ("--budget-secs", "budgetSecs"),
        ("--trials", "trials"),
        ("--metric", "metric"),
        ("--gate ", "gates: "),
        ("--baseline", "baseline"),
        ("--alpha", "alpha"),
        ("--timeout-secs", "trialTimeoutSecs"),
    ];
    let m = FLAGS.iter().fold(message.to_owned(), |m, (flag, field)| m.replace(flag, field));
    Problem::invalid("invalid-params", m)
}

/// Runs `mlhost automl` for a dataset and answers its report.
#[utoipa::path(post, path = "/suggestions", request_body = SuggestionRequest, responses(
    (status = 200, body = AutomlReport, description = "the search's report, as `mlhost automl --json`: leaderboard, rungs, winner, comparisons, gates, recommendation"),
    (status = 400, description = "malformed JSON, unknown field, or a value of the wrong type"),
    (status = 401, description = "token missing or wrong"),
    (status = 403, description = "`dataset` is a path outside `[api] data_dirs` (the same answer whether it exists or not)"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "`budgetSecs` above 300; an unknown model, dataset or label; a metric the task lacks; a malformed gate; no candidate to tune"),
    (status = 503, description = "another suggestion is being computed; Retry-After"),
))]
pub(super) async fn suggest(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SuggestionRequest>, JsonRejection>,
) -> Result<Json<AutomlReport>, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    let budget = req.budget_secs.unwrap_or(automl::DEFAULT_BUDGET_SECS);
    if budget > MAX_BUDGET_SECS {
        return Err(invalid(&format!(
            "budgetSecs {budget} is more than this API runs within a request ({MAX_BUDGET_SECS}); run `mlhost automl --budget-secs {budget}` for a longer search"
        )));
    }
    let dataset = datasets::resolve(&state, &req.dataset)?;
    let request = req.into_automl(&dataset)?;
    let busy = Busy::take()?;
    let ctx = run_service::context(state.exe.clone(), &state.config.database, None);
    let _stop = StopOnDrop(ctx.cancel.clone());
    let worker = state.clone();
    let dataset_ = dataset.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let _busy = busy;
        search(&worker, &dataset_, &request, &ctx)
    })
    .await
    .map_err(Problem::internal)?;
    match outcome {
        Ok(report) => Ok(Json(report)),
        Err(EvalError::BadInput(why)) => Err(invalid(&why.replace(&dataset.spec, &dataset.public))),
        Err(e) => Err(Problem::internal(e)),
    }
}

/// The search on its own store connection.
fn search(
    state: &AppState,
    dataset: &datasets::Resolved,
    request: &AutomlRequest,
    ctx: &RunContext,
) -> Result<AutomlReport, EvalError> {
    datasets::recheck(&state.config.api.data_dirs, dataset).map_err(EvalError::BadInput)?;
    let mut store = Store::open(&state.config.database)?;
    let artifacts = Artifacts::new(&state.config.artifacts);
    let defaults = state.config.eval.run_defaults();
    // The registry as it is now (serve's watcher may swap it meanwhile).
    let registry = state.registry();
    let mut svc = Services {
        registry: &registry,
        store: &mut store,
        artifacts: &artifacts,
        defaults: &defaults,
        ctx,
    };
    automl::run(&mut svc, request, &mut Silent)
}

/// The one search slot; freed when dropped.
struct Busy;

impl Busy {
    fn take() -> Result<Busy, Problem> {
        if BUSY.swap(true, Ordering::AcqRel) {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                "another suggestion is being computed; retry later",
            );
            p.retry_after = Some(10);
            return Err(p);
        }
        Ok(Busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.store(false, Ordering::Release);
    }
}

/// Cancels the search when the request is dropped (the caller went away):
/// running trials stop, no study starts. After the answer it is too late
/// to matter.
struct StopOnDrop(StopFlag);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}
