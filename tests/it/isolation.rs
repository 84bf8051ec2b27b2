//! Process isolation: plugins that crash, abort, exit, eat memory or hang
//! fail alone, each with its precise reason, and the host finishes the run.

use mlhost_tests::{Sandbox, baseline_so, fixture_so, plugin_so};
use serde_json::Value;

fn entry(id: &str, plugin: &str, params: &str) -> String {
    format!("[[model]]\nid = \"{id}\"\nplugin = \"{plugin}\"\nparams = {{ {params} }}\n\n")
}

fn model<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["models"].as_array().unwrap().iter().find(|m| m["modelId"] == id).unwrap()
}

#[test]
fn crashing_plugins_fail_alone_with_their_reasons() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    sb.add_plugin(fixture_so("panic-fit"), "libpanic_fit.so");
    sb.write(
        "config/mlhost.toml",
        "plugin_dirs = [\"../plugins\"]\n[eval]\nisolation = \"process\"\nmax_memory_mb = 256\nquarantine_after = 100\n",
    );
    let models = [
        entry("base", "baseline", ""),
        entry("logistic", "logistic", ""),
        entry("segfault", "misbehave", "mode = \"segfault\""),
        entry("abort", "misbehave", "mode = \"abort\""),
        entry("exit", "misbehave", "mode = \"exit\""),
        entry("hog", "misbehave", "mode = \"alloc\""),
        entry("nan", "misbehave", "mode = \"nan\""),
        entry("panics", "panic-fit", ""),
    ]
    .concat();
    sb.write("config/models.toml", &models);
    let ids = "base,logistic,segfault,abort,exit,hog,nan,panics";
    let args = ["eval", "--json", "--models", ids, "--workers", "3", "--dataset", "builtin:iris"];
    let out = sb.mlhost(&args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "completed");
    for id in ["base", "logistic"] {
        assert_eq!(model(&report, id)["status"], "succeeded", "{id}");
    }
    assert!(model(&report, "logistic")["metrics"]["accuracy"].as_f64().unwrap() > 0.9);
    let cases = [
        ("segfault", "failed", "worker process killed by SIGSEGV"),
        ("abort", "failed", "worker process killed by SIGABRT"),
        ("exit", "failed", "worker process exited with code 3"),
        ("hog", "failed", "exceeded memory limit of 256 MB"),
        ("nan", "failed", "fold 0: predict returned NaN"),
        ("panics", "failed", "fold 0: fit: fit panicked: index out of bounds"),
    ];
    for (id, status, reason) in cases {
        let m = model(&report, id);
        assert_eq!(m["status"], status, "{id}: {m:#}");
        let error = m["error"].as_str().unwrap();
        assert!(error.starts_with(reason), "{id}: {error:?} should start with {reason:?}");
    }
    // A panic's place survives the trip through the worker process.
    let panicked = model(&report, "panics")["error"].as_str().unwrap();
    assert!(panicked.contains("(at panic-fit/src/lib.rs:"), "{panicked}");
}

#[test]
fn a_hung_plugin_is_killed_at_its_deadline() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    sb.write(
        "config/mlhost.toml",
        "plugin_dirs = [\"../plugins\"]\n[eval]\nisolation = \"process\"\n",
    );
    sb.write(
        "config/models.toml",
        &[entry("base", "baseline", ""), entry("hang", "misbehave", "mode = \"spin-forever\"")]
            .concat(),
    );
    let started = std::time::Instant::now();
    let out = sb.mlhost(&[
        "eval",
        "--json",
        "--models",
        "base,hang",
        "--timeout-secs",
        "2",
        "--dataset",
        "builtin:iris",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(model(&report, "base")["status"], "succeeded");
    assert_eq!(model(&report, "hang")["status"], "timed_out");
    assert_eq!(model(&report, "hang")["error"], "timed out after 2s");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the hung worker was not killed"
    );
}

