//! `--fairness-col` on `eval` and `show`: the real binary and the logistic
//! plugin on a CSV whose groups are predicted very differently, the
//! column kept out of the features, and the runs and columns refused.

use mlhost_tests::{Sandbox, plugin_so};
use serde_json::Value;

/// 200 rows: `x1` (shifted by the group, and what the label follows),
/// `x2` (noise), `region` (80 `north`, 120 `south`) and a binary label: 1
/// where `x1 > 0`, flipped on every 13th row so that both groups have both
/// classes.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    for p in ["logistic", "linear"] {
        sb.add_plugin(plugin_so(p), &format!("lib{p}.so"));
    }
    let mut csv = String::from("x1,x2,region,label\n");
    for i in 0..200 {
        let north = i % 5 < 2;
        let x1 = if north { -2.0 } else { 2.0 } + ((i * 37) % 11) as f64 / 5.0 - 1.0;
        let label = u8::from(x1 > 0.0) ^ u8::from(i % 13 == 0);
        let region = if north { "north" } else { "south" };
        csv.push_str(&format!("{x1},{},{region},{label}\n", (i * 7) % 10));
    }
    sb.write("data.csv", &csv);
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

/// Exit 2 and exactly one line on stderr containing each of `says`.
fn refused(sb: &Sandbox, args: &[&str], says: &[&str]) {
    let out = sb.mlhost(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for s in says {
        assert!(err.contains(s), "{s:?} not in {err}");
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

const EVAL: [&str; 5] = ["eval", "--dataset", "data.csv", "--models", "logistic"];

#[test]
fn eval_and_show_report_the_same_groups_and_a_large_parity_gap() {
    let sb = sandbox();
    let mut args = EVAL.to_vec();
    args.extend(["--fairness-col", "region"]);
    let run = json(&sb, &args);
    let id = run["runId"].as_str().unwrap();
    assert_eq!(run["models"][0]["status"], "succeeded");
    let fairness = &run["fairness"];
    assert_eq!((&fairness["runId"], &fairness["column"]), (&run["runId"], &"region".into()));
    assert_eq!(fairness["positiveLabel"], "1");
    let m = &fairness["models"][0];
    assert_eq!((&m["modelId"], &m["jobId"]), (&"logistic".into(), &run["models"][0]["jobId"]));
    let groups = m["groups"].as_array().unwrap();
    let rows: Vec<(&str, u64)> = groups
        .iter()
        .map(|g| (g["group"].as_str().unwrap(), g["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [("north", 80), ("south", 120)]);
    let (north, south) = (f(&groups[0]["selectionRate"]), f(&groups[1]["selectionRate"]));
    assert!(north < 0.2 && south > 0.8, "{m}");
    let dpd = f(&m["demographicParityDifference"]);
    assert!((dpd - (south - north)).abs() < 1e-12, "{m}");
    let tpr = |g: &Value| f(&g["tpr"]);
    let fpr = |g: &Value| f(&g["fpr"]);
    let eod =
        (tpr(&groups[0]) - tpr(&groups[1])).abs().max((fpr(&groups[0]) - fpr(&groups[1])).abs());
    assert!((f(&m["equalizedOddsDifference"]) - eod).abs() < 1e-12, "{m}");
    assert_eq!(m["warnings"], serde_json::json!([]));

    // `show` reads the same cells again from the file.
    let shown = json(&sb, &["show", id, "--fairness-col", "region"]);
    assert_eq!(&shown, fairness);
    // The column was never a feature: permutation importance knows x1 and x2 only.
    let imp = json(&sb, &["importance", id, "--model", "logistic", "--repeats", "1"]);
    let names: Vec<&str> =
        imp["features"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{imp}");
    assert!(names.contains(&"x1") && names.contains(&"x2"), "{imp}");

    let out = sb.mlhost(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("bias check of run") && text.contains("SELECTION_RATE"), "{text}");
    let line = format!("logistic: demographic parity difference {dpd:.4}, equalized odds");
    assert!(text.contains(&line), "{text}");
}

#[test]
fn show_groups_a_feature_column_of_a_run_and_refuses_a_changed_file() {
    let sb = sandbox();
    let run = json(&sb, &EVAL);
    let id = run["runId"].as_str().unwrap();
    let shown = json(&sb, &["show", id, "--fairness-col", "region"]);
    let groups = shown["models"][0]["groups"].as_array().unwrap();
    assert_eq!(groups.iter().map(|g| g["rows"].as_u64().unwrap()).collect::<Vec<_>>(), [80, 120]);
    assert!(f(&shown["models"][0]["demographicParityDifference"]) > 0.6, "{shown}");
    refused(&sb, &["show", id, "--fairness-col", "label"], &["'label' is the label"]);
    refused(
        &sb,
        &["show", id, "--fairness-col", "nope"],
        &["no column 'nope'", "x1, x2, region, label"],
    );
    let csv = std::fs::read_to_string(sb.path().join("data.csv")).unwrap();
    sb.write("data.csv", &csv.replacen("north", "east", 1));
    refused(&sb, &["show", id, "--fairness-col", "region"], &["data.csv changed since", id]);
}

#[test]
fn regression_runs_and_missing_columns_are_one_line_refusals() {
    let sb = sandbox();
    let diabetes = ["eval", "--dataset", "builtin:diabetes", "--models", "linear"];
    let run = json(&sb, &diabetes);
    let id = run["runId"].as_str().unwrap();
    refused(&sb, &["show", id, "--fairness-col", "sex"], &["no bias check for regression", id]);
    let mut args = diabetes.to_vec();
    args.extend(["--fairness-col", "sex"]);
    refused(&sb, &args, &["--fairness-col sex", "binary classification", "regression"]);
    let mut args = EVAL.to_vec();
    args.extend(["--fairness-col", "nope"]);
    refused(&sb, &args, &["no column 'nope'", "x1, x2, region, label"]);
    let runs = json(&sb, &["runs"]);
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1, "refused runs store nothing");
}
