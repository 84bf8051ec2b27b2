//! Uploads end to end: stored content-addressed, run by `dataset:ID`, never
//! shown by where they are stored; and one run over a real socket.

use std::time::{Duration, Instant};

use axum::Router;
use serde_json::{Value, json};

use super::{
    EVALS, Fixture, TOKEN, WATCHDOG, assert_leaks_nothing, authed, bearer, health_answers, iris,
    request, send,
};

/// Polls a run until it leaves queued/running.
async fn finished(app: &Router, run_id: &str) -> Value {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let a = authed(app, "GET", &format!("{EVALS}/{run_id}"), None).await;
        assert_eq!(a.status, 200, "{}", a.text);
        let st = a.json();
        if !matches!(st["status"].as_str(), Some("queued" | "running")) {
            return st;
        }
        assert!(Instant::now() < deadline, "run {run_id} did not finish: {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_dataset_runs_and_never_shows_where_it_is_stored() {
    let f = Fixture::new("data_dirs = [\"../data\"]");
    let up = |body: &str| {
        request(
            "POST",
            "/api/ml/datasets?label=species",
            bearer().as_deref(),
            Some("text/plain"),
            body.as_bytes().to_vec(),
            false,
        )
    };
    let a = send(&f.app, up(iris())).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let stored = a.json();
    let id = stored["datasetId"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );
    assert_eq!(stored["dataset"], format!("dataset:{id}"));
    assert_eq!(
        (stored["rows"].as_u64(), stored["columns"].as_array().map(Vec::len)),
        (Some(150), Some(5))
    );
    assert_eq!(stored["columns"][4], "species");
    assert_eq!(a.location.as_deref(), Some(format!("/api/ml/datasets/{id}").as_str()));
    assert_leaks_nothing(&f, "upload", &a);
    // Content-addressed: the same bytes, the same id, one file.
    let again = send(&f.app, up(iris())).await;
    assert_eq!((again.status, again.json()["datasetId"].as_str()), (201, Some(id.as_str())));
    let files: Vec<String> = std::fs::read_dir(f.uploads())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, [format!("{id}.csv")]);
    assert_eq!(std::fs::read_to_string(f.uploads().join(format!("{id}.csv"))).unwrap(), iris());
    let a = authed(&f.app, "GET", &format!("/api/ml/datasets/{id}"), None).await;
    assert_eq!(
        (a.status, a.json()["bytes"].as_u64()),
        (200, Some(iris().len() as u64)),
        "{}",
        a.text
    );

    let a = authed(
        &f.app,
        "POST",
        EVALS,
        Some(json!({"dataset": format!("dataset:{id}"), "models": ["baseline"], "folds": 3})),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let run_id = a.json()["runId"].as_str().unwrap().to_owned();
    let st = finished(&f.app, &run_id).await;
    assert_eq!(st["status"], "completed", "{st}");
    assert_eq!(st["jobs"]["byStatus"]["succeeded"], 1, "{st}");
    let a = authed(&f.app, "GET", &format!("{EVALS}/{run_id}/results"), None).await;
    assert_eq!(a.json()["results"].as_array().map(Vec::len), Some(3 + 1), "{}", a.text);
    // The event stream names the upload as the caller knows it.
    let a = authed(&f.app, "GET", &format!("{EVALS}/{run_id}/events"), None).await;
    assert!(a.text.contains(&format!("\"dataset\":\"dataset:{id}\"")), "{}", a.text);
    assert_leaks_nothing(&f, "events", &a);

    // A refused run names it that way too.
    let a = authed(
        &f.app,
        "POST",
        EVALS,
        Some(json!({"dataset": format!("dataset:{id}"), "label": "nope"})),
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let st = finished(&f.app, a.json()["runId"].as_str().unwrap()).await;
    assert_eq!(st["status"], "failed", "{st}");
    let error = st["error"].as_str().unwrap();
    assert!(error.starts_with(&format!("dataset:{id}: no label column 'nope'")), "{error}");
    assert!(!error.contains(&f.uploads().display().to_string()), "{error}");
    health_answers(&f.app, "the runs").await;
}

/// (status, body) of any answer.
fn call(req: ureq::Request, body: Option<(&str, &[u8])>) -> (u16, Value) {
    let result = match body {
        Some((ctype, b)) => req.set("Content-Type", ctype).send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    (status, serde_json::from_str(&resp.into_string().unwrap()).unwrap_or(Value::Null))
}

#[test]
fn over_a_real_socket_uploads_run_and_hostile_paths_are_refused() {
    let f = Fixture::new("data_dirs = [\"../data\"]");
    let s = f.sb.serve(&[]);
    assert!(s.url.starts_with("http://127.0.0.1:"), "{}", s.url);
    let auth = format!("Bearer {TOKEN}");
    let post = |path: &str, ctype: &str, body: &[u8]| {
        call(
            ureq::post(&format!("{}{path}", s.url)).set("Authorization", &auth),
            Some((ctype, body)),
        )
    };
    let (code, stored) = post("/api/ml/datasets", "text/csv", iris().as_bytes());
    assert_eq!(code, 201, "{stored}");
    let dataset = stored["dataset"].as_str().unwrap();
    let (code, started) = post(
        EVALS,
        "application/json",
        json!({"dataset": dataset, "models": ["baseline"], "folds": 2}).to_string().as_bytes(),
    );
    assert_eq!(code, 202, "{started}");
    let run = format!("{}{EVALS}/{}", s.url, started["runId"].as_str().unwrap());
    let deadline = Instant::now() + WATCHDOG;
    let status = loop {
        let (code, st) = call(ureq::get(&run).set("Authorization", &auth), None);
        assert_eq!(code, 200, "{st}");
        if st["status"] == "completed" || st["status"] == "failed" || Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status["status"], "completed", "{status}");

    let (code, passwd) = post(EVALS, "application/json", br#"{"dataset": "/etc/passwd"}"#);
    let (code2, missing) = post(EVALS, "application/json", br#"{"dataset": "/no/such/file"}"#);
    assert_eq!((code, code2), (403, 403), "{passwd} {missing}");
    assert_eq!(passwd, missing);
    assert!(!passwd.to_string().contains("root:"), "{passwd}");
    let big = json!({"dataset": "builtin:iris", "label": "x".repeat(4096)}).to_string();
    let (code, body) = post(EVALS, "application/json", big.as_bytes());
    assert_eq!(code, 413, "{body}");
    let (code, _) = call(ureq::get(&format!("{}/api/ml/models", s.url)), None);
    assert_eq!(code, 401);
    let (code, health) = call(ureq::get(&format!("{}/health", s.url)), None);
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));
}
