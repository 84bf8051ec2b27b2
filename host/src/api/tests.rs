//! The router driven in process (`tower::ServiceExt::oneshot` on
//! [`app`]): no socket, a temp folder with the real baseline plugin. The
//! real-server tests are in `tests/it/api.rs`; these pin answers byte for
//! byte and check the OpenAPI document against the routes.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

mod compare;
mod confusion;
mod evaluations;
mod fairness;
mod openapi;
mod serving;
mod suggestions;
mod tuning;

/// A router over a temp folder with the baseline plugin; `api` goes into
/// the `[api]` table. The folder lives as long as this.
struct TestApp {
    _dir: tempfile::TempDir,
    app: Router,
    /// The database the router's runner writes.
    database: PathBuf,
}

fn test_app(api: &str) -> TestApp {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    let so = plugins.join("libbaseline.so");
    std::fs::copy(mlhost_tests::baseline_so(), &so).unwrap();
    std::fs::set_permissions(&so, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("config/mlhost.toml");
    std::fs::write(&path, format!("plugin_dirs = [\"../plugins\"]\n\n[api]\n{api}\n")).unwrap();
    let config = Config::load(&path).unwrap();
    let registry = Registry::discover_unprobed(&config).unwrap();
    let database = config.database.clone();
    // Thread isolation: the executable is never started.
    let state = AppState::start(config, registry, "/nonexistent/mlhost".into()).unwrap();
    TestApp { _dir: dir, app: app(state), database }
}

/// An answer: status, headers and the body as text.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
    /// Asserts a problem document of `status` and type `/problems/{slug}`.
    fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.header(header::CONTENT_TYPE), doc::PROBLEM_JSON);
        let body = self.json();
        assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    }
}

/// Sends one request (`body`: JSON) and reads the whole answer; a stream
/// that does not end within a minute fails the test instead of hanging it.
async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let read = axum::body::to_bytes(resp.into_body(), usize::MAX);
    let bytes =
        tokio::time::timeout(Duration::from_secs(60), read).await.expect("the body ends").unwrap();
    Answer { status, headers, text: String::from_utf8(bytes.to_vec()).unwrap() }
}

/// `(eventType, envelope)` of every event in a `text/event-stream` body.
fn sse_events(text: &str) -> Vec<(String, Value)> {
    let types = text.lines().filter_map(|l| l.strip_prefix("event: "));
    let data = text.lines().filter_map(|l| l.strip_prefix("data: "));
    types.zip(data).map(|(t, d)| (t.to_owned(), serde_json::from_str(d).unwrap())).collect()
}

