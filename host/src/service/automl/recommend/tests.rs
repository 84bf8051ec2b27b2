//! The paragraph from fixed facts.

use super::*;

fn score(model: &str, value: f64, std: f64) -> Score {
    Score { model: model.into(), value, std: Some(std) }
}

/// A small dataset, a clear winner over the baseline but not over the
/// runner-up, a tight fit, a failing gate.
fn facts() -> Facts {
    Facts {
        metric: "f1".into(),
        direction: Direction::Maximize,
        winner: score("logistic", 0.9861, 0.0081),
        trials: 15,
        contestants: 3,
        runner_up: Some(Contest {
            other: score("knn", 0.9720, 0.0110),
            diff: 0.0141,
            noise: Noise::TTest { p: 0.1234, significant: false },
        }),
        baseline: Some(Contest {
            other: score("baseline", 0.7710, 0.0010),
            diff: 0.2151,
            noise: Noise::TTest { p: 0.00001, significant: true },
        }),
        overfit: Some(Overfit { score: "f1".into(), train: Some(0.9900), gap: 0.0039 }),
        rows: 569,
        failed_gates: vec![FailedGate { gate: "f1>=0.999".into(), why: "f1 = 0.9861".into() }],
        passed_gates: Vec::new(),
        cut_short: false,
    }
}

#[test]
fn the_paragraph_says_each_fact_and_what_it_means() {
    assert_eq!(
        paragraph(&facts()),
        "Use logistic: its best trial scores f1 0.9861 ± 0.0081 (mean ± std over folds), the best of 3 candidates tuned (15 trials of it). \
         It leads the runner-up knn (0.9720 ± 0.0110) by 0.0141, which the corrected resampled t-test cannot tell from noise (p = 0.123), so knn is as good a choice if it is cheaper or simpler to run. \
         It beats the reference baseline (0.7710 ± 0.0010) by 0.2151, significant by the corrected resampled t-test (p < 0.001). \
         Its overfit_gap is 0.0039 (f1 0.9900 on its training rows): it generalizes about as well as it fits. \
         With only 569 rows, more data is the surest next step: it narrows these margins and lets a richer model fit. \
         It fails --gate f1>=0.999 (f1 = 0.9861): not ready to promote."
    );
}

#[test]
fn overfitting_weak_signal_low_scores_and_a_short_budget_each_have_their_sentence() {
    let mut f = facts();
    f.overfit = Some(Overfit { score: "f1".into(), train: Some(1.0), gap: 0.31 });
    let p = paragraph(&f);
    assert!(p.contains("It overfits: overfit_gap 0.3100 > 0.05 (f1 1.0000 on its training rows), so regularize it, choose a simpler model or add data."), "{p}");
    // The baseline within the noise: other features, said once.
    f.baseline.as_mut().unwrap().noise = Noise::Std { within: true };
    f.winner.value = 0.55;
    let p = paragraph(&f);
    assert!(p.contains("leads the reference baseline (0.7710 ± 0.0010) only by 0.2151, no more than the standard deviation over folds: within the noise. Either the features carry little signal"), "{p}");
    assert!(!p.contains("is low"), "{p}");
    // A low score with a clear margin over the baseline.
    f.baseline.as_mut().unwrap().noise = Noise::Std { within: false };
    let p = paragraph(&f);
    assert!(p.contains("Its f1 of 0.5500 is low: other features"), "{p}");
    // Behind the baseline: said, and other features recommended once.
    f.baseline.as_mut().unwrap().diff = -0.01;
    let p = paragraph(&f);
    assert!(p.contains("It does no better than the reference baseline (0.7710 ± 0.0010). Either the features carry little signal"), "{p}");
    assert!(!p.contains("is low"), "{p}");
    f.baseline.as_mut().unwrap().diff = 0.2151;
    f.cut_short = true;
    f.failed_gates.clear();
    f.passed_gates = vec!["accuracy>=0.5".into()];
    let p = paragraph(&f);
    assert!(p.contains("It passes every gate (accuracy>=0.5)."), "{p}");
    assert!(p.ends_with("a larger --budget-secs lets the survivors search longer."), "{p}");
}

/// Diabetes with a ridge penalty drawn far too large: every model
/// predicts about the mean, consistently a hair better than it.
#[test]
fn a_consistent_but_tiny_margin_is_a_tie_not_a_win() {
    let mut f = facts();
    f.metric = "r2".into();
    f.winner = score("linear", -0.0273, 0.0368);
    let tiny = |model: &str| Contest {
        other: score(model, -0.0275, 0.0368),
        diff: 0.0002,
        noise: Noise::TTest { p: 0.0004, significant: true },
    };
    f.runner_up = Some(tiny("gbdt"));
    f.baseline = Some(tiny("baseline"));
    let p = paragraph(&f);
    assert!(p.contains("It leads the runner-up gbdt (-0.0275 ± 0.0368) by 0.0002: consistent over the folds (p < 0.001) but too small to matter, so gbdt is as good a choice"), "{p}");
    assert!(p.contains("It leads the reference baseline (-0.0275 ± 0.0368) only by 0.0002: consistent over the folds (p < 0.001) but too small to matter. Either the features carry little signal"), "{p}");
    assert!(!p.contains("is low"), "other features are said once: {p}");
    // Off a bounded score, 1 % of the values is the bar.
    f.metric = "log_loss".into();
    f.direction = Direction::Minimize;
    f.winner.value = 0.30;
    let mut c = tiny("gbdt");
    c.other.value = 0.3029;
    assert!(negligible(&f, &c));
    c.other.value = 0.31;
    c.diff = -0.01;
    assert!(!negligible(&f, &c));
}

#[test]
fn with_nothing_to_fix_it_says_how_to_gain_more_and_minimizing_is_named() {
    let mut f = facts();
    f.rows = 50_000;
    f.failed_gates.clear();
    f.runner_up.as_mut().unwrap().noise = Noise::Unknown;
    f.baseline = None;
    f.contestants = 1;
    let p = paragraph(&f);
    assert!(p.contains("the only candidate tuned"), "{p}");
    assert!(p.contains("one split cannot say whether that is more than noise"), "{p}");
    assert!(p.contains("There was no baseline to measure it against"), "{p}");
    assert!(
        p.ends_with("tune logistic alone (`mlhost tune --model logistic`) over a narrower --param space with more trials."),
        "{p}"
    );
    f.metric = "log_loss".into();
    f.direction = Direction::Minimize;
    f.winner.value = 0.9;
    let p = paragraph(&f);
    assert!(p.contains("log_loss 0.9000 ± 0.0081 (mean ± std over folds, lower is better)"), "{p}");
    assert!(!p.contains("is low"), "a loss has no absolute scale: {p}");
    assert!(low("r2", 0.4) && !low("r2", 0.6) && low("f1_macro", 0.6) && !low("mae", 0.1));
}
