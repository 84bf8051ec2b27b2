//! `POST /api/ml/evaluations` with the `--cv` fields of `mlhost eval`, on
//! the router with the real baseline plugin and built-in data: what the
//! body says is what the stored spec and folds say, and a bad field is a
//! problem that names it.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, call, sse_events, test_app};
use crate::data::split::folds;
use crate::domain::{Protocol, RunSpec};
use crate::store::Store;

/// Posts `body`, follows the run's events to its end, and reads back the
/// stored spec and each fold's test rows.
async fn evaluate(t: &TestApp, body: Value) -> (RunSpec, Vec<Vec<u32>>) {
    let a = call(&t.app, "POST", "/api/ml/evaluations", None, Some(body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text);
    let run_id = a.json()["runId"].as_str().unwrap().to_owned();
    let events =
        call(&t.app, "GET", &format!("/api/ml/evaluations/{run_id}/events"), None, None).await;
    let last = sse_events(&events.text).pop().map(|(t, _)| t);
    assert_eq!(last.as_deref(), Some("run.completed"), "{}", events.text);
    let store = Store::open(&t.database).unwrap();
    let run = store.run(&run_id).unwrap().unwrap();
    let spec: RunSpec = serde_json::from_str(&run.spec_json).unwrap();
    let job = &store.jobs(&run_id).unwrap()[0];
    let tests = store.predictions(job.id.as_str()).unwrap().into_iter().map(|p| p.rows).collect();
    (spec, tests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_time_series_evaluation_takes_the_cv_fields_of_the_body() {
    let t = test_app("");
    // diabetes: 442 rows. Three splits of 50 test rows after a gap of 5,
    // training on at most the 100 rows before it (walk-forward).
    let body = json!({
        "dataset": "builtin:diabetes", "models": ["baseline"], "cv": "time-series",
        "folds": 3, "gap": 5, "testSize": 50, "maxTrainSize": 100,
    });
    let (spec, tests) = evaluate(&t, body).await;
    let want =
        Protocol::TimeSeries { k: 3, gap: 5, max_train_size: Some(100), test_size: Some(50) };
    assert_eq!(spec.protocol, want);
    let range = |a: u32, b: u32| (a..b).collect::<Vec<u32>>();
    assert_eq!(tests, [range(292, 342), range(342, 392), range(392, 442)]);
    // The stored protocol's training rows: the 100 ending 5 before each test.
    let y = vec![0.0; 442];
    let split = folds(spec.protocol, mlhost_plugin_api::Task::Regression, &y, None).unwrap();
    let trains: Vec<_> = split.into_iter().map(|f| f.train).collect();
    assert_eq!(trains, [range(187, 287), range(237, 337), range(287, 387)]);

    // GroupKFold over a column (sex: two groups), and repeated k-fold of
    // rows in the order of a column.
    let body = json!({
        "dataset": "builtin:diabetes", "models": ["baseline"], "cv": "group",
        "groupCol": "sex", "folds": 2,
    });
    let (spec, tests) = evaluate(&t, body).await;
    assert_eq!((spec.protocol, spec.group_col.as_deref()), (Protocol::Group { k: 2 }, Some("sex")));
    assert_eq!(tests.iter().map(Vec::len).sum::<usize>(), 442);
    let body = json!({
        "dataset": "builtin:iris", "models": ["baseline"], "cv": "kfold", "folds": 2,
        "repeats": 2, "shuffle": true, "timeCol": "sepal_length",
    });
    let (spec, tests) = evaluate(&t, body).await;
    let want = Protocol::KFold { k: 2, stratify: Some(false), repeats: 2, shuffle: true };
    assert_eq!((spec.protocol, tests.len()), (want, 4));
    assert_eq!(spec.time_col.as_deref(), Some("sepal_length"));
}

#[tokio::test]
async fn router_a_bad_cv_field_is_a_problem_naming_it() {
    let t = test_app("");
    let iris = |extra: Value| {
        let mut body = json!({"dataset": "builtin:iris", "models": ["baseline"]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (iris(json!({"cv": "kfold", "gap": 2})), 422, "gap does not apply to \"cv\": \"kfold\""),
        (iris(json!({"cv": "time-series", "testSize": 0.5})), 422, "testSize for \"cv\""),
        (iris(json!({"cv": "group"})), 422, "\"cv\": \"group\" needs groupCol"),
        (iris(json!({"groupCol": "species"})), 422, "groupCol is for \"cv\": \"group\""),
        (iris(json!({"holdout": 0.2, "folds": 3})), 422, "folds does not apply"),
        (iris(json!({"cv": "holdout", "testSize": 1.5})), 422, "testSize must be a fraction"),
        (iris(json!({"repeats": 0})), 422, "repeats must be between 1 and 100"),
        (iris(json!({"cv": "shuffle", "repeats": 2})), 422, "repeats does not apply"),
        (iris(json!({"cv": "sideways"})), 400, "cv: unknown variant `sideways`"),
        (iris(json!({"gap": -1})), 400, "gap: invalid value"),
        (iris(json!({"test_size": 0.2})), 400, "unknown field `test_size`"),
    ];
    for (body, status, named) in cases {
        let a = call(&t.app, "POST", "/api/ml/evaluations", None, Some(body.clone())).await;
        let slug = if status == 422 { "invalid-params" } else { "bad-request" };
        a.assert_problem(status, slug);
        let detail = a.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(named), "{body}: {detail}");
        assert!(!detail.contains("--"), "the body's fields, not the CLI's flags: {detail}");
    }
    assert_eq!(Store::open(&t.database).unwrap().runs().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_returns_and_fairness_columns_come_from_the_body() {
    let t = test_app("");
    // diabetes' `bmi` as a stand-in return column, `sex` as the attribute:
    // both read apart, so neither is a feature of the run.
    let body = json!({
        "dataset": "builtin:diabetes", "models": ["baseline"], "cv": "time-series", "folds": 3,
        "returnsCol": "bmi", "periodsPerYear": 12,
    });
    let (spec, _) = evaluate(&t, body).await;
    let r = spec.returns.unwrap();
    assert_eq!((r.col.as_str(), r.periods_per_year), ("bmi", 12.0));
    let bad = json!({"dataset": "builtin:diabetes", "periodsPerYear": 12});
    let p = call(&t.app, "POST", "/api/ml/evaluations", None, Some(bad)).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.text);
    assert!(p.json()["detail"].as_str().unwrap().contains("add returnsCol"), "{}", p.text);
}
