//! Serving registered models (`mlhost train`'s versions): list a model's
//! versions, predict with one.
//!
//! Which version answers: the `{name}` of the path (and `model` of a batch
//! request) is a model reference as `mlhost predict --model` takes it:
//! `NAME` (the production version, else the newest), `NAME@ALIAS` or
//! `NAME:N` (`@` and `:` may be sent as they are or percent-encoded).
//! Predictions run on tokio's blocking threads ([`Serving`] loads a version
//! on first use and keeps it). A version that cannot answer is a 503 that
//! names the reason, or the `[serving] fallback` model's answer with
//! `"fallback": true`.
//!
//! [`Serving`]: crate::service::models::serving::Serving

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::dto::ModelVersions;
use super::{AppState, Problem};
use crate::data::records::Records;
use crate::domain::{ModelRef, check_name};
use crate::service::models::ModelError;
use crate::service::models::serving::Served;

/// `POST /models/{name}/predict`: the rows, in one of two forms.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PredictRequest {
    /// Rows of values in the model's feature order (`GET
    /// /models/{name}/versions` lists the features): numbers, strings for
    /// categorical columns, `null` for a missing value.
    #[schema(value_type = Option<Vec<Vec<Object>>>)]
    rows: Option<Vec<Vec<Value>>>,
    /// Rows as `{feature: value}` objects; other keys are ignored.
    #[schema(value_type = Option<Vec<Object>>)]
    instances: Option<Vec<Map<String, Value>>>,
}

/// `POST /batch-predict`: a model reference and the rows.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchPredictRequest {
    /// `NAME`, `NAME@ALIAS` or `NAME:N`.
    model: String,
    /// As in `POST /models/{name}/predict`.
    #[schema(value_type = Option<Vec<Vec<Object>>>)]
    rows: Option<Vec<Vec<Value>>>,
    /// As in `POST /models/{name}/predict`.
    #[schema(value_type = Option<Vec<Object>>)]
    instances: Option<Vec<Map<String, Value>>>,
}

fn records(
    rows: Option<Vec<Vec<Value>>>,
    instances: Option<Vec<Map<String, Value>>>,
) -> Result<Records, Problem> {
    match (rows, instances) {
        (Some(r), None) => Ok(Records::Rows(r)),
        (None, Some(i)) => Ok(Records::Instances(i)),
        _ => Err(Problem::invalid(
            "invalid-input",
            "send the rows as either \"rows\" (values in feature order) or \"instances\" ({feature: value} objects), exactly one of them",
        )),
    }
}

fn model_ref(given: &str) -> Result<ModelRef, Problem> {
    given.parse().map_err(|e: String| Problem::bad_request(e))
}

/// A model use case's error as a problem. Details about an artifact name
/// it by its sha256, never by the server's path.
fn problem(state: &AppState, e: ModelError) -> Problem {
    match e {
        ModelError::BadInput(why) => Problem::invalid("invalid-input", why),
        ModelError::NotFound(why) => Problem::not_found(why),
        ModelError::Unavailable(why) => {
            tracing::warn!(reason = %why, "model unavailable");
            let dir = format!("{}/", state.config.artifacts.display());
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "model-unavailable",
                "Model unavailable",
                why.replace(&dir, ""),
            )
        }
        ModelError::Store(e) => Problem::internal(e),
    }
}

/// Every version of a registered model, newest first, with its stage,
/// aliases and lineage.
#[utoipa::path(get, path = "/models/{name}/versions", params(("name" = String, Path, description = "a registered model's name")), responses(
    (status = 200, body = ModelVersions, description = "newest first"),
    (status = 400, description = "not a model name"),
    (status = 401, description = "token missing or wrong"),
    (status = 404, description = "no model of that name"),
))]
pub(super) async fn model_versions(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<ModelVersions>, Problem> {
    check_name("model", &name).map_err(Problem::bad_request)?;
    let s = state.clone();
    let (name, versions) = tokio::task::spawn_blocking(move || {
        let v = s.serving.versions(&name);
        (name, v)
    })
    .await
    .map_err(Problem::internal)?;
    let versions = versions.map_err(|e| problem(&state, e))?;
    Ok(Json(ModelVersions { name, versions }))
}

/// Predicts rows with a registered model's version.
#[utoipa::path(post, path = "/models/{name}/predict", request_body = PredictRequest, params(("name" = String, Path, description = "`NAME` (production, else the newest version), `NAME@ALIAS` or `NAME:N`")), responses(
    (status = 200, body = Served, description = "one prediction per row: labels for classification (with probabilities by label when the model gives them), numbers for regression"),
    (status = 400, description = "malformed JSON, an unknown field, or not a model reference"),
    (status = 401, description = "token missing or wrong"),
    (status = 404, description = "no such model, alias or version"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "no rows, both or neither of rows and instances, a missing feature, a row of the wrong width, or a value of the wrong type; the detail names the row and the column"),
    (status = 503, description = "the version cannot answer (artifact missing or corrupt, plugin not loaded or refusing the bytes, the plugin failed or panicked) and no `[serving] fallback` could"),
))]
pub(super) async fn predict(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Result<Json<PredictRequest>, JsonRejection>,
) -> Result<Json<Served>, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    let model = model_ref(&name)?;
    let rows = records(req.rows, req.instances)?;
    answer(state, model, rows).await
}

/// Predicts rows with the model a body names; the answer is the predict
/// route's.
#[utoipa::path(post, path = "/batch-predict", request_body = BatchPredictRequest, responses(
    (status = 200, body = Served, description = "as `POST /models/{name}/predict`"),
    (status = 400, description = "malformed JSON, an unknown field, or `model` not a model reference"),
    (status = 401, description = "token missing or wrong"),
    (status = 404, description = "no such model, alias or version"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "as `POST /models/{name}/predict`"),
    (status = 503, description = "as `POST /models/{name}/predict`"),
))]
pub(super) async fn batch_predict(
    State(state): State<Arc<AppState>>,
    body: Result<Json<BatchPredictRequest>, JsonRejection>,
) -> Result<Json<Served>, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    let model = model_ref(&req.model)?;
    let rows = records(req.rows, req.instances)?;
    answer(state, model, rows).await
}

/// The prediction, on a blocking thread, with the registry of now.
async fn answer(
    state: Arc<AppState>,
    model: ModelRef,
    rows: Records,
) -> Result<Json<Served>, Problem> {
    let registry = state.registry();
    let s = state.clone();
    let served = tokio::task::spawn_blocking(move || s.serving.predict(&registry, &model, &rows))
        .await
        .map_err(Problem::internal)?;
    served.map(Json).map_err(|e| problem(&state, e))
}
