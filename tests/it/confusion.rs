//! `mlhost show RUN --confusion`: real plugins on built-in data, the
//! matrices and per-class numbers checked against the run's own metrics,
//! and the runs it refuses.

use mlhost_tests::{Sandbox, plugin_so, root};
use serde_json::Value;

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    for p in ["logistic", "naive-bayes", "linear"] {
        sb.add_plugin(plugin_so(p), &format!("lib{p}.so"));
    }
    sb
}

/// `mlhost ARGS --json`, which must succeed.
fn json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = sb.mlhost(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `models` on `dataset`: the run's `show --json` and `show --confusion --json`.
fn run(sb: &Sandbox, dataset: &str, models: &str) -> (Value, Value) {
    let report = json(sb, &["eval", "--dataset", dataset, "--models", models]);
    let id = report["runId"].as_str().unwrap();
    (json(sb, &["show", id]), json(sb, &["show", id, "--confusion"]))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The diagnostics of `model` and its mean metrics in `show`.
fn model<'a>(show: &'a Value, confusion: &'a Value, model: &str) -> (&'a Value, &'a Value) {
    let find = |doc: &'a Value| {
        doc["models"].as_array().unwrap().iter().find(|m| m["modelId"] == model).unwrap()
    };
    let (shown, diag) = (find(show), find(confusion));
    assert_eq!(shown["jobId"], diag["jobId"]);
    (&shown["metrics"], diag)
}

/// Matrix total, its diagonal, and the per-class rows.
fn counts(m: &Value) -> (u64, u64, &Vec<Value>) {
    let rows: Vec<Vec<u64>> = serde_json::from_value(m["matrix"].clone()).unwrap();
    let total = rows.iter().flatten().sum();
    let diagonal = (0..rows.len()).map(|i| rows[i][i]).sum();
    (total, diagonal, m["perClass"].as_array().unwrap())
}

