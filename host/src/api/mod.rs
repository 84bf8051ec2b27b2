//! The HTTP API (axum): the registry report, datasets, starting runs and
//! reading their status and results. `app(state)` builds the whole router
//! so tests can drive it; `serve` binds it (127.0.0.1 unless told otherwise).
//!
//! Handlers parse input into validated types at the edge and call the
//! library; every error is an RFC 7807 problem document ([`problem`]).
//! Runs and studies ([`tuning`]) started here go to one bounded queue
//! served by one runner thread, through the same `eval` and `tune` and
//! store as the CLI; a full queue answers 503 with Retry-After. What a
//! caller may name as a dataset is decided in [`datasets`], uploads are stored by [`uploads`]; every JSON body is capped at `[api] max_body_kb`, an
//! upload at `[api] max_upload_mb`. The bearer token, when configured,
//! guards every route but `/health`, is compared in constant time and is
//! never logged. Every answer's body is a typed DTO ([`dto`]) that the
//! OpenAPI document ([`doc`]) names; live events reach SSE clients through
//! a broadcast the runner's store feeds as it commits ([`events`]).

mod compare;
mod confusion;
mod datasets;
mod doc;
mod dto;
mod events;
mod fairness;
mod operations;
mod problem;
mod runner;
mod runs;
mod serving;
mod suggestions;
mod tuning;
mod uploads;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use datasets::{is_upload_id, uploads_dir};
pub use problem::Problem;

use crate::config::Config;
use crate::domain::{RunSpec, StudySpec};
use crate::registry::{LiveRegistry, Registry};
use crate::service::models::serving::Serving;
use crate::service::runs::RunContext;
use crate::store::{EventRow, Store};
use datasets::Resolved;
use dto::{Health, ModelCounts};
use runner::Runner;

/// How many events the broadcast to SSE clients holds for the slowest one;
/// a client further behind reads the store instead.
const EVENT_BUFFER: usize = 1024;

/// A run or study known only in memory: queued, or refused before it
/// started (a study that failed once stored keeps its reason here too).
#[derive(Debug, Clone)]
enum Pending {
    Queued,
    Refused(String),
}

/// What the runner thread runs.
#[derive(Debug)]
enum Work {
    /// An evaluation; its id is the context's `run_id`.
    Run(RunSpec),
    /// A study; its id is the context's `study_id`.
    Study(StudySpec),
}

/// Work waiting for the runner thread, with the dataset as it was checked.
#[derive(Debug)]
struct Queued {
    work: Work,
    ctx: RunContext,
    dataset: Resolved,
}

/// Ids of runs and of studies to what is known of them only in memory.
type PendingMap = Arc<Mutex<HashMap<String, Pending>>>;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    config: Config,
    /// Replaced by the plugin watcher; take it once per request.
    live: Arc<LiveRegistry>,
    /// Registered models, loaded on first use.
    serving: Serving,
    queue: SyncSender<Queued>,
    /// Runs by run id.
    pending: PendingMap,
    /// Studies by study id.
    studies: PendingMap,
    store: Mutex<Store>,
    exe: PathBuf,
    /// Where uploads are stored ([`uploads_dir`] of the database).
    uploads: PathBuf,
    /// Every event the runner commits, as it commits it (for SSE clients).
    events: broadcast::Sender<Arc<EventRow>>,
}

impl AppState {
    /// Opens the store and starts the runner thread that executes queued runs.
    pub fn start(
        config: Config,
        registry: Registry,
        exe: PathBuf,
    ) -> anyhow::Result<Arc<AppState>> {
        let live = Arc::new(LiveRegistry::new(registry));
        let serving = Serving::open(&config, exe.clone())?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Queued>(config.api.queue as usize);
        let (pending, studies): (PendingMap, PendingMap) = Default::default();
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let mut runner_store = Store::open(&config.database)?;
        let announce = events.clone();
        runner_store.on_commit(Box::new(move |rows| {
            for row in rows {
                // No subscriber is no error: nobody is following a run.
                let _ = announce.send(Arc::new(row.clone()));
            }
        }));
        for d in config.api.data_dirs.iter().filter(|d| !d.is_dir()) {
            tracing::warn!(dir = %d.display(), "[api] data_dirs entry is not a folder; paths in it are refused");
        }
        let runner = Runner {
            live: live.clone(),
            pending: pending.clone(),
            studies: studies.clone(),
            store: runner_store,
            data_dirs: config.api.data_dirs.clone(),
            refused: Default::default(),
        };
        std::thread::Builder::new().name("mlhost-runner".into()).spawn(move || runner.serve(rx))?;
        let store = Mutex::new(Store::open(&config.database)?);
        let uploads = uploads_dir(&config.database);
        Ok(Arc::new(AppState {
            config,
            live,
            serving,
            queue: tx,
            pending,
            studies,
            store,
            exe,
            uploads,
            events,
        }))
    }

