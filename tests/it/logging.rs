//! The host's log: `tracing` to stderr, as JSON lines with
//! `--log-format json`, carrying the run > job > fold spans; stdout keeps
//! only what the command prints for its user.

use mlhost_tests::{Sandbox, baseline_so};
use serde_json::Value;

/// Every stderr line of a JSON-logging `eval` parses, and the run's events
/// carry its id in their spans.
#[test]
fn json_log_lines_parse_and_carry_the_run_id() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    // A candidate whose plugin is not there: its job fails without running.
    sb.write("config/models.toml", "[[model]]\nid = \"ghost\"\nplugin = \"ghost\"\n");
    let out = sb.mlhost_env(
        &["--log-format", "json", "eval", "--json", "--dataset", "builtin:iris", "--folds", "2"]
            .into_iter()
            .chain(["--models", "baseline,ghost"])
            .collect::<Vec<_>>(),
        &[("RUST_LOG", "debug")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is the report only");
    let run_id = report["runId"].as_str().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let in_run =
        |l: &&Value| l["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["run_id"] == run_id));
    let msg = |l: &Value| l["fields"]["message"].as_str().unwrap_or("").to_owned();
    let run_lines: Vec<&Value> = lines.iter().filter(in_run).collect();
    assert!(run_lines.iter().any(|l| msg(l) == "run started"), "{stderr}");
    assert!(run_lines.iter().any(|l| msg(l) == "run finished"), "{stderr}");
    // A fold's timing nests run > job > fold.
    let fold = run_lines.iter().find(|l| msg(l) == "fold scored").expect("a fold line");
    let names: Vec<&str> =
        fold["spans"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["run", "job", "fold"]);
    assert!(fold["fields"]["fit_seconds"].is_number());
    // The failed job is a WARN naming its model and why.
    let warn = run_lines
        .iter()
        .find(|l| l["level"] == "WARN" && l["fields"]["model"] == "ghost")
        .expect("a WARN for the failed job");
    assert!(warn["fields"]["reason"].as_str().unwrap().contains("rejected"), "{warn}");
    // Discovery says which plugins it found, outside any run.
    assert!(
        lines.iter().any(|l| msg(l) == "plugin discovered" && l["fields"]["model"] == "baseline")
    );
}

/// Without `RUST_LOG`, a successful command writes nothing to stderr
/// (`warn` is the default level) and `text` is the default format.
#[test]
fn the_default_log_is_quiet_for_a_clean_run() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    let out =
        sb.mlhost(&["eval", "--dataset", "builtin:iris", "--folds", "2", "--models", "baseline"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let out = sb.mlhost_env(&["registry"], &[("RUST_LOG", "info")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("INFO") && stderr.contains("plugin discovered"), "{stderr}");
    assert!(!stderr.trim_start().starts_with('{'), "{stderr}");
}
