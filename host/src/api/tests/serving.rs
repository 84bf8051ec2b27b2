//! Serving on the router: versions and predictions of models trained with
//! the real logistic, linear and baseline plugins (and the misbehave
//! fixture, whose predict panics on a negative first value), the problem
//! of each kind of bad request, the fallback, the cache's pool and bound.

use std::sync::Arc;

use axum::Router;
use serde_json::{Value, json};

use super::super::{AppState, app};
use super::{Answer, call};
use crate::config::Config;
use crate::domain::{ModelRef, RunRequest};
use crate::registry::Registry;
use crate::service::models::{self, TrainRequest};
use crate::store::Store;
use crate::store::artifacts::Artifacts;

/// A router over a temp folder where `iris` (logistic), `iris-base`
/// (baseline), `diabetes` (linear) and `crashy` (misbehave,
/// panic-predict) are trained; `serving` goes into `[serving]`.
pub(super) struct ServingApp {
    _dir: tempfile::TempDir,
    pub(super) app: Router,
    pub(super) state: Arc<AppState>,
    pub(super) config: Config,
}

pub(super) fn serving_app(serving: &str) -> ServingApp {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    let sos = [
        ("liblogistic.so", mlhost_tests::plugin_so("logistic")),
        ("libbaseline.so", mlhost_tests::plugin_so("baseline")),
        ("liblinear.so", mlhost_tests::plugin_so("linear")),
        ("libmisbehave.so", mlhost_tests::fixture_so("misbehave")),
    ];
    for (name, so) in sos {
        let to = plugins.join(name);
        std::fs::copy(so, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = dir.path().join("config/mlhost.toml");
    // In process: the test binary cannot be a serve worker (tests/it runs
    // the real binary with process isolation).
    let toml =
        format!("plugin_dirs = [\"../plugins\"]\n\n[serving]\nisolation = \"thread\"\n{serving}\n");
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(&path).unwrap();
    let registry = Registry::discover_unprobed(&config).unwrap();
    let mut store = Store::open(&config.database).unwrap();
    let artifacts = Artifacts::new(&config.artifacts);
    let defaults = config.eval.run_defaults();
    let models = [
        ("iris", "logistic", "builtin:iris", None),
        ("iris-base", "baseline", "builtin:iris", None),
        ("diabetes", "linear", "builtin:diabetes", None),
        ("crashy", "misbehave", "builtin:iris", Some("panic-predict")),
    ];
    for (name, model, dataset, mode) in models {
        let req = TrainRequest {
            run: RunRequest { dataset: Some(dataset.into()), ..Default::default() },
            model: Some(model.into()),
            name: Some(name.into()),
            params: mode.map(|m| ("mode".to_owned(), m.to_owned())).into_iter().collect(),
            ..Default::default()
        };
        models::train(&registry, &mut store, &artifacts, &defaults, req).unwrap();
    }
    let state = AppState::start(config.clone(), registry, "/nonexistent/mlhost".into()).unwrap();
    ServingApp { _dir: dir, app: app(state.clone()), state, config }
}

impl ServingApp {
    async fn predict(&self, model: &str, body: Value) -> Answer {
        call(&self.app, "POST", &format!("/api/ml/models/{model}/predict"), None, Some(body)).await
    }

    /// Flips the last byte of `name`'s newest version's artifact; returns
    /// its path and its good bytes.
    fn corrupt(&self, name: &str) -> (std::path::PathBuf, Vec<u8>) {
        let store = Store::open(&self.config.database).unwrap();
        let v = store.versions(name).unwrap().remove(0);
        let path = self.config.artifacts.join(&v.artifact);
        let good = std::fs::read(&path).unwrap();
        let mut bytes = good.clone();
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, bytes).unwrap();
        (path, good)
    }
}

const SETOSA: [f64; 4] = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA: [f64; 4] = [6.7, 3.0, 5.2, 2.3];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_predicts_labels_with_probabilities_as_the_library_does() {
    let t = serving_app("");
    let a = t.predict("iris", json!({"rows": [SETOSA, VIRGINICA]})).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let body = a.json();
    assert_eq!(body["model"], "iris");
    assert_eq!(body["version"], 1);
    assert_eq!(body["fallback"], false);
    // The same rows through the library, with the model loaded anew.
    let (registry, store) = (t.state.registry(), Store::open(&t.config.database).unwrap());
    let artifacts = Artifacts::new(&t.config.artifacts);
    let r = ModelRef::Name("iris".into());
    let (_, p) = models::load(&registry, &store, &artifacts, &r).unwrap();
    let x: Vec<f64> = SETOSA.iter().chain(&VIRGINICA).copied().collect();
    let want = p.predict(&x, 2, true).unwrap();
    let labels: Vec<String> = want.values.iter().map(|&v| p.label(v)).collect();
    assert_eq!(labels, ["setosa", "virginica"]);
    assert_eq!(body["predictions"], json!(labels));
    let proba = want.proba.unwrap();
    for (i, row) in body["probabilities"].as_array().unwrap().iter().enumerate() {
        let names = ["setosa", "versicolor", "virginica"];
        let got: Vec<f64> = names.iter().map(|n| row[n].as_f64().unwrap()).collect();
        assert_eq!(got, proba[i * 3..i * 3 + 3], "row {i}: {row}");
    }
    // The other forms of the same request answer the same.
    let names = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
    let inst = |r: [f64; 4]| -> Value {
        let mut m: serde_json::Map<String, Value> =
            names.iter().zip(r).map(|(n, v)| ((*n).to_owned(), json!(v))).collect();
        m.insert("id".into(), json!("ignored"));
        Value::Object(m)
    };
    let a = t.predict("iris", json!({"instances": [inst(SETOSA), inst(VIRGINICA)]})).await;
    assert_eq!(a.json(), body, "instances");
    models::lifecycle::alias(&mut Store::open(&t.config.database).unwrap(), "iris", 1, "champion")
        .unwrap();
    for model in ["iris:1", "iris%3A1", "iris@champion", "iris%40champion"] {
        let a = t.predict(model, json!({"rows": [SETOSA, VIRGINICA]})).await;
        assert_eq!(a.json(), body, "{model}");
    }
    let batch = json!({"model": "iris@champion", "rows": [SETOSA, VIRGINICA]});
    let a = call(&t.app, "POST", "/api/ml/batch-predict", None, Some(batch)).await;
    assert_eq!(a.json(), body, "batch-predict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_regression_predicts_numbers_and_versions_show_the_lineage() {
    let t = serving_app("");
    let row = [0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018];
    let a = t.predict("diabetes", json!({"rows": [row]})).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let body = a.json();
    assert!(body["predictions"][0].is_f64(), "{body}");
    assert!(body["probabilities"].is_null(), "{body}");
    let a = call(&t.app, "GET", "/api/ml/models/iris/versions", None, None).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let v = &a.json()["versions"][0];
    assert_eq!((v["version"].as_i64(), v["stage"].as_str()), (Some(1), Some("development")));
    assert_eq!(v["plugin"], "logistic");
    assert!(v["datasetId"].is_string() && v["parentVersion"].is_null(), "{v}");
    assert_eq!(v["features"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(a.json()["name"], "iris");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_bad_requests_are_problems_naming_what_is_wrong() {
    let t = serving_app("");
    let rows = json!({"rows": [SETOSA]});
    let detail = |a: &Answer| a.json()["detail"].as_str().unwrap().to_owned();
    for model in ["ghost", "iris:7", "iris@nope"] {
        t.predict(model, rows.clone()).await.assert_problem(404, "not-found");
    }
    let a = call(&t.app, "GET", "/api/ml/models/ghost/versions", None, None).await;
    a.assert_problem(404, "not-found");
    let a = t.predict("iris:x", rows.clone()).await;
    a.assert_problem(400, "bad-request");
    let cases = [
        (json!({"rows": [[5.1, 3.5, 1.4]]}), "rows[0] has 3 values; the model takes 4"),
        (json!({"rows": [SETOSA, [5.1, "wide", 1.4, 0.2]]}), "rows[1][1] (column 'sepal_width')"),
        (
            json!({"instances": [{"sepal_length": 5.1}]}),
            "instances[0] has no feature 'sepal_width'",
        ),
        (json!({"rows": [SETOSA], "instances": []}), "exactly one of them"),
        (json!({"rows": []}), "no rows to predict"),
    ];
    for (body, want) in cases {
        let a = t.predict("iris", body).await;
        a.assert_problem(422, "invalid-input");
        assert!(detail(&a).starts_with(want) || detail(&a).contains(want), "{}", a.text);
    }
    let a = t.predict("iris", json!({"rows": [SETOSA], "extra": 1})).await;
    a.assert_problem(400, "bad-request");
    // Unavailable, and no fallback: 503 naming the artifact by its sha256
    // (a model not loaded yet: a loaded one keeps the bytes it checked).
    t.corrupt("diabetes");
    let a = t.predict("diabetes", json!({"rows": [vec![0.0; 10]]})).await;
    a.assert_problem(503, "model-unavailable");
    assert!(detail(&a).contains("does not match its checksum"), "{}", a.text);
    let dir = t.config.artifacts.display().to_string();
    assert!(!a.text.contains(&dir), "no server path: {}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_the_fallback_answers_for_an_unavailable_model() {
    let t = serving_app("fallback = \"iris-base\"");
    let rows = json!({"rows": [SETOSA, VIRGINICA]});
    let base = t.predict("iris-base", rows.clone()).await.json();
    assert_eq!(base["fallback"], false);
    t.corrupt("iris");
    let a = t.predict("iris", rows.clone()).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let body = a.json();
    assert_eq!(
        (body["model"].as_str(), body["fallback"].as_bool()),
        (Some("iris-base"), Some(true))
    );
    assert_eq!(body["predictions"], base["predictions"]);
    assert_eq!(body["probabilities"], base["probabilities"]);
    // Not for an unknown model, nor for bad input: those are the caller's.
    t.predict("ghost", rows).await.assert_problem(404, "not-found");
    let a = t.predict("iris-base", json!({"rows": [[1]]})).await;
    a.assert_problem(422, "invalid-input");
    // A fallback that cannot take the rows: 503 with both reasons.
    t.corrupt("diabetes");
    let a = t.predict("diabetes", json!({"rows": [vec![0.0; 10]]})).await;
    a.assert_problem(503, "model-unavailable");
    let detail = a.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("does not match its checksum"), "{detail}");
    let either = "the fallback model iris-base cannot answer either: rows[0] has 10 values";
    assert!(detail.contains(either), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_failed_load_is_remembered_until_the_plugins_change() {
    let t = serving_app("");
    let rows = json!({"rows": [vec![0.0; 10]]});
    let (path, good) = t.corrupt("diabetes");
    let a = t.predict("diabetes", rows.clone()).await;
    a.assert_problem(503, "model-unavailable");
    std::fs::write(path, good).unwrap();
    // The artifact is whole again, but the failure is remembered: the
    // artifact is not read (and hashed) again on every request.
    let a = t.predict("diabetes", rows.clone()).await;
    a.assert_problem(503, "model-unavailable");
    let detail = a.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("does not match its checksum"), "{detail}");
    assert!(detail.contains("s ago; tried again 10 s after a failure"), "{detail}");
    // New plugins (a hot reload) are a reason to try again at once.
    t.state.live.replace(Registry::discover_unprobed(&t.config).unwrap());
    let a = t.predict("diabetes", rows).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_a_panic_in_predict_is_a_503_for_that_model_only() {
    let t = serving_app("");
    let good = json!({"rows": [SETOSA]});
    let a = t.predict("crashy", good.clone()).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let a = t.predict("crashy", json!({"rows": [[-1.0, 3.5, 1.4, 0.2]]})).await;
    a.assert_problem(503, "model-unavailable");
    assert!(a.json()["detail"].as_str().unwrap().contains("panicked"), "{}", a.text);
    // The instance that panicked is gone; a fresh one answers, and so do
    // the other models.
    let a = t.predict("crashy", good.clone()).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    let a = t.predict("iris", good).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_concurrent_requests_share_a_pool_and_the_cache_is_bounded() {
    let t = serving_app("max_loaded = 2");
    let uri = "/api/ml/models/iris/predict";
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let app = t.app.clone();
            let body = json!({"rows": [SETOSA]});
            tokio::spawn(async move { call(&app, "POST", uri, None, Some(body)).await })
        })
        .collect();
    for c in calls {
        let a = c.await.unwrap();
        assert_eq!(a.json()["predictions"], json!(["setosa"]), "{}", a.text);
    }
    assert_eq!(t.state.serving.loads(), 1, "16 requests at once load iris once");
    let cores = std::thread::available_parallelism().map_or(1, usize::from).min(8);
    let loaded = t.state.serving.loaded();
    assert_eq!(loaded.len(), 1);
    assert!((1..=cores).contains(&loaded[0].2), "instances within the pool: {loaded:?}");
    for model in ["iris-base", "crashy"] {
        let a = t.predict(model, json!({"rows": [SETOSA]})).await;
        assert_eq!(a.status.as_u16(), 200, "{}", a.text);
    }
    let names: Vec<String> = t.state.serving.loaded().into_iter().map(|l| l.0).collect();
    assert_eq!(names, ["crashy", "iris-base"], "iris, least recently used, was let go");
}
