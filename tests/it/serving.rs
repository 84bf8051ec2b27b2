//! Serving over a real socket: models trained with `mlhost train`, served
//! by `mlhost serve`, asked over one keep-alive connection; the fallback
//! for a corrupt artifact; a plugin copied into the plugin dir of a
//! running server; models that segfault or hang in predict, each in its
//! worker process.

use std::time::{Duration, Instant};

use mlhost::config::Config;
use mlhost::data::dataset::{self, Source, TaskHint};
use mlhost::data::target::Target;
use mlhost::domain::ModelRef;
use mlhost::registry::Registry;
use mlhost::service::models;
use mlhost::store::Store;
use mlhost::store::artifacts::Artifacts;
use mlhost_tests::{Sandbox, plugin_so};
use serde_json::{Value, json};

/// `mlhost train --json` with `args`; the printed report.
fn train(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["train", "--json", "--dataset", "builtin:iris"];
    all.extend_from_slice(args);
    let out = sb.mlhost(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// POSTs `body` with `agent`; (status, JSON body).
fn post(agent: &ureq::Agent, url: &str, body: &Value) -> (u16, Value) {
    let req = agent.post(url).set("Content-Type", "application/json");
    let resp = match req.send_string(&body.to_string()) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    (resp.status(), serde_json::from_str(&resp.into_string().unwrap()).unwrap())
}

fn get(url: &str) -> Value {
    serde_json::from_str(&ureq::get(url).call().unwrap().into_string().unwrap()).unwrap()
}

#[test]
fn served_predictions_equal_the_library_and_the_training_metrics() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    let trained = train(&sb, &["--model", "logistic", "--name", "iris"]);
    let train_accuracy = trained["version"]["metrics"]["training"]["train_accuracy"].as_f64();
    let data = dataset::load(&Source::parse("builtin:iris"), None, TaskHint::Infer).unwrap();
    let Target::Classes { y, labels } = &data.target else { panic!("iris is classification") };
    // In process: the version loaded from the same store and artifacts.
    let config = Config::load(&sb.path().join("config/mlhost.toml")).unwrap();
    let registry = Registry::discover_unprobed(&config).unwrap();
    let store = Store::open(&config.database).unwrap();
    let artifacts = Artifacts::new(&config.artifacts);
    let r = ModelRef::Name("iris".into());
    let (_, model) = models::load(&registry, &store, &artifacts, &r).unwrap();
    let local = model.predict(&data.x, data.rows, true).unwrap();
    let proba = local.proba.unwrap();

    let s = sb.serve(&[]);
    // One agent: one keep-alive connection for every request.
    let agent = ureq::AgentBuilder::new().max_idle_connections(1).build();
    let url = format!("{}/api/ml/models/iris/predict", s.url);
    let mut right = 0;
    for (i, row) in data.x.chunks(data.cols()).enumerate() {
        let (code, body) = post(&agent, &url, &json!({"rows": [row]}));
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["predictions"][0], model.label(local.values[i]), "row {i}");
        for (k, label) in labels.iter().enumerate() {
            assert_eq!(body["probabilities"][0][label].as_f64(), Some(proba[i * 3 + k]), "row {i}");
        }
        right += usize::from(body["predictions"][0] == labels[y[i] as usize]);
    }
    assert_eq!(Some(right as f64 / data.rows as f64), train_accuracy);
    // The whole dataset in one batch answers the same.
    let rows: Vec<&[f64]> = data.x.chunks(data.cols()).collect();
    let batch = json!({"model": "iris:1", "rows": rows});
    let (code, body) = post(&agent, &format!("{}/api/ml/batch-predict", s.url), &batch);
    assert_eq!(code, 200, "{body}");
    let want: Vec<String> = local.values.iter().map(|&v| model.label(v)).collect();
    assert_eq!(body["predictions"], json!(want));
    let versions = get(&format!("{}/api/ml/models/iris/versions", s.url));
    assert_eq!(versions["versions"][0]["artifact"], trained["version"]["artifact"]);
}

