//! `mlhost automl` end to end: real plugins race on breast_cancer through
//! successive halving, the winner is registered from its study, and the
//! recommendation and the gates are about the winner.

use mlhost_tests::{Sandbox, plugin_so};
use serde_json::Value;

/// The baseline, three candidates with something to search and one whose
/// every parameter models.toml fixes. Logistic's iterations are fixed so
/// a draw of 100,000 of them cannot eat the budget.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    for p in ["baseline", "logistic", "naive-bayes", "knn"] {
        sb.add_plugin(plugin_so(p), &format!("lib{p}.so"));
    }
    sb.write(
        "config/models.toml",
        r#"
[[model]]
id = "baseline"
plugin = "baseline"

[[model]]
id = "logistic"
plugin = "logistic"
scale = "standard"
params = { max_iter = 200 }

[[model]]
id = "naive-bayes"
plugin = "naive-bayes"

[[model]]
id = "knn"
plugin = "knn"
scale = "standard"

[[model]]
id = "nb-fixed"
plugin = "naive-bayes"
params = { var_smoothing = 1e-9 }
"#,
    );
    sb
}

fn automl(sb: &Sandbox, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["automl", "--dataset", "builtin:breast_cancer", "--folds", "3"];
    args.extend_from_slice(extra);
    let out = sb.mlhost(&args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> =
        v.as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
    n.sort();
    n
}

#[test]
fn automl_halves_the_field_registers_the_winner_and_recommends() {
    let sb = sandbox();
    let (code, out, err) =
        automl(&sb, &["--json", "--budget-secs", "60", "--trials", "2", "--gate", "f1>=0.5"]);
    assert_eq!(code, Some(0), "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((r["metric"].as_str(), r["status"].as_str()), (Some("f1"), Some("completed")));
    let board = r["leaderboard"].as_array().unwrap();
    let in_board: Vec<String> = {
        let mut m: Vec<String> =
            board.iter().map(|s| s["model"].as_str().unwrap().to_owned()).collect();
        m.sort();
        m
    };
    assert_eq!(in_board, ["baseline", "knn", "logistic", "naive-bayes"], "{r}");
    assert_eq!(r["skipped"][0]["model"], "nb-fixed", "{r}");
    // 3 candidates: rung 0 all three with 2 trials, rung 1 the better two
    // with 4, then one is left.
    let rungs = r["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 2, "{r}");
    assert_eq!(names(&rungs[0]["models"]), ["knn", "logistic", "naive-bayes"]);
    assert_eq!((rungs[0]["trials"].as_u64(), rungs[1]["trials"].as_u64()), (Some(2), Some(4)));
    assert_eq!(names(&rungs[1]["models"]), names(&rungs[0]["kept"]));
    assert_eq!(rungs[1]["models"].as_array().unwrap().len(), 2);
    let winner = r["winner"]["model"].as_str().unwrap();
    assert_eq!(rungs[1]["kept"], serde_json::json!([winner]));
    // The winner is the best tuned candidate by F1, first on the board,
    // with two studies (one per rung) and 6 trials.
    let tuned: Vec<&Value> = board.iter().filter(|s| s["role"] == "tuned").collect();
    let best = tuned.iter().map(|s| s["bestValue"].as_f64().unwrap()).fold(f64::MIN, f64::max);
    assert_eq!(r["winner"]["value"].as_f64(), Some(best));
    assert_eq!(board[0]["model"], winner, "{r}");
    assert_eq!((board[0]["trials"].as_u64(), board[0]["rung"].as_u64()), (Some(6), Some(1)));
    let reference = board.iter().find(|s| s["role"] == "reference").unwrap();
    assert_eq!(reference["model"], "baseline");
    assert!(reference["bestValue"].as_f64().unwrap() < best, "{r}");
    // Every study is an ordinary study.
    let study = r["winner"]["studyId"].as_str().unwrap();
    let out = sb.mlhost(&["show", study, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["model"], winner);
    assert_eq!(shown["best"]["value"], r["winner"]["value"]);
    // Registered from the winner's study.
    assert_eq!(r["registered"]["name"], "automl-breast_cancer", "{r}");
    let out = sb.mlhost(&["models", "show", "automl-breast_cancer", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sourceStudy"].as_str(), Some(study), "{v}");
    assert_eq!(v["candidate"], winner, "{v}");
    let text = r["recommendation"].as_str().unwrap();
    assert!(text.starts_with(&format!("Use {winner}: its best trial scores f1 ")), "{text}");
    assert!(text.contains("It beats the reference baseline"), "{text}");
    assert!(text.contains("With only 569 rows, more data"), "{text}");
    assert!(text.contains("It passes every gate (f1>=0.5)."), "{text}");
    assert_eq!(r["gates"][0]["passed"], true);
    assert_eq!(r["versus"].as_array().unwrap().len(), 2, "runner-up and reference: {r}");
    assert_eq!(r["versus"][0]["test"], "corrected-t-test", "shared folds: {r}");
    failing_gate(&sb);
}

/// A gate the winner fails: exit 3, the line on stderr, the paragraph says
/// so; `--no-register` registers nothing.
fn failing_gate(sb: &Sandbox) {
    let (code, out, err) = automl(
        sb,
        &["--budget-secs", "30", "--trials", "1", "--gate", "f1>=0.999", "--no-register"],
    );
    assert_eq!(code, Some(3), "{err}");
    let winner = out
        .lines()
        .find_map(|l| l.strip_prefix("winner: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no winner line: {out}"));
    let gate = format!("gate f1>=0.999 failed: {winner} has f1 = ");
    assert!(err.lines().any(|l| l.starts_with(&gate)), "{err}");
    assert!(err.lines().any(|l| l.starts_with("rung 0: 3 studies of 1 trial ")), "{err}");
    assert!(err.lines().any(|l| l.starts_with("reference baseline: ")), "{err}");
    assert!(out.contains("RANK  MODEL"), "{out}");
    let paragraph = out.split("\n\n").last().unwrap().replace('\n', " ");
    assert!(paragraph.contains(&format!("Use {winner}:")), "{paragraph}");
    assert!(paragraph.contains("It fails --gate f1>=0.999 (f1 = "), "{paragraph}");
    let out = sb.mlhost(&["models", "versions", "automl-breast_cancer", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["versions"].as_array().unwrap().len(), 1, "--no-register: {v}");
}
