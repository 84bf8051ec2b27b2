//! `GET /api/ml/evaluations/{id}/fairness?column=COL`: the bias check of a
//! binary classification run, as `mlhost show RUN --fairness-col COL
//! --json` prints it.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::{AppState, Problem, datasets};
use crate::service::fairness::{self, FairnessError, FairnessReport};

/// Which column's cells are the groups.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct FairnessQuery {
    /// A column of the run's dataset (a feature of the run or a column it
    /// read apart), not its label.
    column: String,
}

/// Each succeeded model's held-out predictions grouped by a column of the
/// run's dataset: per group selection rate, TPR and FPR; the
/// demographic-parity and equalized-odds differences (fairlearn's).
#[utoipa::path(get, path = "/evaluations/{id}/fairness", params(("id" = String, Path, description = "run id"), FairnessQuery), responses(
    (status = 200, body = FairnessReport, description = "one entry per succeeded model"),
    (status = 400, description = "no `column`, or an unknown query parameter"),
    (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
    (status = 422, description = "a column the dataset lacks or its label, a run that is not binary classification, a run without stored predictions, or a dataset that changed since the run"),
))]
pub(super) async fn run_fairness(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<Query<FairnessQuery>, QueryRejection>,
) -> Result<Json<FairnessReport>, Problem> {
    let Query(q) = query.map_err(Problem::from_query)?;
    let uploads = state.uploads.clone();
    // The dataset is read again: off the async threads.
    let report = tokio::task::spawn_blocking(move || {
        let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        fairness::fairness(&store, &id, &q.column)
    })
    .await
    .map_err(Problem::internal)?;
    let public = |e: FairnessError| datasets::public_detail(&uploads, e.to_string());
    match report {
        Ok(report) => Ok(Json(report)),
        Err(e @ FairnessError::UnknownRun(_)) => Err(Problem::not_found(e.to_string())),
        Err(e @ FairnessError::BadColumn(_)) => Err(Problem::invalid("bad-column", public(e))),
        Err(e @ FairnessError::Unavailable(_)) => Err(Problem::invalid("no-fairness", public(e))),
        Err(FairnessError::Store(e)) => Err(Problem::internal(e)),
    }
}