/// Pids of `serve-worker` processes running in `dir` (the server's folder).
fn workers_in(dir: &std::path::Path) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cwd = std::fs::read_link(entry.path().join("cwd")).ok();
        if cmdline.split(|&b| b == 0).any(|a| a == b"serve-worker") && cwd.as_deref() == Some(dir) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_model_that_crashes_or_hangs_in_predict_is_a_503_for_it_alone() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.add_plugin(mlhost_tests::fixture_so("misbehave"), "libmisbehave.so");
    let config = "plugin_dirs = [\"../plugins\"]\n\n[api]\nmax_body_kb = 1024\n\n[serving]\ntimeout_secs = 1\nmax_memory_mb = 256\n";
    sb.write("config/mlhost.toml", config);
    train(&sb, &["--model", "logistic", "--name", "iris"]);
    train(&sb, &["--model", "misbehave", "--name", "crashy", "--param", "mode=segfault-predict"]);
    train(&sb, &["--model", "misbehave", "--name", "stuck", "--param", "mode=hang-predict"]);
    train(&sb, &["--model", "misbehave", "--name", "hog", "--param", "mode=alloc-predict"]);

    let s = sb.serve(&[]);
    let agent = ureq::agent();
    let url = |model: &str| format!("{}/api/ml/models/{model}/predict", s.url);
    let predict = |model: &str, first: f64| {
        post(&agent, &url(model), &json!({"rows": [[first, 3.5, 1.4, 0.2]]}))
    };
    assert_eq!(predict("crashy", 5.1).0, 200);
    let (code, crash) = predict("crashy", -1.0);
    assert_eq!(code, 503, "{crash}");
    let detail = crash["detail"].as_str().unwrap();
    assert!(detail.contains("crashy:1: predict: worker process killed by SIGSEGV"), "{detail}");
    // A fresh worker answers the next request; the server and the other
    // models never noticed.
    assert_eq!(predict("crashy", 5.1).0, 200);
    assert_eq!(predict("iris", 5.1).0, 200);

    let asked = Instant::now();
    let (code, hung) = predict("stuck", -1.0);
    assert_eq!(code, 503, "{hung}");
    let detail = hung["detail"].as_str().unwrap();
    let said = "predict did not answer within 1 s; its worker process was killed (raise [serving] timeout_secs";
    assert!(detail.contains(said), "{detail}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the timeout answered: {:?}",
        asked.elapsed()
    );
    assert_eq!(predict("stuck", 5.1).0, 200);
    let (code, hog) = predict("hog", -1.0);
    assert_eq!(code, 503, "{hog}");
    let detail = hog["detail"].as_str().unwrap();
    assert!(detail.contains("hog:1: predict: exceeded memory limit of 256 MB"), "{detail}");
    assert_eq!(predict("hog", 5.1).0, 200);

    // A batch larger than a pipe's buffer, and calls at once (one worker
    // per call, up to the cores), answer as one call at a time does.
    let rows: Vec<[f64; 4]> =
        (0..5000).map(|i| [4.0 + (i % 40) as f64 / 10.0, 3.0, 1.4, 0.2]).collect();
    let (code, big) = post(&agent, &url("iris"), &json!({"rows": rows}));
    assert_eq!((code, big["predictions"].as_array().map(Vec::len)), (200, Some(5000)));
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (url, big, rows) = (url("iris"), &big, &rows);
            scope.spawn(move || {
                let agent = ureq::agent();
                for i in (t..5000).step_by(500) {
                    let (code, one) = post(&agent, &url, &json!({"rows": [rows[i]]}));
                    assert_eq!((code, &one["predictions"][0]), (200, &big["predictions"][i]));
                }
            });
        }
    });
    assert_eq!(get(&format!("{}/health", s.url))["status"], "ok");

    // A worker stuck in a plugin call when the server dies ends too.
    let stuck = std::thread::spawn({
        let url = url("stuck");
        move || {
            let body = json!({"rows": [[-1.0, 3.5, 1.4, 0.2]]}).to_string();
            ureq::post(&url).set("Content-Type", "application/json").send_string(&body).is_ok()
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!workers_in(sb.path()).is_empty(), "the workers run in the server's folder");
    let log = s.stop();
    let _ = stuck.join();
    let stopped = Instant::now();
    while !workers_in(sb.path()).is_empty() {
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "workers outlived the server: {:?}",
            workers_in(sb.path())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!log.contains("panicked"), "the server never panicked:\n{log}");
}

#[test]
fn a_corrupt_artifact_is_answered_by_the_fallback_with_a_warning() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.add_plugin(plugin_so("baseline"), "libbaseline.so");
    sb.write(
        "config/mlhost.toml",
        "plugin_dirs = [\"../plugins\"]\n\n[serving]\nfallback = \"iris-base\"\n",
    );
    let trained = train(&sb, &["--model", "logistic", "--name", "iris"]);
    train(&sb, &["--model", "baseline", "--name", "iris-base"]);
    let artifact = trained["artifactPath"].as_str().unwrap();
    let mut bytes = std::fs::read(artifact).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(artifact, bytes).unwrap();

    let s = sb.serve(&[]);
    let agent = ureq::agent();
    let rows = json!({"rows": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]});
    let (code, base) = post(&agent, &format!("{}/api/ml/models/iris-base/predict", s.url), &rows);
    assert_eq!((code, &base["fallback"]), (200, &json!(false)), "{base}");
    let (code, body) = post(&agent, &format!("{}/api/ml/models/iris/predict", s.url), &rows);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["fallback"], true);
    assert_eq!((&body["model"], &body["version"]), (&json!("iris-base"), &json!(1)));
    assert_eq!(body["predictions"], base["predictions"]);
    let log = s.stop();
    let warn = log.lines().find(|l| l.contains("answered by the fallback model"));
    let warn = warn.unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
    assert!(warn.contains("WARN") && warn.contains("does not match its checksum"), "{warn}");
}