/// Iris, stratified 5-fold unshuffled: every fold holds 10 rows of each
/// class, so pooled accuracy and macro recall equal the run's fold means.
#[test]
fn iris_matrices_agree_with_the_runs_own_metrics() {
    let sb = sandbox();
    let (show, confusion) = run(&sb, "builtin:iris", "logistic,naive-bayes");
    assert_eq!(confusion["runId"], show["runId"]);
    assert_eq!(confusion["models"].as_array().unwrap().len(), 2);
    for name in ["logistic", "naive-bayes"] {
        let (metrics, m) = model(&show, &confusion, name);
        assert_eq!(m["labels"], serde_json::json!(["setosa", "versicolor", "virginica"]));
        let (total, diagonal, per_class) = counts(m);
        assert_eq!(total, 150, "{name}");
        assert!((diagonal as f64 / 150.0 - f(&metrics["accuracy"])).abs() < 1e-12, "{name}");
        let supports: Vec<u64> = per_class.iter().map(|c| c["support"].as_u64().unwrap()).collect();
        assert_eq!(supports, [50, 50, 50]);
        let macro_recall = per_class.iter().map(|c| f(&c["recall"])).sum::<f64>() / 3.0;
        assert!((macro_recall - f(&metrics["recall_macro"])).abs() < 1e-12, "{name}");
        // Top-class calibration: every row in some bin.
        assert!((0.0..=2.0).contains(&f(&m["brier"])), "{name}: {m}");
        let binned: u64 =
            m["reliability"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
        assert_eq!(binned, 150, "{name}");
    }
}

/// Binary: the positive class's recall and the run's `recall` (fold sizes
/// differ by one row, so pooled and mean agree closely, not exactly).
#[test]
fn breast_cancer_binary_with_calibration_and_text() {
    let sb = sandbox();
    let (show, confusion) = run(&sb, "builtin:breast_cancer", "logistic");
    let (metrics, m) = model(&show, &confusion, "logistic");
    assert_eq!(m["labels"], serde_json::json!(["0", "1"]));
    let (total, diagonal, per_class) = counts(m);
    assert_eq!(total, 569);
    assert!((diagonal as f64 / 569.0 - f(&metrics["accuracy"])).abs() < 1e-3);
    assert!((f(&per_class[1]["recall"]) - f(&metrics["recall"])).abs() < 1e-2);
    assert!((f(&per_class[1]["precision"]) - f(&metrics["precision"])).abs() < 1e-2);
    let brier = f(&m["brier"]);
    assert!(brier > 0.0 && brier < 0.25, "{brier}");
    let bins = m["reliability"].as_array().unwrap();
    assert_eq!(bins.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), 569);
    assert!(bins.iter().all(|b| f(&b["binHigh"]) - f(&b["binLow"]) > 0.099));

    let out = sb.mlhost(&["show", show["runId"].as_str().unwrap(), "--confusion"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("logistic (job "), "{text}");
    assert!(text.contains("569 held-out rows") && text.contains("TRUE \\ PREDICTED"), "{text}");
    assert!(text.contains("brier score") && text.contains("FRACTION_POSITIVE"), "{text}");
}

/// Exit 2 and exactly one line on stderr containing `says`.
fn refused(sb: &Sandbox, args: &[&str], says: &str) {
    let out = sb.mlhost(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(says), "{err}");
}

#[test]
fn regression_unknown_and_old_runs_are_one_line_refusals() {
    let sb = sandbox();
    let report = json(&sb, &["eval", "--dataset", "builtin:diabetes", "--models", "linear"]);
    let id = report["runId"].as_str().unwrap();
    refused(&sb, &["show", id, "--confusion"], "no confusion matrix for regression");
    refused(&sb, &["show", "nope", "--confusion", "--json"], "no run 'nope'");

    // A database made by mlhost 0.1 kept no predictions.
    let old = Sandbox::new();
    std::fs::copy(root().join("tests/fixtures/db/schema-v4.db"), old.path().join("old.db"))
        .unwrap();
    old.write("config/mlhost.toml", "plugin_dirs = []\ndatabase = \"../old.db\"\n");
    refused(
        &old,
        &["show", "01a22947-3ab5-70fb-a2af-042867cffb07", "--confusion"],
        "has no stored held-out predictions for baseline",
    );
}

#[test]
fn repeated_folds_count_each_row_once() {
    let sb = sandbox();
    let report = json(
        &sb,
        &["eval", "--dataset", "builtin:iris", "--models", "naive-bayes", "--repeats", "3"],
    );
    assert_eq!(report["models"][0]["folds"].as_array().unwrap().len(), 15);
    let id = report["runId"].as_str().unwrap();
    let confusion = json(&sb, &["show", id, "--confusion"]);
    let matrix = confusion["models"][0]["matrix"].as_array().unwrap();
    let total: u64 =
        matrix.iter().flat_map(|r| r.as_array().unwrap()).map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(total, 150, "each of iris's 150 rows once, not once per repetition");
}

/// A run that read a key column apart (`--group-col`) is labelled from its
/// dataset read the same way: its id matches and the matrix holds every row.
#[test]
fn a_run_with_a_group_column_has_its_confusion_matrix() {
    let sb = sandbox();
    let mut csv = String::from("x,patient,y\n");
    for i in 0..60 {
        csv.push_str(&format!("{},p{},{}\n", i % 7, i / 6, i % 2));
    }
    sb.write("groups.csv", &csv);
    let report = json(
        &sb,
        &[
            "eval",
            "--dataset",
            "groups.csv",
            "--models",
            "logistic",
            "--cv",
            "group",
            "--group-col",
            "patient",
            "--folds",
            "3",
        ],
    );
    let confusion = json(&sb, &["show", report["runId"].as_str().unwrap(), "--confusion"]);
    assert_eq!(counts(&confusion["models"][0]).0, 60, "{confusion}");
}
