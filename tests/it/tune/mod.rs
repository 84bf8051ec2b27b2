//! `mlhost tune` end to end: real plugins, a real SQLite file, the real
//! binary. The `objective` fixture's `mae` is f(x, y) = (x - 1)² + (y + 2)²
//! exactly (its targets are all 0), so a search's quality is known.

use mlhost::store::Store;
use mlhost_tests::{Sandbox, fixture_so, plugin_so};
use serde_json::Value;

/// A sandbox with the objective plugin under `models`, and `data.csv`:
/// 20 rows whose targets are all 0.
fn objective_sandbox(models: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(fixture_so("objective"), "libobjective.so");
    sb.write("config/models.toml", models);
    let rows: String = (0..20).map(|i| format!("{i},0\n")).collect();
    sb.write("data.csv", &format!("a,label\n{rows}"));
    sb
}

/// The objective's entry, training `epochs` epochs of `sleep_ms` each:
/// what it sets is fixed (not searched) unless a test names it with
/// `--param`.
fn objective(epochs: u32, sleep_ms: u32, extra: &str) -> String {
    format!(
        "[[model]]\nid = \"objective\"\nplugin = \"objective\"\nparams = {{ epochs = {epochs}, sleep_ms = {sleep_ms}{extra} }}\n"
    )
}

fn objective_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "tune",
        "--json",
        "--model",
        "objective",
        "--dataset",
        "data.csv",
        "--label",
        "label",
        "--task",
        "regression",
        "--folds",
        "2",
        "--metric",
        "mae",
    ];
    args.extend_from_slice(extra);
    args
}

fn tune_json(sb: &Sandbox, args: &[&str]) -> Value {
    let out = sb.mlhost(args);
    assert_eq!(out.status.code(), Some(0), "tune failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("tune prints JSON")
}

fn store(sb: &Sandbox) -> Store {
    Store::open(&sb.path().join("mlhost.db")).unwrap()
}

fn trials(report: &Value) -> &Vec<Value> {
    report["trials"].as_array().unwrap()
}

/// scikit-learn's `GridSearchCV` over k and weights of a standardized kNN
/// on breast_cancer (StratifiedKFold(5), `tests/fixtures/sklearn/grid.py`)
/// scored every point; mlhost's grid gives the same points in the same
/// order with the same mean F1 and accuracy.
#[test]
fn a_grid_search_equals_grid_search_cv_trial_for_trial() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(mlhost_tests::root().join("tests/fixtures/sklearn/grid_knn.json"))
            .unwrap(),
    )
    .unwrap();
    let points = fixture["points"].as_array().unwrap();
    let ks: Vec<String> = {
        let mut k: Vec<i64> = points.iter().map(|p| p["k"].as_i64().unwrap()).collect();
        k.dedup();
        k.iter().map(i64::to_string).collect()
    };
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("knn"), "libknn.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"knn\"\nplugin = \"knn\"\nscale = \"standard\"\n",
    );
    let k_param = format!("k={}", ks.join(","));
    let report = tune_json(
        &sb,
        &[
            "tune",
            "--json",
            "--model",
            "knn",
            "--dataset",
            "builtin:breast_cancer",
            "--strategy",
            "grid",
            "--param",
            &k_param,
            "--param",
            "weights=uniform,distance",
            "--workers",
            "2",
        ],
    );
    assert_eq!(report["strategy"], "grid");
    assert_eq!(report["metric"], "f1");
    assert_eq!(trials(&report).len(), points.len());
    for (trial, point) in trials(&report).iter().zip(points) {
        assert_eq!(trial["params"]["k"], point["k"], "trial {}", trial["trial"]);
        assert_eq!(trial["params"]["weights"], point["weights"]);
        assert_eq!(trial["state"], "complete");
        for (ours, theirs) in [("f1", "f1"), ("accuracy", "accuracy")] {
            let a = trial["metrics"][ours].as_f64().unwrap();
            let b = point[theirs].as_f64().unwrap();
            assert!(
                (a - b).abs() < 1e-9,
                "trial {}: {ours} {a} vs scikit-learn {b}",
                trial["trial"]
            );
        }
    }
    let best = points
        .iter()
        .enumerate()
        .max_by(|a, b| {
            a.1["f1"].as_f64().unwrap().total_cmp(&b.1["f1"].as_f64().unwrap()).then(b.0.cmp(&a.0))
        })
        .unwrap();
    assert_eq!(report["best"]["trial"], best.0, "the first of the best, as GridSearchCV's rank 1");
}