#[tokio::test]
async fn router_health_and_models_answer_typed_bodies() {
    let t = test_app("");
    let a = call(&t.app, "GET", "/health", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text, r#"{"models":{"ready":1,"rejected":0},"status":"ok"}"#);
    let a = call(&t.app, "GET", "/api/ml/models", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    let report = a.json();
    assert_eq!(report["models"][0]["id"], "baseline");
    assert_eq!(report["models"][0]["state"], "ready");
    assert!(report["models"][0]["reason"].is_null(), "a ready model's reason is null: {report}");
    assert!(report["pluginApiVersion"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_post_evaluation_is_accepted_and_its_events_stream_to_the_end() {
    let t = test_app("");
    let body = json!({"dataset": "builtin:iris", "models": ["baseline"], "folds": 2});
    let a = call(&t.app, "POST", "/api/ml/evaluations", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let run_id = a.json()["runId"].as_str().unwrap().to_owned();
    assert_eq!(a.text, format!(r#"{{"runId":"{run_id}"}}"#));
    assert_eq!(a.header(header::LOCATION), format!("/api/ml/evaluations/{run_id}"));
    // Followed from whatever point the run is at: every event once, in
    // order, then the stream ends.
    let events =
        call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}/events"), None, None).await;
    assert_eq!(events.header(header::CONTENT_TYPE), "text/event-stream");
    let types: Vec<String> = sse_events(&events.text).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        types,
        ["run.started", "evaluation.started", "evaluation.completed", "run.completed"]
    );
    let a = call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}"), None, None).await;
    let status = a.json();
    assert_eq!(
        (status["status"].as_str(), status["jobs"]["total"].as_u64()),
        (Some("completed"), Some(1))
    );
    assert!(status["finishedAt"].is_string() && status["createdAt"].is_string(), "{status}");
    let a = call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}/results"), None, None).await;
    let results = a.json();
    assert_eq!(results["results"].as_array().unwrap().len(), 2 + 1, "{results}");
    assert_eq!(results["results"][0]["datasetId"], status["datasetId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_run_refused_before_it_started_ends_its_stream() {
    let t = test_app("");
    let body = json!({"dataset": "builtin:iris", "label": "no-such-column", "folds": 2});
    let a = call(&t.app, "POST", "/api/ml/evaluations", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let run_id = a.json()["runId"].as_str().unwrap().to_owned();
    let events =
        call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}/events"), None, None).await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(sse_events(&events.text), []);
    let a = call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}"), None, None).await;
    let status = a.json();
    assert_eq!(status["status"], "failed", "{status}");
    assert!(status["error"].as_str().unwrap().contains("no-such-column"), "{status}");
    assert_eq!(status.as_object().unwrap().len(), 3, "only runId, status and error: {status}");
}

#[tokio::test]
async fn router_an_unknown_model_is_a_422_problem() {
    let t = test_app("");
    let body = json!({"dataset": "builtin:iris", "models": ["ghost"]});
    let a = call(&t.app, "POST", "/api/ml/evaluations", None, Some(body)).await;
    a.assert_problem(422, "unknown-model");
    assert!(a.json()["detail"].as_str().unwrap().contains("'ghost'"));
}

#[tokio::test]
async fn router_an_unknown_run_is_a_404_problem() {
    let t = test_app("");
    for uri in [
        "/api/ml/evaluations/nope",
        "/api/ml/evaluations/nope/results",
        "/api/ml/evaluations/nope/events",
    ] {
        call(&t.app, "GET", uri, None, None).await.assert_problem(404, "not-found");
    }
    let a = call(&t.app, "GET", "/api/ml/evaluations/nope", None, None).await;
    assert_eq!(
        a.text,
        r#"{"detail":"no run 'nope'","status":404,"title":"Not found","type":"/problems/not-found"}"#
    );
}

#[tokio::test]
async fn router_with_a_token_every_route_but_health_needs_it() {
    let t = test_app("token = \"s3cret-token\"");
    for uri in [
        "/api/ml/models",
        "/api/ml/evaluations/x",
        "/api/ml/tuning/x",
        "/api/openapi.json",
        "/no/such/route",
    ] {
        let a = call(&t.app, "GET", uri, None, None).await;
        a.assert_problem(401, "unauthorized");
        assert_eq!(a.header(header::WWW_AUTHENTICATE), "Bearer", "{uri}");
        let a = call(&t.app, "GET", uri, Some("wrong"), None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let a = call(&t.app, "GET", "/api/ml/models", Some("s3cret-token"), None).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = call(&t.app, "GET", "/health", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn router_serves_the_openapi_document() {
    let t = test_app("");
    let a = call(&t.app, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = a.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(openapi::missing_bodies(&doc), Vec::<String>::new());
    assert!(doc["paths"]["/api/ml/evaluations/{id}/events"].is_object());
}

#[test]
fn only_the_exact_bearer_token_matches() {
    let t = "s3cret";
    assert!(bearer_matches(Some("Bearer s3cret"), t));
    assert!(bearer_matches(Some("bearer s3cret"), t));
    for bad in
        ["Bearer s3cre", "Bearer s3crett", "Bearer ", "Bearer", "Basic czNjcmV0", "s3cret", ""]
    {
        assert!(!bearer_matches(Some(bad), t), "{bad:?}");
    }
    assert!(!bearer_matches(None, t));
    assert!(!bearer_matches(Some("Bearer "), ""), "an empty token never matches");
}

#[test]
fn upload_ids_are_64_lowercase_hex_digits() {
    assert!(is_upload_id(&"ab12".repeat(16)));
    for bad in ["", "../etc/passwd", &"AB12".repeat(16), &"ab1".repeat(21), &"g".repeat(64)] {
        assert!(!is_upload_id(bad), "{bad:?}");
    }
    let mut traversal = "../".repeat(21);
    traversal.push('x');
    assert_eq!(traversal.len(), 64);
    assert!(!is_upload_id(&traversal));
}