#[test]
fn a_plugin_copied_into_a_running_server_is_loaded_and_serves() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    let base = sb.add_plugin(plugin_so("baseline"), "libbaseline.so");
    train(&sb, &["--model", "baseline", "--name", "iris-base"]);
    std::fs::remove_file(&base).unwrap();

    let s = sb.serve(&[]);
    assert_eq!(get(&format!("{}/health", s.url))["models"]["ready"], 1);
    let agent = ureq::agent();
    let url = format!("{}/api/ml/models/iris-base/predict", s.url);
    let rows = json!({"rows": [[5.1, 3.5, 1.4, 0.2]]});
    let (code, body) = post(&agent, &url, &rows);
    assert_eq!(code, 503, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("'baseline'"), "{body}");

    let copied = Instant::now();
    sb.add_plugin(plugin_so("baseline"), "libbaseline.so");
    let seen = loop {
        let health = get(&format!("{}/health", s.url));
        if health["models"]["ready"] == 2 {
            break copied.elapsed();
        }
        assert!(copied.elapsed() < Duration::from_secs(10), "not reloaded: {health}");
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("hot reload visible after {} ms", seen.as_millis());
    assert!(seen < Duration::from_secs(5), "reloaded after {seen:?}");
    let report = get(&format!("{}/api/ml/models", s.url));
    let ids: Vec<&str> =
        report["models"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["baseline", "logistic"]);
    let (code, body) = post(&agent, &url, &rows);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["fallback"], false);
    assert!(s.stop().contains("plugins reloaded"));
}

#[test]
fn models_toml_edited_under_a_running_server_is_reloaded_and_a_broken_one_is_not() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    let s = sb.serve(&[]);
    let ids = || {
        let report = get(&format!("{}/api/ml/models", s.url));
        let models = report["models"].as_array().unwrap().iter();
        models.map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(ids(), ["logistic"]);
    let until = |want: &[&str]| {
        let edited = Instant::now();
        while ids() != want {
            assert!(edited.elapsed() < Duration::from_secs(10), "not reloaded: {:?}", ids());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // Saved as an editor does: a new file renamed over the old one.
    let entry =
        "[[model]]\nid = \"logistic-strong\"\nplugin = \"logistic\"\nparams = { c = 10.0 }\n";
    sb.write("config/models.toml.tmp", entry);
    std::fs::rename(sb.path().join("config/models.toml.tmp"), sb.path().join("config/models.toml"))
        .unwrap();
    until(&["logistic-strong"]);
    // A file that does not read leaves the registry in use as it was.
    sb.write("config/models.toml", "[[model]]\nid = \"x\"\nplugn = \"logistic\"\n");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ids(), ["logistic-strong"]);
    let log = s.stop();
    let warn =
        log.lines().find(|l| l.contains("plugin reload failed")).unwrap_or_else(|| panic!("{log}"));
    assert!(warn.contains("models.toml:3") && warn.contains("plugn"), "{warn}");
}
