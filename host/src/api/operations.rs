//! Operations: per-epoch training metrics, read with their trend or
//! recorded by a trainer that runs elsewhere.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::dto::OperationMetrics;
use super::{AppState, Problem};

/// Trend thresholds in the query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct TrendQuery {
    /// Epochs without improvement that make a plateau (default 5).
    patience: Option<u32>,
    /// Smallest improvement of validation loss that counts (default 0.001).
    min_delta: Option<f64>,
}

fn patience(q: &TrendQuery) -> Result<crate::domain::Patience, Problem> {
    let d = crate::domain::Patience::default();
    let p = crate::domain::Patience {
        patience: q.patience.unwrap_or(d.patience),
        min_delta: q.min_delta.unwrap_or(d.min_delta),
    };
    if p.patience == 0 || !(p.min_delta >= 0.0 && p.min_delta.is_finite()) {
        return Err(Problem::invalid(
            "invalid-params",
            "patience must be >= 1 and min_delta a number >= 0",
        ));
    }
    Ok(p)
}

/// An operation's (a job's) epochs per fold, each fold with its trend.
#[utoipa::path(get, path = "/operations/{id}/metrics", params(("id" = String, Path, description = "job id"), TrendQuery), responses(
    (status = 200, body = OperationMetrics, description = "epochs and trend per fold"), (status = 400, description = "unknown query parameter"), (status = 401, description = "token missing or wrong"), (status = 404, description = "no epochs recorded"),
))]
pub(super) async fn operation_metrics(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<TrendQuery>, QueryRejection>,
) -> Result<Json<OperationMetrics>, Problem> {
    let Query(q) = query.map_err(Problem::from_query)?;
    let p = patience(&q)?;
    let rows = state
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .epochs(&id)
        .map_err(Problem::internal)?;
    if rows.is_empty() {
        return Err(Problem::not_found(format!("no epochs recorded for operation '{id}'")));
    }
    Ok(Json(OperationMetrics::new(id, crate::metrics::trend::report(&rows, p))))
}

/// Epochs reported by a trainer that runs elsewhere.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct EpochsIn {
    epochs: Vec<EpochIn>,
}

/// One epoch: its number (from 1), the fold (default 0) and named values.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct EpochIn {
    epoch: i64,
    #[serde(default)]
    fold: i64,
    metrics: std::collections::BTreeMap<String, f64>,
}

/// Records epochs for an operation; answers with the updated trend.
#[utoipa::path(post, path = "/operations/{id}/metrics", params(("id" = String, Path, description = "operation id")),
    request_body = EpochsIn, responses(
    (status = 201, body = OperationMetrics, description = "recorded; the epochs and trend per fold"), (status = 400, description = "malformed JSON or unknown field"),
    (status = 401, description = "token missing or wrong"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "an epoch or value out of range"),
))]
pub(super) async fn record_operation_metrics(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Json<EpochsIn>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    if id.is_empty()
        || id.len() > 128
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Problem::invalid(
            "invalid-params",
            "operation ids use letters, digits, '-', '_' and '.' (at most 128)",
        ));
    }
    if req.epochs.is_empty() {
        return Err(Problem::invalid("invalid-params", "no epochs in the request"));
    }
    let mut rows = Vec::with_capacity(req.epochs.len());
    for e in &req.epochs {
        if e.epoch < 1 || e.fold < 0 {
            return Err(Problem::invalid(
                "invalid-params",
                format!("epoch {} fold {}: epochs count from 1, folds from 0", e.epoch, e.fold),
            ));
        }
        if e.metrics.is_empty() {
            return Err(Problem::invalid(
                "invalid-params",
                format!("epoch {}: no metrics", e.epoch),
            ));
        }
        if let Some((name, v)) = e.metrics.iter().find(|(n, v)| n.is_empty() || !v.is_finite()) {
            return Err(Problem::invalid(
                "invalid-params",
                format!("epoch {}: metric {name:?} = {v} is not a finite named value", e.epoch),
            ));
        }
        rows.push(crate::domain::EpochRow {
            job_id: id.clone(),
            fold: e.fold,
            epoch: e.epoch,
            metrics_json: serde_json::to_string(&e.metrics).map_err(Problem::internal)?,
            recorded_at: crate::store::now(),
        });
    }
    let all = {
        let mut store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        store.record_epochs(&rows).map_err(Problem::internal)?;
        store.epochs(&id).map_err(Problem::internal)?
    };
    let report = crate::metrics::trend::report(&all, crate::domain::Patience::default());
    Ok((StatusCode::CREATED, Json(OperationMetrics::new(id, report))).into_response())
}
