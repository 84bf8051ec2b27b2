//! `GET /api/ml/evaluations/{id}/confusion`: per-model confusion matrices,
//! per-class numbers and calibration, as `mlhost show RUN --confusion
//! --json` prints them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use super::{AppState, Problem, datasets};
use crate::service::confusion::{self, ConfusionError, ConfusionReport};

/// Each succeeded classification model's confusion matrix (pooled over
/// folds), per-class precision/recall/F1/support and, with probabilities,
/// Brier score and reliability bins.
#[utoipa::path(get, path = "/evaluations/{id}/confusion", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, body = ConfusionReport, description = "one entry per succeeded model"),
    (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
    (status = 422, description = "a regression run, a run without stored predictions, or a dataset that cannot be read again for its labels"),
))]
pub(super) async fn run_confusion(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ConfusionReport>, Problem> {
    let uploads = state.uploads.clone();
    // Labels may need the dataset read again: off the async threads.
    let report = tokio::task::spawn_blocking(move || {
        let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        confusion::confusion(&store, &id)
    })
    .await
    .map_err(Problem::internal)?;
    match report {
        Ok(report) => Ok(Json(report)),
        Err(e @ ConfusionError::UnknownRun(_)) => Err(Problem::not_found(e.to_string())),
        Err(e @ ConfusionError::Unavailable(_)) => {
            Err(Problem::invalid("no-confusion", datasets::public_detail(&uploads, e.to_string())))
        }
        Err(ConfusionError::Store(e)) => Err(Problem::internal(e)),
    }
}