    /// The registry now (a hot reload replaces it; keep the one you took).
    fn registry(&self) -> Arc<Registry> {
        self.live.current()
    }

    /// Queues `work` under `id` in `pending` (runs' or studies'); a full
    /// queue is a 503 with Retry-After and leaves nothing behind.
    fn enqueue(&self, pending: &PendingMap, id: &str, work: Queued) -> Result<(), Problem> {
        pending.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), Pending::Queued);
        match self.queue.try_send(work) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                pending.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "queue-full",
                    "Queue full",
                    format!("{} runs are waiting already; retry later", self.config.api.queue),
                );
                p.retry_after = Some(5);
                Err(p)
            }
            Err(TrySendError::Disconnected(_)) => Err(Problem::internal("runner gone")),
        }
    }
}

/// The routes and the OpenAPI document that describes them, built together
/// so the document cannot drift from the router.
fn parts(config: &Config) -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    let body_limit =
        usize::try_from(config.api.max_body_kb.saturating_mul(1024)).unwrap_or(usize::MAX);
    let api = OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(runs::start_run))
        .routes(routes!(runs::run_status))
        .routes(routes!(runs::run_results))
        .routes(routes!(compare::compare_run))
        .routes(routes!(confusion::run_confusion))
        .routes(routes!(fairness::run_fairness))
        .routes(routes!(tuning::start_study))
        .routes(routes!(tuning::study_report))
        .routes(routes!(suggestions::suggest))
        .routes(routes!(events::run_events))
        .routes(routes!(operations::operation_metrics, operations::record_operation_metrics))
        .routes(routes!(uploads::upload_dataset))
        .routes(routes!(uploads::get_dataset))
        .routes(routes!(serving::model_versions))
        .routes(routes!(serving::predict))
        .routes(routes!(serving::batch_predict))
        // JSON bodies; the upload streams its body and counts on its own.
        .layer(DefaultBodyLimit::max(body_limit));
    let (router, mut doc) = OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(routes!(health))
        .nest("/api/ml", api)
        .split_for_parts();
    doc::complete(&mut doc, config);
    (router, doc)
}

/// The OpenAPI document of the API as a server with `config` serves it at
/// `/api/openapi.json`.
pub fn openapi(config: &Config) -> utoipa::openapi::OpenApi {
    parts(config).1
}

/// The whole router.
pub fn app(state: Arc<AppState>) -> Router {
    let (router, doc) = parts(&state.config);
    let doc = Arc::new(doc);
    router
        .route("/api/openapi.json", axum::routing::get(move || async move { Json((*doc).clone()) }))
        .fallback(|| async { Problem::not_found("no such route") })
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// With a token configured, every request but `/health` needs it: the API
/// routes, the OpenAPI document and unknown paths alike (fail closed).
async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(token) = &state.config.api.token {
        let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if req.uri().path() != "/health" && !bearer_matches(given, token) {
            return Problem::unauthorized().into_response();
        }
    }
    next.run(req).await
}

/// Whether an `Authorization` value is `Bearer <token>` (the scheme in any
/// case); an empty token never matches.
fn bearer_matches(authorization: Option<&str>, token: &str) -> bool {
    let Some((scheme, given)) = authorization.and_then(|v| v.split_once(' ')) else {
        return false;
    };
    let given = given.trim_matches(' ');
    scheme.eq_ignore_ascii_case("bearer") && !given.is_empty() && constant_time_eq(given, token)
}

/// Compares sha256 digests of both sides without an early exit, so the time
/// taken says neither where the first difference is nor how long the token is.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    let diff = da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Service status and counts of ready and rejected models.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health, description = "status and model counts")))]
async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let registry = state.registry();
    let ready = registry.ready().count();
    let rejected = registry.candidates.len() - ready;
    Json(Health { models: ModelCounts { ready, rejected }, status: "ok" })
}

/// The registry report: every candidate, ready or rejected with a reason.
#[utoipa::path(get, path = "/models", responses((status = 200, body = crate::registry::Report, description = "the registry report"), (status = 401, description = "token missing or wrong")))]
async fn models(State(state): State<Arc<AppState>>) -> Json<crate::registry::Report> {
    Json(state.registry().report())
}

/// Binds `bind` and serves until Ctrl-C. Prints the address it listens on.
pub fn serve(config: Config, registry: Registry, bind: std::net::SocketAddr) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let relay = config.events.redis_url.clone().map(|url| {
        crate::service::relay::Relay::spawn(
            config.database.clone(),
            crate::service::relay::RelayConfig {
                redis_url: url,
                stream: config.events.stream.clone(),
                maxlen: config.events.maxlen,
            },
        )
    });
    let watched = config.clone();
    let state = AppState::start(config, registry, exe.clone())?;
    // Hot reload, for as long as the server runs.
    let _watch = crate::registry::watch::watch(watched, exe, state.live.clone())
        .map_err(|e| tracing::warn!(error = %e, "the plugin dirs are not watched: a new plugin needs a restart"))
        .ok();
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
