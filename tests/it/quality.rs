//! The reference plugins against scikit-learn on the same folds: the
//! default registry, `builtin:breast_cancer`, stratified 5-fold without
//! shuffling. The pinned values are scikit-learn 1.9's `cross_val_score`
//! means for the counterpart models (see README, "Reference plugins").

use mlhost_tests::{REFERENCE_PLUGINS, Sandbox, plugin_so, root};
use serde_json::Value;

fn default_registry_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    for p in REFERENCE_PLUGINS {
        sb.add_plugin(plugin_so(p), &format!("lib{p}.so"));
    }
    let models = std::fs::read_to_string(root().join("config/models.toml")).unwrap();
    sb.write("config/models.toml", &models);
    sb
}

fn eval(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["eval", "--json"];
    all.extend_from_slice(args);
    let out = sb.mlhost(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn mean(report: &Value, model: &str, metric: &str) -> f64 {
    let m = report["models"].as_array().unwrap().iter().find(|m| m["modelId"] == model).unwrap();
    assert_eq!(m["status"], "succeeded", "{model}: {m:#}");
    m["metrics"][metric].as_f64().unwrap()
}

#[test]
fn reference_plugins_match_scikit_learn_within_0_02() {
    let sb = default_registry_sandbox();
    let report = eval(&sb, &[]);
    // (candidate, scikit-learn counterpart's mean accuracy)
    let pins = [
        ("logistic", 0.9807),    // StandardScaler + LogisticRegression()
        ("naive-bayes", 0.9385), // GaussianNB()
        ("tree", 0.9174),        // DecisionTreeClassifier(random_state=0)
        ("knn", 0.9649),         // StandardScaler + KNeighborsClassifier(5)
        ("forest", 0.9631),      // RandomForestClassifier(100, random_state=0)
        ("gbdt", 0.9648),        // HistGradientBoostingClassifier()
        ("baseline", 0.6274),    // DummyClassifier()
    ];
    for (model, sklearn) in pins {
        let ours = mean(&report, model, "accuracy");
        assert!(
            (ours - sklearn).abs() <= 0.02,
            "{model}: accuracy {ours:.4}, scikit-learn {sklearn}"
        );
    }
    // The network learns: far above the baseline.
    assert!(mean(&report, "mlp", "accuracy") > 0.95);
    // The regression candidate is skipped on a classification dataset.
    assert!(report["models"].as_array().unwrap().iter().all(|m| m["modelId"] != "linear"));
    assert_eq!(report["models"].as_array().unwrap().len(), 8);

    // cross_val_score(LinearRegression(), diabetes, cv=KFold(5)).mean() == 0.4823
    let report = eval(&sb, &["--dataset", "builtin:diabetes", "--models", "linear"]);
    let r2 = mean(&report, "linear", "r2");
    assert!((r2 - 0.4823).abs() <= 0.02, "linear r2 {r2:.4}");
}

#[test]
fn the_host_scales_features_for_candidates_that_ask() {
    // `signal` decides the class; `noise` is a thousand times larger and
    // random. Unscaled, kNN's distances are all noise; standardized (on each
    // training fold), the signal decides.
    let sb = default_registry_sandbox();
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"raw\"\nplugin = \"knn\"\n\n[[model]]\nid = \"scaled\"\nplugin = \"knn\"\nscale = \"standard\"\n",
    );
    let mut csv = String::from("signal,noise,label\n");
    let mut state = 7u64;
    for i in 0..200 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let noise = (state >> 33) as f64 / f64::from(u32::MAX) * 2000.0;
        let class = i % 2;
        csv += &format!(
            "{},{noise},{}\n",
            f64::from(class) + f64::from(i % 7) * 0.01,
            ["a", "b"][class as usize]
        );
    }
    sb.write("d.csv", &csv);
    let report = eval(&sb, &["--dataset", "d.csv", "--models", "raw,scaled"]);
    let (raw, scaled) = (mean(&report, "raw", "accuracy"), mean(&report, "scaled", "accuracy"));
    assert!(scaled > 0.95, "scaled kNN: {scaled}");
    assert!(raw < 0.75, "unscaled kNN should be lost in the noise: {raw}");
}

#[test]
fn early_stop_from_the_host_reaches_the_mlp() {
    // A 1 s timeout on a long training: the mlp sees should_stop between
    // epochs and the job is timed out rather than hanging.
    let sb = default_registry_sandbox();
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"long\"\nplugin = \"mlp\"\nparams = { epochs = 100000 }\nscale = \"standard\"\n",
    );
    let report = eval(&sb, &["--models", "long", "--timeout-secs", "1"]);
    let m = &report["models"][0];
    assert_eq!(m["status"], "timed_out", "{m:#}");
}
