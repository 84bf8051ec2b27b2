//! `GET /api/ml/evaluations/{id}/fairness?column=COL` on the router, with
//! the real baseline plugin on a CSV from the server's data folder.

use axum::http::StatusCode;
use serde_json::json;

use super::confusion::finished_run;
use super::{call, test_app};

/// 60 rows: `x`, a group column `g` (20 rows of `a`, 40 of `b`) and a
/// binary label.
fn csv() -> String {
    let mut csv = String::from("x,g,y\n");
    for i in 0..60 {
        let g = if i < 20 { "a" } else { "b" };
        csv.push_str(&format!("{i},{g},{}\n", usize::from(i % 3 == 0)));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_fairness_of_a_run_its_refusals_and_its_schema() {
    let t = test_app("data_dirs = [\"../data\"]");
    let data = t._dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("groups.csv"), csv()).unwrap();
    let path = data.join("groups.csv").canonicalize().unwrap();
    let run_id = finished_run(&t, path.to_str().unwrap()).await;
    let uri = |q: &str| format!("/api/ml/evaluations/{run_id}/fairness{q}");
    let a = call(&t.app, "GET", &uri("?column=g"), None, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let doc = a.json();
    // Fields in the documented order, as `show --fairness-col --json`.
    let at = |key: &str| a.text.find(&format!("\"{key}\":")).unwrap();
    let order = ["runId", "column", "positiveLabel", "models", "modelId", "jobId", "groups"];
    let more = ["group", "rows", "selectionRate", "tpr", "fpr", "demographicParityDifference"];
    let keys: Vec<usize> = order
        .iter()
        .chain(&more)
        .chain(&["equalizedOddsDifference", "warnings"])
        .map(|k| at(k))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{}", a.text);
    assert_eq!(
        (&doc["runId"], &doc["column"], &doc["positiveLabel"]),
        (&json!(run_id), &json!("g"), &json!("1"))
    );
    let m = &doc["models"][0];
    assert_eq!(m["modelId"], "baseline");
    assert!(m["jobId"].is_string());
    let groups: Vec<(&str, u64)> = m["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].as_str().unwrap(), g["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, [("a", 20), ("b", 40)]);
    // The majority class (0) for every row: nobody selected, in any group.
    for g in m["groups"].as_array().unwrap() {
        assert_eq!(
            (&g["selectionRate"], &g["tpr"], &g["fpr"]),
            (&json!(0.0), &json!(0.0), &json!(0.0))
        );
    }
    assert_eq!(m["demographicParityDifference"], 0.0);
    assert_eq!(m["equalizedOddsDifference"], 0.0);
    assert_eq!(m["warnings"], json!([]));

    let a = call(&t.app, "GET", &uri("?column=nope"), None, None).await;
    a.assert_problem(422, "bad-column");
    assert!(
        a.json()["detail"].as_str().unwrap().contains("no column 'nope'; the columns are x, g, y")
    );
    call(&t.app, "GET", &uri(""), None, None).await.assert_problem(400, "bad-request");
    let a = call(&t.app, "GET", "/api/ml/evaluations/nope/fairness?column=g", None, None).await;
    a.assert_problem(404, "not-found");
    let iris = finished_run(&t, "builtin:iris").await;
    let a = call(
        &t.app,
        "GET",
        &format!("/api/ml/evaluations/{iris}/fairness?column=sepal_length"),
        None,
        None,
    )
    .await;
    a.assert_problem(422, "no-fairness");
    assert!(a.json()["detail"].as_str().unwrap().contains("it has 3 classes"), "{}", a.text);

    let a = call(&t.app, "GET", "/api/openapi.json", None, None).await;
    let spec = a.json();
    let op = &spec["paths"]["/api/ml/evaluations/{id}/fairness"]["get"];
    assert!(op["responses"]["200"].is_object() && op["responses"]["422"].is_object(), "{op}");
    assert_eq!(op["parameters"][1]["name"], "column");
    let schemas = &spec["components"]["schemas"];
    for name in ["FairnessReport", "ModelFairness", "GroupLine"] {
        assert!(schemas[name].is_object(), "no schema {name}");
    }
}
