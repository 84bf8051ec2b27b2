//! Per-epoch training metrics: stored for every epoch of the real `mlp`,
//! early stopping at the epoch the trend says, and the operations API.

use mlhost::domain::Patience;
use mlhost::metrics::trend::{Epoch, analyze};
use mlhost::store::Store;
use mlhost_tests::{Sandbox, plugin_so};
use serde_json::Value;

fn mlp_sandbox(epochs: u32) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("mlp"), "libmlp.so");
    sb.write(
        "config/models.toml",
        &format!("[[model]]\nid = \"net\"\nplugin = \"mlp\"\nparams = {{ epochs = {epochs} }}\nscale = \"standard\"\n"),
    );
    sb
}

fn eval(sb: &Sandbox, extra: &[&str]) -> Value {
    let mut args = vec![
        "eval",
        "--json",
        "--models",
        "net",
        "--dataset",
        "builtin:breast_cancer",
        "--folds",
        "3",
    ];
    args.extend_from_slice(extra);
    let out = sb.mlhost(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn history(store: &Store, job: &str, fold: i64) -> Vec<Epoch> {
    store
        .epochs(job)
        .unwrap()
        .into_iter()
        .filter(|e| e.fold == fold)
        .map(|e| {
            let m: Value = serde_json::from_str(&e.metrics_json).unwrap();
            Epoch {
                epoch: e.epoch as u32,
                train_loss: m["train_loss"].as_f64(),
                val_loss: m["val_loss"].as_f64(),
            }
        })
        .collect()
}

#[test]
fn every_epoch_of_every_fold_is_stored() {
    let sb = mlp_sandbox(10);
    let report = eval(&sb, &[]);
    let store = Store::open(&sb.path().join("mlhost.db")).unwrap();
    let job = &store.jobs(report["runId"].as_str().unwrap()).unwrap()[0];
    let rows = store.epochs(&job.id).unwrap();
    assert_eq!(rows.len(), 3 * 10);
    let m: Value = serde_json::from_str(&rows[0].metrics_json).unwrap();
    for key in ["train_loss", "val_loss", "val_accuracy", "learning_rate", "duration_ms"] {
        assert!(m[key].is_number(), "{key} missing in {m}");
    }
    assert!(rows[0].recorded_at.ends_with('Z'));
    // `show --json` names the job `mlhost analyze` takes, and analyze reads
    // the epochs back.
    assert_eq!(report["models"][0]["jobId"], job.id.as_str());
    let out = sb.mlhost(&["analyze", &job.id, "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["folds"].as_array().unwrap().len(), 3);
    assert_eq!(doc["folds"][0]["trend"]["epochs"], 10);
    let out = sb.mlhost(&["analyze", "no-such-job"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("no epochs recorded for job no-such-job")
    );
}

#[test]
fn early_stopping_stops_the_real_mlp_at_the_epoch_the_trend_says() {
    let p = Patience { patience: 3, min_delta: 0.01 };
    for isolation in ["thread", "process"] {
        let sb = mlp_sandbox(500);
        let report =
            eval(&sb, &["--early-stopping", "patience=3,min_delta=0.01", "--isolation", isolation]);
        let m = &report["models"][0];
        assert_eq!(m["status"], "succeeded", "{m:#}");
        let store = Store::open(&sb.path().join("mlhost.db")).unwrap();
        let job = &store.jobs(report["runId"].as_str().unwrap()).unwrap()[0];
        for (fold, metrics) in m["folds"].as_array().unwrap().iter().enumerate() {
            let stopped = metrics["stopped_epoch"].as_f64().expect("stopped early") as usize;
            assert!(stopped < 500, "{isolation}: fold {fold} ran all epochs");
            let h = history(&store, &job.id, fold as i64);
            assert_eq!(
                h.len(),
                stopped,
                "{isolation}: fold {fold}: one stored epoch per trained epoch"
            );
            assert!(analyze(&h, p).plateau, "{isolation}: fold {fold}: stopped on a plateau");
            assert!(
                !analyze(&h[..stopped - 1], p).plateau,
                "{isolation}: fold {fold}: not a moment later than it"
            );
            assert_eq!(metrics["best_epoch"].as_f64(), analyze(&h, p).best_epoch.map(f64::from));
        }
    }
}

#[test]
fn operations_api_records_and_analyzes_external_epochs() {
    use std::io::BufRead;
    let sb = mlp_sandbox(5);
    let mut child = std::process::Command::new(mlhost_tests::mlhost_bin())
        .current_dir(sb.path())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let url = format!("{base}/api/ml/operations/trainer-7/metrics");
    let post = |body: &str| match ureq::post(&url)
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    };
    // Train loss falls, validation loss turns up: overfitting.
    let train = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1];
    let val = [1.0, 0.8, 0.6, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8];
    let epochs: Vec<Value> = train
        .iter()
        .zip(val)
        .enumerate()
        .map(|(i, (t, v))| serde_json::json!({"epoch": i + 1, "metrics": {"train_loss": t, "val_loss": v}}))
        .collect();
    let (code, body) = post(&serde_json::json!({ "epochs": epochs }).to_string());
    assert_eq!(code, 201, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["folds"][0]["trend"]["recommendation"], "stop: overfitting");
    assert_eq!(doc["folds"][0]["trend"]["bestEpoch"], 4);
    let got: Value =
        serde_json::from_str(&ureq::get(&url).call().unwrap().into_string().unwrap()).unwrap();
    assert_eq!(got["folds"][0]["epochs"].as_array().unwrap().len(), 9);
    assert_eq!(got["operationId"], "trainer-7");

    for (body, want) in [
        (r#"{"epochs": [{"epoch": 0, "metrics": {"loss": 1}}]}"#, 422),
        (r#"{"epochs": [{"epoch": 1, "metrics": {}}]}"#, 422),
        (r#"{"epochs": []}"#, 422),
        (r#"{"epochs": [{"epoch": 1, "metrics": {"loss": 1}, "extra": 1}]}"#, 400),
        ("{", 400),
    ] {
        assert_eq!(post(body).0, want, "{body}");
    }
    let missing = ureq::get(&format!("{base}/api/ml/operations/nobody/metrics")).call();
    assert!(matches!(missing, Err(ureq::Error::Status(404, _))));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn watch_and_plot_show_a_finished_run() {
    let sb = mlp_sandbox(12);
    let report = eval(&sb, &[]);
    let run_id = report["runId"].as_str().unwrap();
    let out = sb.mlhost(&["watch", run_id]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(&format!("run {run_id}  completed")), "{text}");
    let row = text.lines().find(|l| l.starts_with("net ")).expect("a row for the job");
    assert!(row.contains("succeeded") && row.contains(" 12 "), "latest epoch 12: {row}");
    assert_eq!(sb.mlhost(&["watch", "nope"]).status.code(), Some(2));

    let store = Store::open(&sb.path().join("mlhost.db")).unwrap();
    let job = &store.jobs(run_id).unwrap()[0];
    let svg = sb.path().join("loss.svg");
    let out = sb.mlhost(&["analyze", &job.id, "--plot", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg") && drawn.contains("fold 2 best epoch"), "three folds drawn");
    let out = sb.mlhost(&["analyze", "nobody", "--plot", "x.svg"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Stops the real `gbdt` (through its `.so`) by answering `Stop` at one
/// iteration, or asks it to stop before any.
struct StopAt {
    epoch: u32,
    stop_now: bool,
    seen: Vec<u32>,
}

impl mlhost::plugin::loader::FitHooks for StopAt {
    fn seed(&self) -> u64 {
        0
    }
    fn n_classes(&self) -> usize {
        2
    }
    fn should_stop(&self) -> bool {
        self.stop_now
    }
    fn on_epoch(&mut self, epoch: u32, _: &[(&str, f64)]) -> mlhost_plugin_api::Control {
        self.seen.push(epoch);
        if epoch >= self.epoch {
            mlhost_plugin_api::Control::Stop
        } else {
            mlhost_plugin_api::Control::Continue
        }
    }
}

#[test]
fn gbdt_keeps_its_trees_on_stop_and_fails_as_stopped_when_asked_to_stop() {
    use mlhost::data::dataset::{self, Source, TaskHint};
    use mlhost_plugin_api::{ErrorKind, Matrix};
    let data =
        dataset::load(&Source::Builtin("breast_cancer".into()), None, TaskHint::Infer).unwrap();
    let x = Matrix::new(&data.x, data.rows, data.cols()).unwrap();
    let plugin = mlhost::plugin::loader::load(plugin_so("gbdt")).unwrap();
    let mut model = plugin.new_model(&plugin.info.defaults()).unwrap();
    let mut hooks = StopAt { epoch: 3, stop_now: false, seen: Vec::new() };
    model.fit(x, data.y(), &mut hooks).unwrap();
    assert_eq!(hooks.seen, [1, 2, 3], "no iteration after Stop");
    let mut pred = vec![f64::NAN; data.rows];
    model.predict(x, &mut pred).unwrap();
    let right = pred.iter().zip(data.y()).filter(|(p, y)| p == y).count();
    assert!(right as f64 / data.rows as f64 > 0.9, "three iterations already learn");

    let mut hooks = StopAt { epoch: 100, stop_now: true, seen: Vec::new() };
    let mut model = plugin.new_model(&plugin.info.defaults()).unwrap();
    let err = model.fit(x, data.y(), &mut hooks).unwrap_err();
    assert_eq!((err.kind(), hooks.seen.len()), (ErrorKind::Stopped, 0), "{err}");
}

/// A job alone on the pool gets all of `--workers` as its thread budget, in
/// both isolation modes: the `epochs` fixture reports `ctx.threads()`.
#[test]
fn a_job_alone_on_the_pool_gets_every_worker_thread() {
    let sb = Sandbox::new();
    sb.add_plugin(mlhost_tests::fixture_so("epochs"), "libepochs.so");
    for isolation in ["thread", "process"] {
        let args = ["eval", "--json", "--dataset", "builtin:iris", "--folds", "2"];
        let args = [&args[..], &["--workers", "3", "--isolation", isolation]].concat();
        let out = sb.mlhost(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let store = Store::open(&sb.path().join("mlhost.db")).unwrap();
        let job = &store.jobs(report["runId"].as_str().unwrap()).unwrap()[0];
        let first = &store.epochs(&job.id).unwrap()[0];
        let m: Value = serde_json::from_str(&first.metrics_json).unwrap();
        assert_eq!(m["threads"], 3.0, "{isolation}: {m}");
    }
}
