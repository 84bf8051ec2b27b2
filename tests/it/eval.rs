//! `mlhost eval`, `runs`, `show` and `metrics` on real plugins and a real
//! SQLite file.

use mlhost::store::Store;
use mlhost_tests::{Sandbox, baseline_so, fixture_so};
use serde_json::Value;

fn sandbox_with(models: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    sb.add_plugin(fixture_so("panic-fit"), "libpanic_fit.so");
    sb.write("config/models.toml", models);
    sb
}

fn entry(id: &str, plugin: &str, params: &str) -> String {
    format!("[[model]]\nid = \"{id}\"\nplugin = \"{plugin}\"\nparams = {{ {params} }}\n\n")
}

fn eval_json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["eval", "--json"];
    all.extend_from_slice(args);
    let out = sb.mlhost(&all);
    assert_eq!(out.status.code(), Some(0), "eval failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("eval prints JSON")
}

fn model<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["models"].as_array().unwrap().iter().find(|m| m["modelId"] == id).unwrap()
}

fn store(sb: &Sandbox) -> Store {
    Store::open(&sb.path().join("mlhost.db")).unwrap()
}

#[test]
fn n_candidates_give_n_jobs_and_n_times_folds_plus_one_results() {
    let sb = sandbox_with(
        &[
            entry("base", "baseline", ""),
            entry("ok-a", "misbehave", ""),
            entry("ok-b", "misbehave", "ms = 1"),
        ]
        .concat(),
    );
    let report = eval_json(
        &sb,
        &["--dataset", "builtin:iris", "--folds", "3", "--models", "base,ok-a,ok-b"],
    );
    assert_eq!(report["status"], "completed");
    for id in ["base", "ok-a", "ok-b"] {
        assert_eq!(model(&report, id)["status"], "succeeded", "{id}");
        assert_eq!(model(&report, id)["folds"].as_array().unwrap().len(), 3);
    }
    let base = model(&report, "base");
    // scikit-learn: cross_val_score(DummyClassifier(), iris, cv=StratifiedKFold(3)) == [0.32]*3
    assert_eq!(base["metrics"]["accuracy"], 0.32);
    assert_eq!(base["metricsStd"]["accuracy"], 0.0);
    assert!(base["metrics"]["roc_auc_ovr"].is_number());
    let run_id = report["runId"].as_str().unwrap();
    let db = store(&sb);
    assert_eq!(db.count("jobs", run_id).unwrap(), 3);
    assert_eq!(db.count("results", run_id).unwrap(), 3 * (3 + 1));
    let iris_id = report["datasetId"].as_str().unwrap();
    assert_eq!(iris_id.len(), 64);

    // `show` prints what `eval` printed; `runs` lists the run.
    let out = sb.mlhost(&["show", &run_id[..13], "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), report);
    let runs: Value = serde_json::from_slice(&sb.mlhost(&["runs", "--json"]).stdout).unwrap();
    assert_eq!(runs["runs"][0]["runId"], run_id);
    assert_eq!(runs["runs"][0]["succeeded"], 3);
    let out = sb.mlhost(&["show", "no-such-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run 'no-such-run'"));
}

#[test]
fn at_most_workers_jobs_overlap() {
    let models: String = (0..5)
        .map(|i| entry(&format!("slow-{i}"), "misbehave", "mode = \"sleep\", ms = 120"))
        .collect();
    let sb = sandbox_with(&models);
    let ids = "slow-0,slow-1,slow-2,slow-3,slow-4";
    let report = eval_json(
        &sb,
        &["--dataset", "builtin:iris", "--folds", "2", "--workers", "2", "--models", ids],
    );
    let jobs = store(&sb).jobs(report["runId"].as_str().unwrap()).unwrap();
    assert_eq!(jobs.len(), 5);
    let mut edges: Vec<(String, i32)> = Vec::new();
    for j in &jobs {
        assert_eq!(j.status, "succeeded");
        edges.push((j.started_at.clone().unwrap(), 1));
        edges.push((j.finished_at.clone().unwrap(), -1));
    }
    // RFC 3339 UTC with milliseconds sorts as text; a finish sorts before a
    // start at the same millisecond.
    edges.sort();
    let (mut live, mut peak) = (0, 0);
    for (_, d) in edges {
        live += d;
        peak = peak.max(live);
    }
    assert_eq!(peak, 2, "jobs overlapped {peak} at a time with --workers 2");
}

#[test]
fn failing_candidates_fail_alone_with_their_reasons() {
    let models = [
        entry("base", "baseline", ""),
        entry("nan", "misbehave", "mode = \"nan\""),
        entry("bad-class", "misbehave", "mode = \"bad-class\""),
        entry("bad-proba", "misbehave", "mode = \"bad-proba\""),
        entry("fails", "misbehave", "mode = \"fail\""),
        entry("panics", "panic-fit", ""),
        entry("slow", "misbehave", "mode = \"sleep\", ms = 30000"),
        entry("deaf", "misbehave", "mode = \"ignore-stop\", ms = 4000"),
        entry("wrong-params", "misbehave", "mode = \"loud\""),
    ]
    .concat();
    let sb = sandbox_with(&models);
    let ids = "base,nan,bad-class,bad-proba,fails,panics,slow,deaf,wrong-params";
    let report = eval_json(&sb, &["--workers", "3", "--timeout-secs", "1", "--models", ids]);
    assert_eq!(report["status"], "completed");
    assert_eq!(model(&report, "base")["status"], "succeeded");
    let cases = [
        (
            "nan",
            "failed",
            "fold 0: predict returned NaN for test row 0; predictions must be finite",
        ),
        (
            "bad-class",
            "failed",
            "fold 0: predict returned 7 for test row 0, not a class code in 0..2",
        ),
        ("bad-proba", "failed", "fold 0: predict_proba row 0 sums to 1.8, not 1"),
        ("fails", "failed", "fold 0: fit: fixture: the solver did not converge"),
        ("panics", "failed", "fold 0: fit: fit panicked: index out of bounds"),
        ("slow", "timed_out", "timed out after 1s"),
        ("deaf", "timed_out", "timed out after 1s"),
        (
            "wrong-params",
            "failed",
            "rejected: parameters invalid: parameter 'mode': expected one of",
        ),
    ];
    for (id, status, reason) in cases {
        let m = model(&report, id);
        assert_eq!(m["status"], status, "{id}: {m:#}");
        let error = m["error"].as_str().unwrap();
        assert!(error.starts_with(reason), "{id}: {error:?} should start with {reason:?}");
    }
    // The table lists each failure with its reason.
    let out = sb.mlhost(&["show", report["runId"].as_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("timed_out slow: timed out after 1s"), "{text}");
    assert!(text.lines().nth(2).unwrap().starts_with("base "), "the success sorts first:\n{text}");
}

#[test]
fn bad_datasets_are_refused_and_nothing_is_stored() {
    let sb = sandbox_with("");
    let ids: String = std::iter::once("a,label\n".to_owned())
        .chain((0..1001).map(|i| format!("id{i},{}\n", i % 2)))
        .collect();
    let cases = [
        ("missing.csv", None, "cannot read"),
        ("empty.csv", Some(""), "the file is empty; expected a header row and data rows"),
        (
            "nolabel.csv",
            Some("a,b\n1,2\n"),
            "no label column 'label'; the columns are a, b; pass --label COLUMN",
        ),
        ("inf.csv", Some("a,label\ninf,x\n1,y\n"), "row 2, column 'a': inf is not a finite number"),
        ("nolabel-cell.csv", Some("a,label\n1,x\n2,\n"), "row 3, column 'label': missing label"),
        (
            "ids.csv",
            Some(ids.as_str()),
            "row 1002, column 'a': more than 1000 distinct text values",
        ),
        ("ragged.csv", Some("a,label\n1,x\n2,y,3\n"), "row 3: 3 fields, but the header has 2"),
        (
            "oneclass.csv",
            Some("a,label\n1,x\n2,x\n"),
            "label column 'label' has one class only (x)",
        ),
        ("tiny.csv", Some("a,label\n1,x\n2,y\n3,x\n"), "fewer than 5 folds"),
    ];
    for (file, text, expected) in cases {
        if let Some(text) = text {
            sb.write(file, text);
        }
        let out = sb.mlhost(&["eval", "--dataset", file, "--label", "label"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(
            err.contains(file) && err.contains(expected),
            "{file}: {err:?} should contain {expected:?}"
        );
    }
    let out = sb.mlhost(&["eval", "--models", "ghost"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown model 'ghost'; the candidates are")
    );
    let runs: Value = serde_json::from_slice(&sb.mlhost(&["runs", "--json"]).stdout).unwrap();
    assert_eq!(runs["runs"], serde_json::json!([]));
}

#[test]
fn the_same_seed_gives_the_same_folds_and_metrics() {
    // Regression k-fold: the baseline's mean depends on which rows train.
    let sb = sandbox_with(&[entry("base", "baseline", "")].concat());
    let strip = |mut r: Value| {
        for m in r["models"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("jobId"); // new per run
            for key in ["metrics", "metricsStd"] {
                let map = m[key].as_object_mut().unwrap();
                map.remove("fit_seconds");
                map.remove("predict_seconds");
            }
            m["folds"] = m["folds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let mut f = f.as_object().unwrap().clone();
                    f.remove("fit_seconds");
                    f.remove("predict_seconds");
                    Value::Object(f)
                })
                .collect();
        }
        (r["models"].clone(), r["datasetId"].clone())
    };
    let args = |seed| ["--dataset", "builtin:diabetes", "--models", "base", "--seed", seed];
    let a = strip(eval_json(&sb, &args("7")));
    let b = strip(eval_json(&sb, &args("7")));
    let c = strip(eval_json(&sb, &args("8")));
    assert_eq!(a, b);
    assert_ne!(a.0, c.0, "another seed, other folds");
    assert_eq!(a.1, c.1, "same data, same dataset id");
}

#[test]
fn metrics_command_scores_a_predictions_file() {
    let sb = Sandbox::new();
    sb.write("preds.csv", "y_true,y_pred,y_score\n0,0,0.1\n0,1,0.4\n1,0,0.35\n1,1,0.8\n");
    let out = sb.mlhost(&["metrics", "preds.csv", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["metrics"]["roc_auc"], 0.75);
    assert_eq!(doc["metrics"]["accuracy"], 0.5);
    assert_eq!(doc["warnings"], serde_json::json!([]));
    sb.write("one.csv", "y_true,y_pred,y_score\n1,1,0.9\n1,0,0.2\n");
    let doc: Value =
        serde_json::from_slice(&sb.mlhost(&["metrics", "one.csv", "--json"]).stdout).unwrap();
    assert_eq!(doc["metrics"]["roc_auc"], Value::Null);
    assert_eq!(doc["warnings"][0], "roc_auc is undefined: only one class is present in y_true");
    let out = sb.mlhost(&["metrics", "nope.csv"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_plain_eval_says_which_candidates_it_skipped_and_why() {
    let models = [
        entry("base", "baseline", ""),
        entry("bad-param", "baseline", "smoothing = -1.0"),
        entry("off", "baseline", "").replace("params", "enabled = false\nparams"),
    ];
    let sb = sandbox_with(&models.concat());
    sb.add_plugin(fixture_so("init-trap"), "libinit_trap.so");
    let out = sb.mlhost(&["eval", "--dataset", "builtin:diabetes", "--folds", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let skipped: Vec<&str> = text.lines().filter(|l| l.starts_with("skipped ")).collect();
    assert_eq!(
        skipped,
        [
            "skipped bad-param: rejected: parameters invalid: parameter 'smoothing': expected a float in [0, 1000000], got -1; fix `params` at models.toml line 9",
            "skipped init-trap: its plugin does classification, not this dataset's task (name it with --models to see why in full)",
            "skipped panic-fit: its plugin does classification, not this dataset's task (name it with --models to see why in full)",
            "skipped off: disabled in models.toml (enabled = false)",
        ],
        "{text}"
    );
    // With --json the lines go to stderr and stdout stays one document.
    let out = sb.mlhost(&["eval", "--json", "--dataset", "builtin:diabetes", "--folds", "2"]);
    assert!(serde_json::from_slice::<Value>(&out.stdout).is_ok());
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped off: disabled"));
}

/// Each fold's held-out predictions are stored with the job, in both
/// isolation modes: every row is predicted exactly once, the true values
/// are the dataset's, and re-scoring them gives the stored accuracy.
#[test]
fn held_out_predictions_are_stored_and_rescore_to_the_stored_metrics() {
    let sb = Sandbox::new();
    sb.add_plugin(mlhost_tests::plugin_so("logistic"), "liblogistic.so");
    for isolation in ["thread", "process"] {
        let report = eval_json(
            &sb,
            &["--dataset", "builtin:iris", "--folds", "3", "--seed", "4"]
                .into_iter()
                .chain(["--models", "logistic", "--isolation", isolation])
                .collect::<Vec<_>>(),
        );
        let m = model(&report, "logistic");
        assert_eq!(m["status"], "succeeded", "{isolation}: {m}");
        let job = m["jobId"].as_str().unwrap();
        let store = store(&sb);
        let folds = store.predictions(job).unwrap();
        assert_eq!(folds.len(), 3, "{isolation}");
        let mut seen = vec![0u32; 150];
        for (f, p) in folds.iter().enumerate() {
            assert_eq!(p.fold, f as i64);
            assert_eq!(p.n_classes, 3);
            assert_eq!(p.proba.as_ref().map(Vec::len), Some(3 * p.rows.len()));
            for &r in &p.rows {
                seen[r as usize] += 1;
                // iris is ordered: 50 rows of each class.
                assert_eq!(
                    p.y_true[p.rows.iter().position(|x| *x == r).unwrap()],
                    f64::from(r / 50)
                );
            }
            let right = p.y_true.iter().zip(&p.y_pred).filter(|(t, y)| t == y).count();
            let accuracy = right as f64 / p.rows.len() as f64;
            let stored = m["folds"][f]["accuracy"].as_f64().unwrap();
            assert!(
                (accuracy - stored).abs() < 1e-12,
                "{isolation} fold {f}: {accuracy} vs {stored}"
            );
        }
        assert!(seen.iter().all(|&n| n == 1), "{isolation}: every row once: {seen:?}");
    }
}

/// A trial is one parameter set: resuming a run whose candidate's params
/// changed in models.toml refuses that job (naming both sets) rather than
/// storing results under params they did not use. A resume reads no other
/// flag, so an out-of-range one is no error there.
#[test]
fn resume_refuses_a_job_whose_params_changed_and_ignores_other_flags() {
    let sb = sandbox_with(&entry("flaky", "misbehave", "mode = \"fail\", ms = 1"));
    let report =
        eval_json(&sb, &["--dataset", "builtin:iris", "--folds", "2", "--models", "flaky"]);
    assert_eq!(model(&report, "flaky")["status"], "failed");
    let run = report["runId"].as_str().unwrap();
    let job = model(&report, "flaky")["jobId"].as_str().unwrap().to_owned();
    let stored = &store(&sb).jobs(run).unwrap()[0];
    assert_eq!(stored.params_json, r#"{"mode":"fail","ms":1,"work":1000000}"#);

    sb.write("config/models.toml", &entry("flaky", "misbehave", "ms = 2"));
    let again = eval_json(&sb, &["--resume", run, "--workers", "0"]);
    let m = model(&again, "flaky");
    assert_eq!((m["jobId"].as_str().unwrap(), m["status"].as_str().unwrap()), (&*job, "failed"));
    let error = m["error"].as_str().unwrap();
    assert!(error.starts_with("parameters changed in models.toml"), "{error}");
    assert!(error.contains(r#""ms":1"#) && error.contains(r#""ms":2"#), "{error}");
}
