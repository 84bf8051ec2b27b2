//! `mlhost drift` end to end on the CSVs `tests/fixtures/scipy/drift.py csv`
//! generated: `balance` shifted, `region`'s shares moved, the rest drawn
//! again from the same distributions; the JSON numbers against SciPy's
//! (`expected.json` from the same script).

use mlhost_tests::{Sandbox, root};
use serde_json::Value;

fn fixture(name: &str) -> String {
    root().join("tests/fixtures/scipy/drift_cli").join(name).display().to_string()
}

fn drift(sb: &Sandbox, extra: &[&str]) -> std::process::Output {
    let (r, c) = (fixture("reference.csv"), fixture("current.csv"));
    let mut args = vec!["drift", "--reference", &r, "--current", &c];
    args.extend_from_slice(extra);
    sb.mlhost(&args)
}

fn close(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{what}: got {g:e}, SciPy {w:e}");
}

#[test]
fn drift_flags_the_shifted_columns_with_scipys_numbers() {
    let sb = Sandbox::new();
    let out = drift(&sb, &["--label", "churn", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    let want: Value = serde_json::from_str(&text).unwrap();
    let mut drifted: Vec<&str> =
        got["drifted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    drifted.sort_unstable();
    assert_eq!(drifted, ["balance", "region"]);
    let features = got["features"].as_array().unwrap();
    assert_eq!(features.len(), 7, "the label is left out: {features:#?}");
    let psis: Vec<f64> = features.iter().map(|f| f["psi"].as_f64().unwrap()).collect();
    assert!(psis.windows(2).all(|w| w[0] >= w[1]), "sorted by PSI: {psis:?}");
    for w in want["features"].as_array().unwrap() {
        let name = w["name"].as_str().unwrap();
        let g = features.iter().find(|f| f["name"] == name).unwrap();
        assert_eq!(g["kind"], w["kind"], "{name}");
        assert_eq!(g["test"], if w["kind"] == "numeric" { "ks" } else { "chi2" }, "{name}");
        close(&g["psi"], &w["psi"], &format!("{name} psi"));
        close(&g["pValue"], &w["pValue"], &format!("{name} p"));
        for stat in ["ksStatistic", "chi2Statistic"] {
            match w.get(stat) {
                Some(v) => close(&g[stat], v, &format!("{name} {stat}")),
                None => assert!(g[stat].is_null(), "{name} {stat}"),
            }
        }
        assert_eq!(g["drift"], name == "balance" || name == "region", "{name}");
    }
    assert_eq!(features[0]["psiLevel"], "drift", "region first: {:#}", features[0]);
}

#[test]
fn drift_prints_a_table_and_a_summary_line() {
    let sb = Sandbox::new();
    let out = drift(&sb, &["--label", "churn"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    assert_eq!(last, "2 of 7 features drifted: region, balance", "{text}");
    assert!(text.contains("FEATURE"), "{text}");
}

#[test]
fn drift_thresholds_change_the_flags() {
    let sb = Sandbox::new();
    let out = drift(&sb, &["--label", "churn", "--psi-threshold", "5", "--alpha", "1e-30"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with("1 of 7 features drifted: region\n"), "{text}");
}

fn bad(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.mlhost(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn drift_bad_input_is_one_line_naming_the_column_and_the_fix() {
    let sb = Sandbox::new();
    sb.write("a.csv", "x,color,y\n1,red,0\n2,blue,1\n");
    sb.write("b.csv", "x,y\n1,0\n3,1\n");
    sb.write("kinds.csv", "x,color,y\n1,3,0\n2,4,1\n");
    sb.write("other.csv", "x,color,y\nlow,red,0\nhigh,blue,1\n");
    sb.write("empty.csv", "");
    sb.write("header.csv", "x,color,y\n");
    let run = |r: &str, c: &str| bad(&sb, &["drift", "--reference", r, "--current", c]);
    let e = run("a.csv", "b.csv");
    assert!(e.contains("column 'color' is in a.csv but not in b.csv; give both"), "{e}");
    let e = run("b.csv", "a.csv");
    assert!(e.contains("column 'color' is in a.csv but not in b.csv"), "{e}");
    let e = run("a.csv", "kinds.csv");
    assert!(e.contains("column 'color' is text in a.csv but numbers in kinds.csv; make it"), "{e}");
    let e = run("a.csv", "other.csv");
    assert!(e.contains("column 'x' is numbers in a.csv but text in other.csv"), "{e}");
    let e = run("a.csv", "empty.csv");
    assert!(e.contains("empty.csv: the file is empty"), "{e}");
    let e = run("header.csv", "a.csv");
    assert!(e.contains("header.csv: no data rows"), "{e}");
    let e = run("a.csv", "missing.csv");
    assert!(e.contains("missing.csv: cannot read"), "{e}");
    let e = bad(&sb, &["drift", "--reference", "a.csv", "--current", "a.csv", "--label", "z"]);
    assert!(e.contains("a.csv: no label column 'z'; its columns are x, color, y"), "{e}");
    let e = bad(&sb, &["drift", "--reference", "a.csv", "--current", "a.csv", "--alpha", "2"]);
    assert!(e.contains("--alpha 2: give a number between 0 and 1"), "{e}");
}
