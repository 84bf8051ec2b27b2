//! `GET /api/ml/evaluations/{id}/confusion` on the router, with the real
//! baseline plugin on built-in data.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;

use super::{TestApp, call, test_app};

/// Starts a baseline run on `dataset` and waits until it has ended.
pub(super) async fn finished_run(t: &TestApp, dataset: &str) -> String {
    let body = json!({"dataset": dataset, "models": ["baseline"], "folds": 3});
    let a = call(&t.app, "POST", "/api/ml/evaluations", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let run_id = a.json()["runId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}"), None, None).await;
        if a.status == StatusCode::OK && a.json()["status"] == "completed" {
            return run_id;
        }
        assert!(Instant::now() < deadline, "the run did not end: {}", a.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_confusion_of_a_run_its_refusals_and_its_schema() {
    let t = test_app("");
    let run_id = finished_run(&t, "builtin:iris").await;
    let a =
        call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}/confusion"), None, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let doc = a.json();
    assert_eq!(doc["runId"], run_id.as_str());
    let m = &doc["models"][0];
    assert_eq!(m["modelId"], "baseline");
    assert_eq!(m["labels"], json!(["setosa", "versicolor", "virginica"]));
    let total: u64 = m["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 150);
    let support: Vec<u64> =
        m["perClass"].as_array().unwrap().iter().map(|c| c["support"].as_u64().unwrap()).collect();
    assert_eq!(support, [50, 50, 50]);
    assert!(m["brier"].is_f64() && m["reliability"].is_array(), "{m}");

    let a = call(&t.app, "GET", "/api/ml/evaluations/nope/confusion", None, None).await;
    a.assert_problem(404, "not-found");
    let regression = finished_run(&t, "builtin:diabetes").await;
    let uri = format!("/api/ml/evaluations/{regression}/confusion");
    let a = call(&t.app, "GET", &uri, None, None).await;
    a.assert_problem(422, "no-confusion");
    assert!(a.json()["detail"].as_str().unwrap().starts_with("no confusion matrix for regression"));

    let a = call(&t.app, "GET", "/api/openapi.json", None, None).await;
    let spec = a.json();
    let op = &spec["paths"]["/api/ml/evaluations/{id}/confusion"]["get"];
    assert!(op["responses"]["200"].is_object() && op["responses"]["422"].is_object(), "{op}");
    assert!(spec["components"]["schemas"]["ConfusionReport"].is_object());
}
