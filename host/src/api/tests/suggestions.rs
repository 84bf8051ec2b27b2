//! `POST /api/ml/suggestions` on the router: the real baseline plugin
//! backs the reference and two tuned candidates (its `smoothing` moves the
//! log loss), and a third whose every parameter models.toml fixes.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, call, test_app};
use crate::config::Config;
use crate::registry::Registry;
use crate::store::Store;

const MODELS: &str = r#"
[[model]]
id = "baseline"
plugin = "baseline"

[[model]]
id = "coarse"
plugin = "baseline"
params = { statistic = "median" }

[[model]]
id = "smooth"
plugin = "baseline"

[[model]]
id = "fixed"
plugin = "baseline"
params = { smoothing = 1.0, statistic = "mean" }
"#;

/// [`test_app`] with [`MODELS`] as its registry.
fn app_with_models() -> TestApp {
    let t = test_app("");
    let dir = t.database.parent().unwrap().to_owned();
    std::fs::write(dir.join("config/models.toml"), MODELS).unwrap();
    let config = Config::load(&dir.join("config/mlhost.toml")).unwrap();
    let registry = Registry::discover_unprobed(&config).unwrap();
    let state =
        super::super::AppState::start(config, registry, "/nonexistent/mlhost".into()).unwrap();
    TestApp { app: super::super::app(state), ..t }
}

fn values(report: &Value, role: &str) -> Vec<(String, f64)> {
    report["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == role)
        .map(|s| (s["model"].as_str().unwrap().to_owned(), s["bestValue"].as_f64().unwrap()))
        .collect()
}

/// One test: a second search at once would get 503 (one slot per process).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_suggestion_races_the_candidates_and_answers_the_report() {
    let t = app_with_models();
    let body = json!({
        "dataset": "builtin:breast_cancer", "metric": "log_loss", "budgetSecs": 30, "trials": 2,
        "folds": 3, "seed": 1, "gates": ["log_loss<=0.1", "accuracy>=0.5"], "register": true,
    });
    let a = call(&t.app, "POST", "/api/ml/suggestions", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let r = a.json();
    assert_eq!(
        (r["metric"].as_str(), r["direction"].as_str()),
        (Some("log_loss"), Some("minimize"))
    );
    assert_eq!(r["status"], "completed", "{r}");
    let tuned = values(&r, "tuned");
    let mut names: Vec<&str> = tuned.iter().map(|(m, _)| m.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["coarse", "smooth"], "{r}");
    assert_eq!(values(&r, "reference").len(), 1, "{r}");
    assert_eq!(r["skipped"][0]["model"], "fixed", "{r}");
    assert!(r["skipped"][0]["reason"].as_str().unwrap().contains("no parameter left to search"));
    // Two candidates: one rung, the better one kept and the winner.
    let rungs = r["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 1, "{r}");
    assert_eq!(rungs[0]["models"].as_array().unwrap().len(), 2);
    let winner = r["winner"]["model"].as_str().unwrap();
    assert_eq!(rungs[0]["kept"], json!([winner]));
    let best = tuned.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
    assert_eq!(r["winner"]["value"].as_f64(), Some(best), "{r}");
    // Gates: one fails, one passes; the paragraph names the winner and the failure.
    let gates = r["gates"].as_array().unwrap();
    assert_eq!(gates[0]["passed"], false);
    assert_eq!(gates[1]["passed"], true);
    let text = r["recommendation"].as_str().unwrap();
    assert!(text.starts_with(&format!("Use {winner}:")), "{text}");
    assert!(text.contains("It fails --gate log_loss<=0.1 (log_loss = "), "{text}");
    // Registered from the winner's study.
    assert_eq!(r["registered"]["name"], "automl-breast_cancer", "{r}");
    let store = Store::open(&t.database).unwrap();
    let v = store.versions("automl-breast_cancer").unwrap();
    assert_eq!(v[0].source_study.as_deref(), r["winner"]["studyId"].as_str());
    assert!(store.study(r["winner"]["studyId"].as_str().unwrap()).unwrap().is_some());
    refusals(&t).await;
}

/// Bad input is a problem document naming the body's fields.
async fn refusals(t: &TestApp) {
    let post = |body: Value| call(&t.app, "POST", "/api/ml/suggestions", None, Some(body));
    let a = post(json!({"dataset": "builtin:iris", "budgetSecs": 301})).await;
    a.assert_problem(422, "invalid-params");
    assert!(a.json()["detail"].as_str().unwrap().contains("(300)"), "{}", a.text);
    let a = post(json!({"dataset": "builtin:iris", "gates": ["f1=0.9"]})).await;
    a.assert_problem(422, "invalid-params");
    assert!(a.json()["detail"].as_str().unwrap().starts_with("gates: f1=0.9"), "{}", a.text);
    let a = post(json!({"dataset": "builtin:iris", "metric": "nope"})).await;
    a.assert_problem(422, "invalid-params");
    assert!(a.json()["detail"].as_str().unwrap().starts_with("metric nope:"), "{}", a.text);
    let a = post(json!({"dataset": "builtin:iris", "models": ["ghost"]})).await;
    a.assert_problem(422, "invalid-params");
    let a = post(json!({"dataset": "builtin:iris", "budget": 3})).await;
    a.assert_problem(400, "bad-request");
    let a = post(json!({"dataset": "builtin:nope"})).await;
    a.assert_problem(422, "unknown-dataset");
    // Only the baseline: nothing to tune.
    let only = test_app("");
    let a = call(
        &only.app,
        "POST",
        "/api/ml/suggestions",
        None,
        Some(json!({"dataset": "builtin:iris"})),
    )
    .await;
    a.assert_problem(422, "invalid-params");
    assert!(a.json()["detail"].as_str().unwrap().contains("no candidate to tune"), "{}", a.text);
}

#[test]
fn the_document_names_the_suggestion_request_and_report() {
    let config = Config::parse("/srv/mlhost/config/mlhost.toml".as_ref(), "").unwrap();
    let doc = serde_json::to_value(super::super::openapi(&config)).unwrap();
    let op = &doc["paths"]["/api/ml/suggestions"]["post"];
    let body = &op["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/SuggestionRequest");
    let ok = &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(ok, "#/components/schemas/AutomlReport");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for field in ["leaderboard", "winner", "registered", "recommendation", "gates", "rungs"] {
        assert!(schemas["AutomlReport"]["properties"][field].is_object(), "no {field}");
    }
}
