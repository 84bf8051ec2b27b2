//! `mlhost folds` and the `--cv` splitters through `eval`: the real binary
//! on generated CSVs.

use mlhost_tests::{Sandbox, baseline_so};
use serde_json::Value;

fn folds_json(sb: &Sandbox, args: &[&str]) -> Vec<(Vec<u64>, Vec<u64>)> {
    let mut all = vec!["folds", "--json"];
    all.extend_from_slice(args);
    let out = sb.mlhost(&all);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |v: &Value| v.as_array().unwrap().iter().map(|i| i.as_u64().unwrap()).collect();
    v["folds"].as_array().unwrap().iter().map(|f| (ids(&f["train"]), ids(&f["test"]))).collect()
}

/// 40 rows: `t` (a date, rows in reverse time order), `g` (text group
/// ids, 8 groups of 5), `x`, and a binary label.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    let mut csv = String::from("t,g,x,label\n");
    for i in 0..40 {
        // Reverse time order, each time once, sortable as text.
        csv.push_str(&format!("2024-01-01T00:{:02},patient-{},{i},{}\n", 40 - i, i / 5, i % 2));
    }
    sb.write("data.csv", &csv);
    sb
}

#[test]
fn walk_forward_folds_follow_time_series_split() {
    let sb = sandbox();
    let f = folds_json(
        &sb,
        &[
            "--dataset",
            "builtin:iris",
            "--cv",
            "time-series",
            "--folds",
            "3",
            "--gap",
            "2",
            "--max-train-size",
            "50",
        ],
    );
    // scikit-learn: TimeSeriesSplit(3, gap=2, max_train_size=50) on 150 rows:
    // test sizes 150 // 4 = 37, test starts 39, 76, 113.
    let starts: Vec<u64> = f.iter().map(|(_, te)| te[0]).collect();
    assert_eq!(starts, [39, 76, 113]);
    for (train, test) in &f {
        assert_eq!(test.len(), 37);
        assert_eq!(*train.last().unwrap(), test[0] - 3, "a gap of 2 rows");
        assert!(train.len() <= 50, "a window of 50 at most");
    }
}

#[test]
fn a_time_column_orders_the_split_and_groups_never_straddle_folds() {
    let sb = sandbox();
    let out = sb.mlhost(&[
        "folds",
        "--dataset",
        "data.csv",
        "--cv",
        "time-series",
        "--folds",
        "3",
        "--time-col",
        "t",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("rows are split in the order of 't' (--time-col)")
    );
    let f = folds_json(
        &sb,
        &["--dataset", "data.csv", "--cv", "time-series", "--folds", "3", "--time-col", "t"],
    );
    // Rows are in reverse time order, so the latest rows (0, 1, ...) are tested last.
    assert!(f[2].1.contains(&0) && !f[2].0.contains(&0), "{f:?}");
    assert!(f[0].0.contains(&39), "the earliest row trains first");
    let f = folds_json(
        &sb,
        &["--dataset", "data.csv", "--cv", "group", "--folds", "4", "--group-col", "g"],
    );
    for (train, test) in &f {
        for row in test {
            let group = row / 5;
            assert!(train.iter().all(|r| r / 5 != group), "group {group} is in train and test");
        }
    }
    // The group and time columns are not features: eval runs on x alone.
    for isolation in ["thread", "process"] {
        let out = sb.mlhost(&[
            "eval",
            "--json",
            "--dataset",
            "data.csv",
            "--cv",
            "group",
            "--folds",
            "4",
            "--group-col",
            "g",
            "--time-col",
            "t",
            "--isolation",
            isolation,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["models"][0]["folds"].as_array().unwrap().len(), 4, "{isolation}");
    }
}

#[test]
fn splits_that_cannot_be_made_are_one_line_errors() {
    let sb = sandbox();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--cv", "group", "--folds", "9", "--group-col", "g"],
            "the group column has 8 groups, fewer than 9 folds; use --folds 8 or fewer",
        ),
        (
            &["--cv", "time-series", "--folds", "39", "--test-size", "2"],
            "39 time-series splits of 2 test rows",
        ),
        (&["--cv", "group", "--folds", "3"], "--cv group needs --group-col COLUMN"),
        (&["--gap", "3"], "--gap does not apply to the default k-fold; drop it"),
        (
            &["--cv", "group", "--group-col", "nope"],
            "no column 'nope'; the columns are t, g, x, label",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["folds", "--dataset", "data.csv"];
        args.extend_from_slice(extra);
        let out = sb.mlhost(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(expected), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