/// TPE finds a better point than random search with the same budget on
/// the smooth objective, over several seeds.
#[test]
fn tpe_beats_random_search_at_equal_budget() {
    let sb = objective_sandbox(&objective(0, 0, ""));
    let best = |strategy: &str, seed: &str| {
        let report = tune_json(
            &sb,
            &objective_args(&["--strategy", strategy, "--trials", "30", "--seed", seed]),
        );
        assert_eq!(trials(&report).len(), 30);
        // The objective's mae is f at the trial's point, to the last digit.
        for t in trials(&report) {
            let (x, y) = (t["params"]["x"].as_f64().unwrap(), t["params"]["y"].as_f64().unwrap());
            let f = (x - 1.0).powi(2) + (y + 2.0).powi(2);
            assert!((t["value"].as_f64().unwrap() - f).abs() < 1e-9);
        }
        report["best"]["value"].as_f64().unwrap()
    };
    let seeds = ["1", "2", "3", "4", "5"];
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let tpe = median(seeds.iter().map(|s| best("tpe", s)).collect());
    let random = median(seeds.iter().map(|s| best("random", s)).collect());
    assert!(tpe < random / 2.0, "median best: tpe {tpe}, random {random}");
    // Seeded: the same study twice proposes the same points.
    let a = tune_json(&sb, &objective_args(&["--trials", "12", "--seed", "9"]));
    let b = tune_json(&sb, &objective_args(&["--trials", "12", "--seed", "9"]));
    let params = |r: &Value| trials(r).iter().map(|t| t["params"].clone()).collect::<Vec<_>>();
    assert_eq!(params(&a), params(&b));
}

