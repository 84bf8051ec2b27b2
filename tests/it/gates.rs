//! `--gate` on `eval`: thresholds and `better-than`, exit 3 with one line
//! per failed gate, exit 2 for a gate the run cannot check.

use mlhost_tests::{Sandbox, baseline_so, plugin_so};

#[test]
fn gates_pass_fail_with_exit_3_or_are_refused() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"baseline\"\nplugin = \"baseline\"\n\n[[model]]\nid = \"logistic\"\nplugin = \"logistic\"\nscale = \"standard\"\n",
    );
    let eval = |gates: &[&str]| {
        let mut args = vec!["eval", "--json", "--dataset", "builtin:breast_cancer", "--folds", "5"];
        for g in gates {
            args.extend(["--gate", g]);
        }
        let out = sb.mlhost(&args);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = eval(&["f1>=0.95", "log_loss<=0.3", "better-than:baseline"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = eval(&["f1>=0.999", "accuracy>=0.5"]);
    assert_eq!(code, Some(3), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gate ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("gate f1>=0.999 failed: logistic has f1 = 0.98"), "{err}");
    let (code, err) = eval(&["roc_auc_ovr>=0.5"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--gate roc_auc_ovr>=0.5: the run has no metric 'roc_auc_ovr'"), "{err}");
    let (code, err) = eval(&["better-than:logistic"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("logistic is the run's pick itself"), "{err}");
    // compare takes the same gates on a stored run.
    let out = sb.mlhost(&["runs", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = runs["runs"][0]["runId"].as_str().unwrap().to_owned();
    let compare = |gate: &str| sb.mlhost(&["compare", &run, "--gate", gate]).status.code();
    assert_eq!(compare("better-than:baseline"), Some(0));
    assert_eq!(compare("f1>=0.999"), Some(3));
    let (code, err) = eval(&["f1=0.9"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("write METRIC>=VALUE"), "{err}");
}
