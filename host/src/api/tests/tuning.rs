//! `POST /api/ml/tuning` and `GET /api/ml/tuning/{id}` on the router, with
//! the real baseline plugin (`smoothing`: a float in 0..1e6, `statistic`:
//! a choice) on built-in data.

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use super::{TestApp, call, test_app};
use crate::store::Store;

/// Polls the study at `uri` until it is neither queued nor running.
async fn until_ended(t: &TestApp, uri: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = call(&t.app, "GET", uri, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let study = a.json();
        if !["queued", "running"].contains(&study["status"].as_str().unwrap()) {
            return study;
        }
        assert!(Instant::now() < deadline, "the study did not end: {study}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Studies and runs in the router's database.
fn stored(t: &TestApp) -> (usize, usize) {
    let store = Store::open(&t.database).unwrap();
    (store.studies().unwrap().len(), store.runs().unwrap().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_grid_study_is_accepted_and_reports_its_trials_and_best() {
    let t = test_app("");
    let body = json!({
        "dataset": "builtin:wine", "model": "baseline", "strategy": "grid", "folds": 2,
        "params": {"smoothing": "0,100,10000", "statistic": "mean"}, "metric": "log_loss", "seed": 3,
    });
    let a = call(&t.app, "POST", "/api/ml/tuning", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let study_id = a.json()["studyId"].as_str().unwrap().to_owned();
    assert_eq!(a.text, format!(r#"{{"studyId":"{study_id}"}}"#));
    let uri = format!("/api/ml/tuning/{study_id}");
    assert_eq!(a.header(header::LOCATION), uri);

    let study = until_ended(&t, &uri).await;
    assert_eq!(study["status"], "completed", "{study}");
    assert_eq!(study["studyId"], study_id.as_str());
    assert_eq!(
        (study["model"].as_str(), study["strategy"].as_str()),
        (Some("baseline"), Some("grid"))
    );
    assert_eq!(
        (study["metric"].as_str(), study["direction"].as_str()),
        (Some("log_loss"), Some("minimize"))
    );
    assert!(study.get("error").is_none(), "{study}");
    let trials = study["trials"].as_array().unwrap();
    let smoothing: Vec<f64> =
        trials.iter().map(|t| t["params"]["smoothing"].as_f64().unwrap()).collect();
    assert_eq!(smoothing, [0.0, 100.0, 10000.0], "the grid's order: {study}");
    for (n, trial) in trials.iter().enumerate() {
        assert_eq!(trial["trial"], n);
        assert_eq!(trial["state"], "complete", "{trial}");
        assert!(trial["value"].is_number() && trial["metrics"]["accuracy"].is_number(), "{trial}");
    }
    let best = &study["best"];
    let values: Vec<f64> = trials.iter().map(|t| t["value"].as_f64().unwrap()).collect();
    let lowest = values.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(best["value"].as_f64(), Some(lowest), "{study}");
    assert_eq!(best["params"], trials[best["trial"].as_u64().unwrap() as usize]["params"]);
    // The study's run is a run like any other.
    let run = call(
        &t.app,
        "GET",
        &format!("/api/ml/evaluations/{}", study["runId"].as_str().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(run.json()["jobs"]["total"], 3, "{}", run.text);
    // A study is read by its run's id too.
    let by_run = format!("/api/ml/tuning/{}", study["runId"].as_str().unwrap());
    assert_eq!(call(&t.app, "GET", &by_run, None, None).await.json()["studyId"], study_id.as_str());
}

#[tokio::test]
async fn router_bad_studies_are_4xx_problems_and_store_nothing() {
    let t = test_app("max_body_kb = 4");
    let iris = |extra: Value| {
        let mut body = json!({"dataset": "builtin:iris", "model": "baseline"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (iris(json!({"params": {"ghost": "1,2"}})), 422, "invalid-params", "params.ghost"),
        (
            iris(json!({"params": {"smoothing": "5..1"}})),
            422,
            "invalid-params",
            "params.smoothing=5..1",
        ),
        (iris(json!({"params": {"statistic": "mode"}})), 422, "invalid-params", "\"mode\""),
        (iris(json!({"trials": 0})), 422, "invalid-params", "trials 0"),
        (iris(json!({"strategy": "grid"})), 422, "invalid-params", "'smoothing'"),
        (iris(json!({"task": "classification", "metric": "r2"})), 422, "invalid-params", "'r2'"),
        (iris(json!({"metric": "nope"})), 422, "invalid-params", "'nope'"),
        (iris(json!({"metric": "f1", "metrics": ["f1"]})), 422, "invalid-params", "not both"),
        (
            iris(json!({"metrics": ["f1", "accuracy"], "directions": ["maximize"]})),
            422,
            "invalid-params",
            "2 metrics and 1 directions",
        ),
        (iris(json!({"model": "ghost"})), 422, "unknown-model", "'ghost'"),
        (iris(json!({"dataset": "builtin:mnist"})), 422, "unknown-dataset", "mnist"),
        (iris(json!({"dataset": "/etc/passwd"})), 403, "dataset-forbidden", "data_dirs"),
        (iris(json!({"strategy": "annealing"})), 400, "bad-request", "annealing"),
        (iris(json!({"trails": 5})), 400, "bad-request", "trails"),
        (json!({"dataset": "builtin:iris"}), 400, "bad-request", "model"),
        (iris(json!({"label": "x".repeat(5000)})), 413, "payload-too-large", "4 KB"),
    ];
    for (body, status, slug, named) in cases {
        let a = call(&t.app, "POST", "/api/ml/tuning", None, Some(body.clone())).await;
        a.assert_problem(status, slug);
        let detail = a.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(named), "{body}: {detail}");
        if slug == "invalid-params" {
            assert!(!detail.contains("--"), "the body's fields, not the CLI's flags: {detail}");
        }
    }
    assert_eq!(stored(&t), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_study_refused_when_it_reads_the_data_is_failed_with_the_reason() {
    let t = test_app("");
    // Whether iris has r2 is known once it is read: after the 202.
    let body = json!({"dataset": "builtin:iris", "model": "baseline", "metric": "r2"});
    let a = call(&t.app, "POST", "/api/ml/tuning", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let study_id = a.json()["studyId"].as_str().unwrap().to_owned();
    let study = until_ended(&t, &format!("/api/ml/tuning/{study_id}")).await;
    assert_eq!(study["status"], "failed", "{study}");
    assert_eq!(study["studyId"], study_id.as_str());
    let error = study["error"].as_str().unwrap();
    assert!(
        error.starts_with("metric r2: builtin:iris (classification) has no metric 'r2'"),
        "{error}"
    );
    assert_eq!(study.as_object().unwrap().len(), 3, "only studyId, status and error: {study}");
    assert_eq!(stored(&t), (0, 0));
}

#[tokio::test]
async fn router_an_unknown_study_is_a_404_problem() {
    let t = test_app("");
    let a = call(&t.app, "GET", "/api/ml/tuning/nope", None, None).await;
    a.assert_problem(404, "not-found");
    assert_eq!(
        a.text,
        r#"{"detail":"no study 'nope'","status":404,"title":"Not found","type":"/problems/not-found"}"#
    );
}

#[tokio::test]
async fn router_the_openapi_document_lists_the_tuning_routes() {
    let t = test_app("");
    let doc = call(&t.app, "GET", "/api/openapi.json", None, None).await.json();
    let post = &doc["paths"]["/api/ml/tuning"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TuneRequest"
    );
    assert_eq!(
        post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StudyAccepted"
    );
    let get = &doc["paths"]["/api/ml/tuning/{id}"]["get"];
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StudyState"
    );
    assert!(get["responses"]["404"].is_object(), "{get}");
    let request = &doc["components"]["schemas"]["TuneRequest"];
    assert_eq!(request["required"], json!(["dataset", "model"]), "{request}");
    let strategy = &doc["components"]["schemas"]["StrategyName"]["enum"];
    assert_eq!(*strategy, json!(["grid", "random", "tpe"]));
}