#[test]
fn a_plugin_that_keeps_crashing_is_quarantined() {
    let sb = Sandbox::new();
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    sb.write(
        "config/mlhost.toml",
        "plugin_dirs = [\"../plugins\"]\n[eval]\nisolation = \"process\"\nquarantine_after = 2\n",
    );
    let models: String =
        (0..4).map(|i| entry(&format!("crash-{i}"), "misbehave", "mode = \"abort\"")).collect();
    sb.write("config/models.toml", &models);
    let out = sb.mlhost(&["eval", "--json", "--workers", "1", "--dataset", "builtin:iris"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<&str> =
        (0..4).map(|i| model(&report, &format!("crash-{i}"))["error"].as_str().unwrap()).collect();
    assert!(errors[0].starts_with("worker process killed by SIGABRT"), "{errors:?}");
    assert!(errors[1].starts_with("worker process killed by SIGABRT"), "{errors:?}");
    for e in &errors[2..] {
        assert_eq!(
            *e,
            "quarantined: plugin 'misbehave' crashed 2 times in this run; not started again"
        );
    }
}

#[test]
fn a_run_killed_with_sigkill_resumes_without_losing_or_duplicating_work() {
    use mlhost::store::Store;
    use std::time::{Duration, Instant};

    let sb = Sandbox::new();
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    let n = 8;
    let models: String = (0..n)
        .map(|i| entry(&format!("slow-{i}"), "misbehave", "mode = \"sleep\", ms = 100"))
        .collect();
    sb.write("config/models.toml", &models);
    let ids: Vec<String> = (0..n).map(|i| format!("slow-{i}")).collect();
    let ids = ids.join(",");
    let args =
        ["eval", "--models", &ids, "--workers", "2", "--folds", "3", "--dataset", "builtin:iris"];
    /// Kills and reaps the host whatever happens in the test.
    struct Reaped(std::process::Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut host = Reaped(
        std::process::Command::new(mlhost_tests::mlhost_bin())
            .current_dir(sb.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Kill the host (SIGKILL) once some jobs are done and others are not.
    let db = sb.path().join("mlhost.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    let run_id = loop {
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(10));
        let Ok(store) = Store::open(&db) else { continue };
        let Some(run) = store.runs().unwrap().into_iter().next() else { continue };
        let done = store.jobs(&run.id).unwrap().iter().filter(|j| j.status == "succeeded").count();
        if done >= 2 {
            host.0.kill().unwrap(); // SIGKILL
            host.0.wait().unwrap();
            break run.id;
        }
    };
    let store = Store::open(&db).unwrap();
    let before = store.jobs(&run_id).unwrap();
    let finished: Vec<_> = before.iter().filter(|j| j.status == "succeeded").cloned().collect();
    assert!(finished.len() < n, "the kill came too late to test anything");
    assert_eq!(store.run(&run_id).unwrap().unwrap().status, "running");

    let out = sb.mlhost(&["eval", "--resume", &run_id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runId"], run_id.as_str());
    assert_eq!(report["status"], "completed");

    let after = store.jobs(&run_id).unwrap();
    assert_eq!(after.len(), n);
    for job in &after {
        assert_eq!(job.status, "succeeded", "{job:?}");
    }
    // Jobs finished before the kill were not run again.
    for old in &finished {
        let now = after.iter().find(|j| j.id == old.id).unwrap();
        assert_eq!(
            (now.attempts, &now.finished_at),
            (1, &old.finished_at),
            "{} ran again",
            old.model_id
        );
    }
    // Every job has exactly its rows: folds + the mean, no duplicates.
    let results = store.results(&run_id).unwrap();
    assert_eq!(results.len(), n * (3 + 1));
    let mut keys: Vec<(String, i64)> =
        results.iter().map(|r| (r.model_id.clone(), r.fold)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n * 4);
    // Resuming a finished run changes nothing.
    let again = sb.mlhost(&["eval", "--resume", &run_id, "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&again.stdout).unwrap(), report);
    assert_eq!(store.results(&run_id).unwrap().len(), n * 4);
}

#[test]
fn ctrl_c_cancels_cleanly_and_the_run_can_be_resumed() {
    cancels_cleanly_on("-INT");
}

/// `kill` (a service manager's stop, a container's shutdown) cancels as
/// Ctrl-C does, never leaving a run `running`.
#[test]
fn sigterm_cancels_cleanly_and_the_run_can_be_resumed() {
    cancels_cleanly_on("-TERM");
}

/// An `eval` of four slow candidates (run through `wrapper`, e.g. `nohup`,
/// when given), returned once one of its jobs is running, with its run id.
fn slow_eval_running(
    sb: &Sandbox,
    wrapper: Option<&str>,
) -> (std::process::Child, mlhost::domain::RunId) {
    use mlhost::store::Store;
    use std::time::{Duration, Instant};

    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    let models: String = (0..4)
        .map(|i| entry(&format!("slow-{i}"), "misbehave", "mode = \"sleep\", ms = 300"))
        .collect();
    sb.write("config/models.toml", &models);
    let args = ["eval", "--workers", "1", "--folds", "2", "--dataset", "builtin:iris"];
    let bin = mlhost_tests::mlhost_bin();
    let mut command = match wrapper {
        Some(w) => {
            let mut c = std::process::Command::new(w);
            c.arg(bin);
            c
        }
        None => std::process::Command::new(bin),
    };
    let host = command
        .current_dir(sb.path())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let db = sb.path().join("mlhost.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    let run_id = loop {
        std::thread::sleep(Duration::from_millis(10));
        let running = Store::open(&db).ok().and_then(|s| {
            let run = s.runs().ok()?.into_iter().next()?;
            s.jobs(&run.id).ok()?.iter().any(|j| j.status == "running").then_some(run.id)
        });
        if let Some(id) = running {
            break id;
        }
        if Instant::now() > deadline {
            break String::new().into();
        }
    };
    (host, run_id)
}

fn cancels_cleanly_on(signal: &str) {
    use mlhost::store::Store;

    let sb = Sandbox::new();
    let (host, run_id) = slow_eval_running(&sb, None);
    let kill = std::process::Command::new("kill").args([signal, &host.id().to_string()]).status();
    let out = host.wait_with_output().unwrap();
    assert!(!run_id.is_empty(), "no job ever ran");
    assert!(kill.unwrap().success());
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("mlhost eval --resume {run_id}"))
    );

    let db = sb.path().join("mlhost.db");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.run(&run_id).unwrap().unwrap().status, "cancelled");
    let jobs = store.jobs(&run_id).unwrap();
    assert!(jobs.iter().any(|j| j.status == "cancelled"), "{jobs:?}");
    assert!(jobs.iter().all(|j| j.status == "cancelled" || j.status == "succeeded"), "{jobs:?}");

    let out = sb.mlhost(&["eval", "--resume", &run_id, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "completed");
    assert!(report["models"].as_array().unwrap().iter().all(|m| m["status"] == "succeeded"));
}

/// Under `nohup`, a SIGHUP (the terminal closing) is ignored, as the user
/// asked: the run goes on to the end.
#[test]
fn a_run_started_with_nohup_survives_sighup() {
    let sb = Sandbox::new();
    let (host, run_id) = slow_eval_running(&sb, Some("nohup"));
    assert!(!run_id.is_empty(), "no job ever ran");
    let kill = std::process::Command::new("kill").args(["-HUP", &host.id().to_string()]).status();
    assert!(kill.unwrap().success());
    let out = host.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let store = mlhost::store::Store::open(&sb.path().join("mlhost.db")).unwrap();
    assert_eq!(store.run(&run_id).unwrap().unwrap().status, "completed");
}
