//! Trading metrics (`--returns-col`) and the overfitting check
//! (`train_*`, `overfit_gap`) through `eval`: the real binary on generated
//! CSVs.

use mlhost_tests::{Sandbox, baseline_so, plugin_so};
use serde_json::Value;

/// 200 daily rows: `ret` (the next day's return), `signal` (ret scaled,
/// plus a little noise: a model can learn the sign), `noise`, and the
/// label `dir` = sign of `ret` as -1/1, 60 % of them up.
fn market() -> String {
    let mut csv = String::from("signal,noise,ret,dir\n");
    let mut state: u64 = 7;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..200 {
        let up = next() < 0.6;
        let size = 0.001 + 0.02 * next();
        let ret = if up { size } else { -size };
        let signal = ret * 100.0 + 0.05 * (next() - 0.5);
        csv.push_str(&format!("{signal:.6},{:.6},{ret:.6},{}\n", next(), if up { 1 } else { -1 }));
    }
    csv
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.add_plugin(plugin_so("tree"), "libtree.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"baseline\"\nplugin = \"baseline\"\n\n[[model]]\nid = \"logistic\"\nplugin = \"logistic\"\nscale = \"standard\"\n\n[[model]]\nid = \"tree\"\nplugin = \"tree\"\n",
    );
    sb.write("market.csv", &market());
    sb
}

fn json(sb: &Sandbox, args: &[&str]) -> Value {
    let out = sb.mlhost(args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const WALK_FORWARD: &[&str] =
    &["--dataset", "market.csv", "--label", "dir", "--cv", "time-series", "--folds", "4"];

fn column(csv: &str, j: usize) -> Vec<f64> {
    csv.lines().skip(1).map(|l| l.split(',').nth(j).unwrap().parse().unwrap()).collect()
}

#[test]
fn trading_metrics_score_each_walk_forward_fold_of_the_strategy() {
    let sb = sandbox();
    let mut args = vec!["eval", "--json", "--models", "baseline,logistic"];
    args.extend_from_slice(WALK_FORWARD);
    args.extend(["--returns-col", "ret", "--periods-per-year", "252"]);
    let run = json(&sb, &args);
    let mut folds_args = vec!["folds", "--json"];
    folds_args.extend_from_slice(WALK_FORWARD);
    let folds = json(&sb, &folds_args);
    let (ret, dir) = (column(&market(), 2), column(&market(), 3));
    let model = |id: &str| {
        run["models"].as_array().unwrap().iter().find(|m| m["modelId"] == id).unwrap().clone()
    };
    // The baseline predicts its training rows' majority: one position per
    // fold, so each fold's numbers follow from the folds alone.
    let baseline = model("baseline");
    for (f, fold) in folds["folds"].as_array().unwrap().iter().enumerate() {
        let rows = |k: &str| -> Vec<usize> {
            fold[k].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect()
        };
        let train_up = rows("train").iter().filter(|&&i| dir[i] > 0.0).count() * 2;
        let position = if train_up > rows("train").len() { 1.0 } else { -1.0 };
        let strat: Vec<f64> = rows("test").iter().map(|&i| position * ret[i]).collect();
        let n = strat.len() as f64;
        let mean = strat.iter().sum::<f64>() / n;
        let sd = (strat.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let wins = strat.iter().filter(|r| **r > 0.0).count() as f64 / n;
        let m = &baseline["folds"][f];
        let close = |k: &str, want: f64| {
            let got = m[k].as_f64().unwrap();
            assert!((got - want).abs() < 1e-9, "fold {f} {k}: {got} vs {want}");
        };
        close("sharpe", mean / sd * 252f64.sqrt());
        close("win_rate", wins);
        assert!(m["max_drawdown"].as_f64().unwrap() >= 0.0);
    }
    // A model that learned the sign of the next return wins nearly always.
    let logistic = model("logistic");
    assert!(logistic["metrics"]["win_rate"].as_f64().unwrap() > 0.9, "{logistic}");
    assert!(logistic["metrics"]["sharpe"].as_f64().unwrap() > 5.0, "{logistic}");
    assert!(logistic["metrics"]["max_drawdown"].as_f64().unwrap() < 0.05, "{logistic}");
    // The table shows them; a gate reads them.
    let mut table = vec!["eval", "--models", "logistic", "--gate", "sharpe>=1000"];
    table.extend_from_slice(WALK_FORWARD);
    table.extend(["--returns-col", "ret"]);
    let out = sb.mlhost(&table);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("SHARPE") && stdout.contains("MAX_DRAWDOWN"), "{stdout}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("gate sharpe>=1000 failed: logistic has sharpe = "), "{stderr}");
}

#[test]
fn returns_that_cannot_be_traded_are_refused_naming_the_cell_or_label() {
    let sb = sandbox();
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--models", "baseline"];
        args.extend_from_slice(WALK_FORWARD);
        args.extend_from_slice(extra);
        let out = sb.mlhost(&args);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = eval(&["--returns-col", "nope"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nope"), "{err}");
    let (code, err) = eval(&["--periods-per-year", "12"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("add --returns-col"), "{err}");
    let mut bad_cell = market();
    bad_cell.push_str("0.1,0.5,n/a,1\n");
    sb.write("market.csv", &bad_cell);
    let (code, err) = eval(&["--returns-col", "ret"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--returns-col 'ret', row 201: 'n/a' is not a number"), "{err}");
    sb.write("market.csv", &market().replace(",-1\n", ",down\n").replace(",1\n", ",up\n"));
    let (code, err) = eval(&["--returns-col", "ret"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the label 'down' is not a number"), "{err}");
}

#[test]
fn training_scores_and_the_overfitting_gap_are_stored_and_gated() {
    let sb = sandbox();
    let run = json(
        &sb,
        &["eval", "--json", "--models", "tree,logistic", "--dataset", "builtin:breast_cancer"],
    );
    let model = |id: &str| {
        run["models"].as_array().unwrap().iter().find(|m| m["modelId"] == id).unwrap().clone()
    };
    // A tree grown until pure fits its training rows (nearly) perfectly.
    let tree = model("tree");
    let metrics = &tree["metrics"];
    let (train, held, gap) = (
        metrics["train_f1"].as_f64().unwrap(),
        metrics["f1"].as_f64().unwrap(),
        metrics["overfit_gap"].as_f64().unwrap(),
    );
    assert!(train > 0.99, "{metrics}");
    assert!((gap - (train - held)).abs() < 1e-9, "{metrics}");
    assert!(gap > 0.02, "{metrics}");
    for fold in tree["folds"].as_array().unwrap() {
        assert!(fold["train_accuracy"].as_f64().unwrap() >= fold["accuracy"].as_f64().unwrap());
    }
    let logistic = model("logistic");
    assert!(logistic["metrics"]["overfit_gap"].as_f64().unwrap() < gap, "{logistic}");
    // The table flags the tree; a gate on the gap fails it.
    let out = sb.mlhost(&[
        "eval",
        "--models",
        "tree",
        "--dataset",
        "builtin:breast_cancer",
        "--gate",
        "overfit_gap<=0.01",
    ]);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("GAP"), "{stdout}");
    assert!(stdout.contains("overfit: tree scores"), "{stdout}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("gate overfit_gap<=0.01 failed: tree has overfit_gap = "), "{stderr}");
}
