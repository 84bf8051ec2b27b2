//! The HTTP API (axum): the registry report, starting runs and reading
//! their status and results. `app(state)` builds the whole router so tests
//! can drive it; `serve` binds it (127.0.0.1 unless told otherwise).
//!
//! Handlers parse input into validated types at the edge and call the
//! library; every error is an RFC 7807 problem document. Runs started here
//! go to a bounded queue served by one runner thread, through the same
//! `eval` and store as the CLI; a full queue answers 503 with Retry-After.
//! The bearer token, when configured, guards every `/api` route and is never
//! logged.

use std::collections::HashMap;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::eval::{self, EvalError, Quiet, RunSpec, WorkerSetup};
use crate::registry::Registry;
use crate::split::Protocol;
use crate::store::Store;

/// An RFC 7807 problem.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    retry_after: Option<u64>,
}

impl Problem {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem { status, slug, title, detail: detail.into(), retry_after: None }
    }
    fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }
    fn invalid(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, slug, "Invalid request", detail)
    }
    fn internal(detail: impl std::fmt::Display) -> Self {
        // The detail names what failed, never internals like paths or SQL.
        let _ = detail.to_string();
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; see its log",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("/problems/{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut r = (self.status, Json(body)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// A run known only in memory: queued, or refused before it started.
#[derive(Debug, Clone)]
enum Pending {
    Queued,
    Refused(String),
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    config: Config,
    registry: Arc<Registry>,
    queue: SyncSender<RunSpec>,
    pending: Arc<Mutex<HashMap<String, Pending>>>,
    store: Mutex<Store>,
    exe: std::path::PathBuf,
}

impl AppState {
    /// Opens the store and starts the runner thread that executes queued runs.
    pub fn start(
        config: Config,
        registry: Registry,
        exe: std::path::PathBuf,
    ) -> anyhow::Result<Arc<AppState>> {
        let registry = Arc::new(registry);
        let (tx, rx) = std::sync::mpsc::sync_channel::<RunSpec>(config.api.queue as usize);
        let pending: Arc<Mutex<HashMap<String, Pending>>> = Arc::default();
        let mut runner_store = Store::open(&config.database)?;
        let (reg, pend) = (registry.clone(), pending.clone());
        std::thread::Builder::new().name("mlhost-runner".into()).spawn(move || {
            for spec in rx {
                let id = spec.run_id.clone().unwrap_or_default();
                let outcome = eval::evaluate(&reg, &mut runner_store, &spec, &mut Quiet);
                let mut pending = pend.lock().unwrap_or_else(|e| e.into_inner());
                match outcome {
                    Ok(_) => {
                        pending.remove(&id);
                    }
                    Err(EvalError::BadInput(why) | EvalError::Host(why)) => {
                        pending.insert(id, Pending::Refused(why));
                    }
                    Err(EvalError::Store(e)) => {
                        eprintln!("run {id}: {e}");
                        pending.insert(id, Pending::Refused("the database failed".into()));
                    }
                }
            }
        })?;
        let store = Mutex::new(Store::open(&config.database)?);
        Ok(Arc::new(AppState { config, registry, queue: tx, pending, store, exe }))
    }
}

#[derive(OpenApi)]
#[openapi(info(
    title = "mlhost",
    description = "Train and evaluate plugin models; read runs and results."
))]
struct ApiDoc;

/// The routes and the OpenAPI document that describes them, built together
/// so the document cannot drift from the router.
fn parts(state: &Arc<AppState>) -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(start_run))
        .routes(routes!(run_status))
        .routes(routes!(run_results))
        .routes(routes!(run_events))
        .routes(routes!(operation_metrics, record_operation_metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .nest("/api/ml", api)
        .split_for_parts()
}

/// The whole router.
pub fn app(state: Arc<AppState>) -> Router {
    let (router, doc) = parts(&state);
    let doc = Arc::new(doc);
    router
        .route("/api/openapi.json", axum::routing::get(move || async move { Json((*doc).clone()) }))
        .fallback(|| async { Problem::not_found("no such route") })
        .with_state(state)
}

async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.config.api.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "send `Authorization: Bearer <token>` with the configured token",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Service status and counts of ready and rejected models.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "status and model counts")))]
async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let ready = state.registry.ready().count();
    let rejected = state.registry.candidates.len() - ready;
    Json(json!({"status": "ok", "models": {"ready": ready, "rejected": rejected}}))
}

/// The registry report: every candidate, ready or rejected with a reason.
#[utoipa::path(get, path = "/models", responses((status = 200, description = "the registry report"), (status = 401, description = "token missing or wrong")))]
async fn models(State(state): State<Arc<AppState>>) -> Json<crate::registry::Report> {
    Json(state.registry.report())
}