/// With the median pruner, once five trials completed, a trial whose
/// validation loss is worse than their median at the same epoch is stopped
/// at that epoch: stored as pruned with the epochs it reported, its job
/// cancelled, and `trial.pruned` announced.
#[test]
fn the_median_pruner_stops_a_bad_trial_early() {
    let models = objective(20, 2, "");
    let sb = objective_sandbox(&models);
    let report = tune_json(
        &sb,
        &objective_args(&[
            "--strategy",
            "grid",
            "--param",
            "x=1,1.1,0.9,1.2,0.8,-5,-4,1.05",
            "--param",
            "y=-2",
            "--pruner",
            "median",
            "--workers",
            "1",
        ]),
    );
    let states: Vec<&str> = trials(&report).iter().map(|t| t["state"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        [
            "complete", "complete", "complete", "complete", "complete", "pruned", "pruned",
            "complete"
        ]
    );
    let store = store(&sb);
    for t in &trials(&report)[5..7] {
        assert!(
            t["note"].as_str().unwrap().starts_with("pruned (median) at fold 0, epoch 1:"),
            "{t}"
        );
        assert!(t["value"].is_null());
        let epochs = store.epochs(t["jobId"].as_str().unwrap()).unwrap();
        assert!(!epochs.is_empty() && epochs.len() < 3, "stopped at once: {} epochs", epochs.len());
    }
    for t in &trials(&report)[..5] {
        assert_eq!(store.epochs(t["jobId"].as_str().unwrap()).unwrap().len(), 40, "2 folds x 20");
    }
    let jobs = store.jobs(report["runId"].as_str().unwrap()).unwrap();
    assert_eq!(jobs.iter().filter(|j| j.status == "cancelled").count(), 2);
    let run_id = report["runId"].as_str().unwrap();
    let types: Vec<String> =
        store.run_events(run_id, 0).unwrap().into_iter().map(|e| e.event_type).collect();
    let count = |t: &str| types.iter().filter(|e| *e == t).count();
    assert_eq!(
        (count("trial.completed"), count("trial.pruned"), count("study.completed")),
        (6, 2, 1)
    );
    // Successive halving: at the epoch-1 rung the bad points are far from
    // the best third, the first trial (alone there) goes on.
    let asha = tune_json(
        &sb,
        &objective_args(&[
            "--strategy",
            "grid",
            "--param",
            "x=1,1.1,0.9,1.2,0.8,-5,-4",
            "--param",
            "y=-2",
            "--pruner",
            "asha",
            "--workers",
            "1",
        ]),
    );
    assert_eq!(trials(&asha)[0]["state"], "complete");
    for t in &trials(&asha)[5..] {
        assert_eq!(t["state"], "pruned");
        assert!(
            t["note"].as_str().unwrap().starts_with("pruned (asha) at fold 0, epoch 1:"),
            "{t}"
        );
    }
}

/// A study killed mid-way resumes: trials that ended keep their jobs and
/// values, the one running at the kill runs again under its own job, and
/// the study goes on to its budget; no trial is lost or run twice.
#[test]
fn a_killed_study_resumes_without_losing_or_repeating_a_trial() {
    let models = objective(4, 60, "");
    let sb = objective_sandbox(&models);
    let args =
        objective_args(&["--strategy", "tpe", "--trials", "14", "--seed", "4", "--workers", "1"]);
    let mut child = std::process::Command::new(mlhost_tests::mlhost_bin())
        .current_dir(sb.path())
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let db = sb.path().join("mlhost.db");
    let started = std::time::Instant::now();
    let done_before = loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let done = Store::open(&db).ok().and_then(|s| {
            let study = s.studies().ok()?.into_iter().next()?;
            let t = s.trials(&study.id).ok()?;
            Some(t.into_iter().filter(|t| t.state == "complete").collect::<Vec<_>>())
        });
        // Past TPE's 10 random startup trials, so the restored history
        // decides the proposals after the resume.
        if let Some(done) = done.filter(|d| d.len() >= 11) {
            break done;
        }
        assert!(started.elapsed().as_secs() < 120, "11 trials never completed");
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let store_before = store(&sb);
    let study = store_before.studies().unwrap().remove(0);
    assert_eq!(study.status, "running", "killed, not ended");
    let study_id = study.id.to_string();
    let resumed = tune_json(&sb, &["tune", "--json", "--resume", &study_id]);
    assert_eq!(resumed["status"], "completed");
    let numbers: Vec<u64> = trials(&resumed).iter().map(|t| t["trial"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (0..14).collect::<Vec<u64>>());
    assert!(trials(&resumed).iter().all(|t| t["state"] == "complete"));
    let jobs = store(&sb).jobs(resumed["runId"].as_str().unwrap()).unwrap();
    assert_eq!(jobs.len(), 14, "one job per trial");
    for before in &done_before {
        let t = &trials(&resumed)[before.number as usize];
        assert_eq!(t["jobId"], before.job_id.as_str());
        let values: Vec<f64> =
            serde_json::from_str(before.values_json.as_deref().unwrap()).unwrap();
        assert_eq!(t["value"].as_f64().unwrap(), values[0]);
        let job = jobs.iter().find(|j| j.id == before.job_id).unwrap();
        assert_eq!(job.attempts, 1, "an ended trial is not run again");
    }
    let again =
        jobs.iter().find(|j| j.attempts == 2).expect("the trial running at the kill ran again");
    let epochs = store(&sb).epochs(&again.id).unwrap();
    assert_eq!(epochs.len(), 8, "2 folds x 4 epochs: the killed attempt's epochs were dropped");
    // The same seed without the kill proposes the same points.
    let whole = tune_json(&sb, &args);
    let params = |r: &Value| trials(r).iter().map(|t| t["params"].clone()).collect::<Vec<_>>();
    assert_eq!(params(&whole), params(&resumed));
}

/// Two workers run two trials at once; trials that overlapped in time
/// never had the same point, even in a space of 12 points.
#[test]
fn parallel_trials_do_not_run_the_same_point_at_once() {
    let models = objective(2, 15, "");
    let sb = objective_sandbox(&models);
    let report = tune_json(
        &sb,
        &objective_args(&[
            "--param",
            "x=-1,0,1,2",
            "--param",
            "y=-3,-2,-1",
            "--trials",
            "16",
            "--workers",
            "2",
            "--seed",
            "3",
        ]),
    );
    let store = store(&sb);
    let jobs = store.jobs(report["runId"].as_str().unwrap()).unwrap();
    let span = |job: &str| {
        let j = jobs.iter().find(|j| j.id.as_str() == job).unwrap();
        let t = |s: &Option<String>| humantime::parse_rfc3339(s.as_deref().unwrap()).unwrap();
        (t(&j.started_at), t(&j.finished_at))
    };
    let ts = trials(&report);
    let mut overlapping = 0;
    for (i, a) in ts.iter().enumerate() {
        for b in &ts[i + 1..] {
            let (sa, ea) = span(a["jobId"].as_str().unwrap());
            let (sb_, eb) = span(b["jobId"].as_str().unwrap());
            if sa < eb && sb_ < ea {
                overlapping += 1;
                assert_ne!(
                    a["params"], b["params"],
                    "trials {} and {} ran at once",
                    a["trial"], b["trial"]
                );
            }
        }
    }
    assert!(overlapping >= 2, "two workers ran trials side by side ({overlapping} pairs)");
}

/// `show STUDY` prints the trials sorted by value with the best, `runs`
/// marks the study's run, and two metrics give a Pareto front.
#[test]
fn show_and_runs_list_a_study() {
    let sb = objective_sandbox(&objective(0, 0, ""));
    let mut args =
        objective_args(&["--strategy", "grid", "--param", "x=-1,1,3", "--param", "y=-2"]);
    args.extend(["--metric", "mse"]);
    let report = tune_json(&sb, &args);
    assert_eq!(report["metrics"], serde_json::json!(["mae", "mse"]));
    assert_eq!(report["pareto"], serde_json::json!([1]), "x = 1 is best on both");
    let id = report["studyId"].as_str().unwrap();
    let out = sb.mlhost(&["show", id]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with(&format!("study {id}")), "{text}");
    assert!(lines[1].starts_with("TRIAL  MAE"), "{text}");
    let order: Vec<&str> =
        lines[2..5].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(order, ["1", "0", "2"], "best first: {text}");
    assert!(text.contains("best: trial 1  mae = 0.0000 (minimize)  x=1.0000 y=-2.0000"), "{text}");
    let shown: Value = serde_json::from_slice(&sb.mlhost(&["show", id, "--json"]).stdout).unwrap();
    assert_eq!(shown, report);
    let runs: Value = serde_json::from_slice(&sb.mlhost(&["runs", "--json"]).stdout).unwrap();
    let run = &runs["runs"][0];
    assert_eq!(run["study"]["studyId"], id);
    assert_eq!(run["study"]["complete"], 3);
    let plot = sb.path().join("study.svg");
    let mut plotted =
        objective_args(&["--param", "x=-1..3", "--param", "y=-3..-1", "--trials", "5"]);
    plotted.extend(["--plot", plot.to_str().unwrap()]);
    tune_json(&sb, &plotted);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.contains("best so far") && svg.contains("trials over x and y"),
        "history and scatter"
    );
}

mod errors;
