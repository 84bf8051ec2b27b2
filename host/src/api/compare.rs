//! `GET /api/ml/evaluations/{id}/compare`: `mlhost compare` over HTTP.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::{AppState, Problem};
use crate::service::compare::{self, CompareReport, CompareRequest};

/// What to compare; every field is optional.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct CompareQuery {
    /// The reference model, a candidate or job id (default: the best by mean).
    reference: Option<String>,
    /// The metric (default `f1`, `r2` for regression).
    metric: Option<String>,
    /// Significance level, 0 < alpha < 1 (default 0.05).
    alpha: Option<f64>,
}

/// Every succeeded model of a run against a reference: corrected resampled
/// t-test, Wilcoxon, McNemar, Holm, bootstrap intervals.
#[utoipa::path(get, path = "/evaluations/{id}/compare", params(("id" = String, Path, description = "run id"), CompareQuery), responses(
    (status = 200, body = CompareReport, description = "the comparisons"),
    (status = 400, description = "unknown or malformed query parameter"),
    (status = 401, description = "token missing or wrong"),
    (status = 404, description = "no such run"),
    (status = 422, description = "a run with fewer than 2 succeeded models, models on different folds, an unknown reference or metric, alpha outside (0, 1)"),
))]
pub(super) async fn compare_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<CompareQuery>, QueryRejection>,
) -> Result<Json<CompareReport>, Problem> {
    let Query(q) = query.map_err(Problem::from_query)?;
    let req =
        CompareRequest { reference: q.reference, metric: q.metric, alpha: q.alpha.unwrap_or(0.05) };
    let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
    match compare::compare(&store, &id, &req) {
        Ok(report) => Ok(Json(report)),
        Err(e) if e.is_not_found() => Err(Problem::not_found(e.to_string())),
        Err(e) if e.is_bad_input() => Err(Problem::invalid("invalid-compare", e.to_string())),
        Err(e) => Err(Problem::internal(e)),
    }
}