/// `POST /api/ml/evaluations`, mirroring `mlhost eval`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EvalRequest {
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
    (status = 422, description = "unknown model or dataset, invalid params"),
    (status = 503, description = "the run queue is full; Retry-After"),
))]
async fn start_run(
    State(state): State<Arc<AppState>>,
    body: Result<Json<EvalRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", e.body_text())
    })?;
    let known = |id: &String| state.registry.candidates.iter().any(|c| &c.id == id);
    if let Some(unknown) = req.models.iter().flatten().find(|m| !known(m)) {
        return Err(Problem::invalid(
            "unknown-model",
            format!("unknown model '{unknown}'; GET /api/ml/models lists them"),
        ));
    }
    match crate::dataset::Source::parse(&req.dataset) {
        crate::dataset::Source::Builtin(name)
            if !crate::dataset::BUILTINS.iter().any(|(n, ..)| *n == name) =>
        {
            return Err(Problem::invalid(
                "unknown-dataset",
                format!("no built-in dataset '{name}'"),
            ));
        }
        crate::dataset::Source::File(p) if !p.is_file() => {
            return Err(Problem::invalid(
                "unknown-dataset",
                format!("dataset file '{}' not found on the server", p.display()),
            ));
        }
        _ => {}
    }
    let workers = req.workers.unwrap_or(state.config.eval.workers);
    if !(1..=256).contains(&workers) {
        return Err(Problem::invalid(
            "invalid-params",
            format!("workers must be between 1 and 256, got {workers}"),
        ));
    }
    let folds = req.folds.unwrap_or(state.config.eval.folds);
    if !(2..=100).contains(&folds) {
        return Err(Problem::invalid(
            "invalid-params",
            format!("folds must be between 2 and 100, got {folds}"),
        ));
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let spec = RunSpec {
        dataset: req.dataset,
        label: req.label,
        models: req.models.unwrap_or_default(),
        workers: workers as usize,
        protocol: Protocol::KFold { k: folds as usize },
        seed: req.seed,
        timeout: std::time::Duration::from_secs(state.config.eval.timeout_secs),
        task: None,
        pos_label: None,
        isolation: state.config.eval.isolation,
        quarantine_after: state.config.eval.quarantine_after,
        max_memory_mb: state.config.eval.max_memory_mb,
        workers_from: Some(WorkerSetup {
            exe: state.exe.clone(),
            snapshot_dir: crate::worker::snapshot_dir(&state.config.database),
        }),
        cancel: crate::pool::StopFlag::default(),
        run_id: Some(run_id.clone()),
        early_stopping: None,
    };
    state.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(run_id.clone(), Pending::Queued);
    match state.queue.try_send(spec) {
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
    (status = 200, description = "status and job counts"), (status = 404, description = "no such run"),
))]
async fn run_status(
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
        let mut counts: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for j in &jobs {
            *counts.entry(j.status.clone()).or_default() += 1;
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
    (status = 200, description = "metric records"), (status = 404, description = "no such run"),
))]
async fn run_results(
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
                "metrics": serde_json::from_str::<serde_json::Value>(&r.metrics_json).unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(json!({"runId": run.id, "status": run.status, "results": rows})))
}

/// The run's events as Server-Sent Events, from its first to
/// `run.completed`, live as they are written (`curl -N` works).
#[utoipa::path(get, path = "/evaluations/{id}/events", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, description = "text/event-stream of event envelopes"), (status = 404, description = "no such run"),
))]
async fn run_events(
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
                    .run_events(&id)
                    .unwrap_or_default();
                let seen = last;
                for e in events.into_iter().filter(|e| e.seq > seen) {
                    last = e.seq;
                    done |= e.event_type == "run.completed";
                    buf.push_back(
                        SseEvent::default()
                            .id(e.id.clone())
                            .event(e.event_type.clone())
                            .data(e.envelope().to_string()),
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

/// Trend thresholds in the query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TrendQuery {
    /// Epochs without improvement that make a plateau (default 5).
    patience: Option<u32>,
    /// Smallest improvement of validation loss that counts (default 0.001).
    min_delta: Option<f64>,
}

fn patience(q: &TrendQuery) -> Result<crate::trend::Patience, Problem> {
    let d = crate::trend::Patience::default();
    let p = crate::trend::Patience {
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
    (status = 200, description = "epochs and trend"), (status = 404, description = "no epochs recorded"),
))]
async fn operation_metrics(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<TrendQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    let axum::extract::Query(q) = query.map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", e.body_text())
    })?;
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
    let mut doc = crate::trend::report(&rows, p);
    doc["operationId"] = id.into();
    Ok(Json(doc))
}

/// Epochs reported by a trainer that runs elsewhere.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EpochsIn {
    epochs: Vec<EpochIn>,
}

/// One epoch: its number (from 1), the fold (default 0) and named values.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EpochIn {
    epoch: i64,
    #[serde(default)]
    fold: i64,
    metrics: std::collections::BTreeMap<String, f64>,
}

/// Records epochs for an operation; answers with the updated trend.
#[utoipa::path(post, path = "/operations/{id}/metrics", params(("id" = String, Path, description = "operation id")),
    request_body = EpochsIn, responses(
    (status = 201, description = "recorded; the trend"), (status = 400, description = "malformed JSON or unknown field"),
    (status = 422, description = "an epoch or value out of range"),
))]
async fn record_operation_metrics(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Json<EpochsIn>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(req) = body.map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", e.body_text())
    })?;
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
        rows.push(crate::store::EpochRow {
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
    let mut doc = crate::trend::report(&all, crate::trend::Patience::default());
    doc["operationId"] = id.into();
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// Binds `bind` and serves until Ctrl-C. Prints the address it listens on.
pub fn serve(config: Config, registry: Registry, bind: std::net::SocketAddr) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let relay = config.events.redis_url.clone().map(|url| {
        crate::events::Relay::spawn(
            config.database.clone(),
            crate::events::RelayConfig {
                redis_url: url,
                stream: config.events.stream.clone(),
                maxlen: config.events.maxlen,
            },
        )
    });
    let state = AppState::start(config, registry, exe)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("listening on http://{}", listener.local_addr()?);
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        anyhow::Ok(())
    })?;
    if let Some(r) = relay {
        r.finish();
    }
    Ok(())
}
