//! Runs: start one (queued for the runner thread), read its status,
//! results and live events.

use std::sync::Arc;
use std::sync::mpsc::TrySendError;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, Pending, Problem, Queued, datasets};
use crate::domain::{RunId, RunRequest, RunSpec, StopFlag};
use crate::engine::{RunContext, WorkerSetup};

/// `POST /api/ml/evaluations`, mirroring `mlhost eval`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct EvalRequest {
    /// `builtin:NAME`, `dataset:ID` (from `POST /api/ml/datasets`), or a
    /// path inside one of `[api] data_dirs`.
    dataset: String,
    label: Option<String>,
    models: Option<Vec<String>>,
    workers: Option<u32>,
    folds: Option<u32>,
    seed: Option<u64>,
}

/// Starts a run (queued); the answer carries its id.
#[utoipa::path(post, path = "/evaluations", request_body = EvalRequest, responses(
    (status = 202, description = "queued: `{runId}`, Location header"),
    (status = 400, description = "malformed JSON or unknown field"),
    (status = 401, description = "token missing or wrong"),
    (status = 403, description = "`dataset` is a path outside `[api] data_dirs` (the same answer whether it exists or not)"),
    (status = 413, description = "the JSON body is larger than `[api] max_body_kb` (default 64 KB)"),
    (status = 422, description = "unknown model or dataset, a path that is not a regular file, invalid params"),
    (status = 503, description = "the run queue is full; Retry-After"),
))]
pub(super) async fn start_run(
    State(state): State<Arc<AppState>>,
    body: Result<Json<EvalRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(|e| Problem::from_json(e, state.config.api.max_body_kb))?;
    let known = |id: &String| state.registry.candidates.iter().any(|c| &c.id == id);
    if let Some(unknown) = req.models.iter().flatten().find(|m| !known(m)) {
        return Err(Problem::invalid(
            "unknown-model",
            format!("unknown model '{unknown}'; GET /api/ml/models lists them"),
        ));
    }
    let dataset = datasets::resolve(&state, &req.dataset)?;
    let request = RunRequest {
        dataset: Some(dataset.spec.clone()),
        label: req.label,
        models: req.models.unwrap_or_default(),
        workers: req.workers,
        folds: req.folds,
        seed: req.seed,
        ..RunRequest::default()
    };
    let spec = RunSpec::resolve(request, &state.config.eval.run_defaults())
        .map_err(|e| Problem::invalid("invalid-params", e.to_string()))?;
    let run_id = RunId::generate();
    let ctx = RunContext {
        workers_from: Some(WorkerSetup {
            exe: state.exe.clone(),
            snapshot_dir: crate::engine::worker::snapshot_dir(&state.config.database),
        }),
        cancel: StopFlag::default(),
        run_id: Some(run_id.clone()),
    };
    let run_id = run_id.to_string();
    state.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(run_id.clone(), Pending::Queued);
    match state.queue.try_send(Queued { spec, ctx, dataset }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            state.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&run_id);
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue-full",
                "Queue full",
                format!("{} runs are waiting already; retry later", state.config.api.queue),
            );
            p.retry_after = Some(5);
            return Err(p);
        }
        Err(TrySendError::Disconnected(_)) => return Err(Problem::internal("runner gone")),
    }
    let location = format!("/api/ml/evaluations/{run_id}");
    let mut r = (StatusCode::ACCEPTED, Json(json!({ "runId": run_id }))).into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(&location).map_err(Problem::internal)?);
    Ok(r)
}

/// A run's status and job counts.
#[utoipa::path(get, path = "/evaluations/{id}", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, description = "status and job counts"), (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let stored = {
        let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
        match store.run(&id).map_err(Problem::internal)? {
            Some(run) => Some((store.jobs(&run.id).map_err(Problem::internal)?, run)),
            None => None,
        }
    };
    if let Some((jobs, run)) = stored {
        let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for j in &jobs {
            *counts.entry(j.status.as_str()).or_default() += 1;
        }
        return Ok(Json(json!({
            "runId": run.id, "status": run.status, "datasetId": run.dataset_id,
            "createdAt": run.created_at, "finishedAt": run.finished_at,
            "jobs": {"total": jobs.len(), "byStatus": counts},
        })));
    }
    match state.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        Some(Pending::Queued) => Ok(Json(json!({"runId": id, "status": "queued"}))),
        Some(Pending::Refused(why)) => {
            Ok(Json(json!({"runId": id, "status": "failed", "error": why})))
        }
        None => Err(Problem::not_found(format!("no run '{id}'"))),
    }
}

/// A run's metric records: one per model and fold (fold -1 = mean).
#[utoipa::path(get, path = "/evaluations/{id}/results", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, description = "metric records"), (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_results(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let store = state.store.lock().unwrap_or_else(|e| e.into_inner());
    let Some(run) = store.run(&id).map_err(Problem::internal)? else {
        return Err(Problem::not_found(format!("no run '{id}' (a queued run has no results yet)")));
    };
    let rows: Vec<serde_json::Value> = store
        .results(&run.id)
        .map_err(Problem::internal)?
        .into_iter()
        .map(|r| {
            json!({
                "modelId": r.model_id, "modelVersion": r.model_version, "datasetId": run.dataset_id,
                "fold": r.fold, "durationMs": r.duration_ms,
                "metrics": r.metrics,
            })
        })
        .collect();
    Ok(Json(json!({"runId": run.id, "status": run.status, "results": rows})))
}

/// The run's events as Server-Sent Events, from its first to
/// `run.completed`, live as they are written (`curl -N` works).
#[utoipa::path(get, path = "/evaluations/{id}/events", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, description = "text/event-stream of event envelopes"), (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<
    Sse<impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>>>,
    Problem,
> {
    let known = state
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .run(&id)
        .map_err(Problem::internal)?
        .is_some()
        || state.pending.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id);
    if !known {
        return Err(Problem::not_found(format!("no run '{id}'")));
    }
    let start = (state, id, 0i64, false, std::collections::VecDeque::new());
    let stream = futures_util::stream::unfold(
        start,
        |(state, id, mut last, mut done, mut buf)| async move {
            loop {
                if let Some(e) = buf.pop_front() {
                    return Some((Ok(e), (state, id, last, done, buf)));
                }
                if done {
                    return None;
                }
                let events = state
                    .store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .run_events(&id, last)
                    .unwrap_or_default();
                for e in events {
                    last = e.seq;
                    done |= e.event_type == "run.completed";
                    let mut envelope = e.envelope();
                    // The stored spec names an upload by its file; callers
                    // know it as `dataset:ID`.
                    let spec_dataset = &mut envelope["payload"]["spec"]["dataset"];
                    if let Some(public) =
                        spec_dataset.as_str().and_then(|s| datasets::public_name(&state.uploads, s))
                    {
                        *spec_dataset = public.into();
                    }
                    buf.push_back(
                        SseEvent::default()
                            .id(e.id.clone())
                            .event(e.event_type.clone())
                            .data(envelope.to_string()),
                    );
                }
                if buf.is_empty() {
                    // A run refused before it started never completes.
                    if let Some(Pending::Refused(_)) =
                        state.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&id)
                    {
                        return None;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
