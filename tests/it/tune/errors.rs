//! `mlhost tune` when things go wrong: crashing trials, bad input, and
//! what a study says when it cannot do what was asked.

use super::{objective, objective_args, objective_sandbox, store, trials, tune_json};

/// A trial whose plugin crashes its worker process fails; the study goes
/// on and completes.
#[test]
fn a_crashing_trial_fails_and_the_study_goes_on() {
    let models = objective(0, 0, ", panic_above = 2.0");
    let sb = objective_sandbox(&models);
    let report = tune_json(
        &sb,
        &objective_args(&[
            "--strategy",
            "grid",
            "--param",
            "x=0,3,1",
            "--param",
            "y=-2",
            "--isolation",
            "process",
        ]),
    );
    let states: Vec<&str> = trials(&report).iter().map(|t| t["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["complete", "failed", "complete"]);
    assert!(trials(&report)[1]["note"].as_str().unwrap().contains("panic"), "{report}");
    assert_eq!(report["best"]["trial"], 2);
    assert_eq!(report["status"], "completed");
}

/// Each bad input is one line naming it, exit 2, and nothing is stored.
#[test]
fn bad_input_is_refused_before_anything_is_stored() {
    let sb = objective_sandbox(&objective(0, 0, ""));
    let cases: &[(&[&str], &str)] = &[
        (
            &["--param", "z=1..2"],
            "--param z: the plugin has no parameter 'z'; it has x, y, epochs, sleep_ms, panic_above",
        ),
        (&["--param", "x=-10..2"], "--param x=-10..2:"),
        (&["--strategy", "grid"], "a grid needs values for 'x'; list them: --param x=a,b,c"),
        (&["--trials", "0"], "--trials 0:"),
        (
            &["--metric", "f1"],
            "--metric f1: data.csv (regression) has no metric 'f1'; choose one of mae, mse",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = objective_args(&[]);
        // The later --metric wins over the default one for the f1 case.
        if extra.contains(&"--metric") {
            args.truncate(args.len() - 2);
        }
        args.extend_from_slice(extra);
        let out = sb.mlhost(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(expected), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    let store = store(&sb);
    assert!(store.studies().unwrap().is_empty());
    assert!(store.runs().unwrap().is_empty());
}

/// What a study cannot do is said, not left to guess: a study's run is
/// resumed by `tune`, not `eval`; a metric undefined for every trial
/// stops the study after five identical failures with exit 1; a pruner
/// that never saw its value says so; a grid runs its points, not more.
#[test]
fn studies_say_what_went_wrong() {
    let sb = objective_sandbox(&objective(2, 0, ""));
    let grid = ["--strategy", "grid", "--param", "x=-1,1,3", "--param", "y=-2", "--trials", "10"];
    let report = tune_json(&sb, &objective_args(&grid));
    assert_eq!(trials(&report).len(), 3, "a grid of 3 points runs 3 trials");
    let out = sb.mlhost(&["eval", "--resume", report["runId"].as_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("resume it with `mlhost tune --resume"), "{err}");
    let resumed = sb.mlhost(&["tune", "--resume", report["studyId"].as_str().unwrap()]);
    assert_eq!(resumed.status.code(), Some(2), "a complete study has nothing to resume");
    // Every trial fails the same way: x = 0 is above panic_above.
    let failing = objective_sandbox(&objective(0, 0, ", x = 0.0, panic_above = -10.0"));
    let out = failing.mlhost(&objective_args(&[
        "--param",
        "y=-5..5",
        "--trials",
        "20",
        "--workers",
        "1",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no trial completed; the first reason: fold 0: fit: fit panicked: x = 0"),
        "{err}"
    );
    let store = store(&failing);
    let study = store.studies().unwrap().remove(0);
    assert_eq!(store.trials(&study.id).unwrap().len(), 5, "gave up after 5 identical failures");
    let out = sb.mlhost(&objective_args(&[
        "--trials",
        "3",
        "--pruner",
        "median",
        "--prune-on",
        "accuracy",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("reported 'accuracy' per epoch, so none could be pruned"), "{err}");
}
