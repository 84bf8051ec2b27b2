//! The verdict on a finished race: the winner against the runner-up and the
//! reference, each `--gate` on the winner's best trial, and the facts the
//! recommendation is written from.
//!
//! A margin is judged by the corrected resampled t-test
//! ([`crate::service::compare::pair`]) when both best trials were tested on
//! the same folds row for row, which they are whenever the protocol has at
//! least two folds (every study and the reference share the run's folds).
//! Otherwise (a holdout: one split) there is no noise estimate, and with
//! folds that differ the margin is set against the larger standard
//! deviation over folds.

use super::race::Race;
use super::recommend::{self, Contest, Facts, FailedGate, Noise, Overfit, Score};
use super::{GateReport, Plan, Standing, Versus, Winner};
use crate::domain::Gate;
use crate::engine::EvalError;
use crate::service::compare::{JobRef, pair};
use crate::service::gates::{self, Subject};
use crate::store::Store;

/// What the report carries from the verdict.
pub(super) struct Judged {
    pub(super) versus: Vec<Versus>,
    pub(super) gates: Vec<GateReport>,
    pub(super) recommendation: String,
}

/// Compares, checks the gates and writes the recommendation.
pub(super) fn judge(
    store: &Store,
    plan: &Plan,
    board: &[Standing],
    winner: Option<&Winner>,
    gates: &[Gate],
    race: &Race,
) -> Result<Judged, EvalError> {
    let Some(w) = winner.and_then(|w| board.iter().find(|s| s.model == w.model)) else {
        return Ok(Judged {
            versus: Vec::new(),
            gates: gates
                .iter()
                .map(|g| GateReport {
                    gate: g.to_string(),
                    passed: false,
                    message: Some(format!("gate {g} failed: no candidate completed a trial")),
                })
                .collect(),
            recommendation: nothing_completed(board),
        });
    };
    let runner_up = board.iter().find(|s| s.role == "tuned" && s.model != w.model);
    let reference = board.iter().find(|s| s.role == "reference");
    let mut versus = Vec::new();
    let mut contest = |other: Option<&Standing>, role: &str| {
        let other = other.filter(|o| o.best_value.is_some())?;
        let (c, v) = against(store, plan, w, other, role);
        versus.push(v);
        Some(c)
    };
    let runner_up = contest(runner_up, "runner-up");
    let baseline = contest(reference, "reference");
    let checked = check_gates(store, plan, board, w, gates)?;
    let facts = Facts {
        metric: plan.metric.clone(),
        direction: plan.direction,
        winner: score(w),
        trials: w.trials,
        contestants: plan.contestants.len(),
        runner_up,
        baseline,
        overfit: overfit(plan, w),
        rows: plan.rows,
        failed_gates: checked.iter().filter_map(|(_, f)| f.clone()).collect(),
        passed_gates: checked
            .iter()
            .filter(|(g, _)| g.passed)
            .map(|(g, _)| g.gate.clone())
            .collect(),
        cut_short: race.status == "budget",
    };
    Ok(Judged {
        versus,
        gates: checked.into_iter().map(|(g, _)| g).collect(),
        recommendation: recommend::paragraph(&facts),
    })
}

fn score(s: &Standing) -> Score {
    Score { model: s.model.clone(), value: s.best_value.unwrap_or(f64::NAN), std: s.std }
}

fn job(s: &Standing) -> Option<JobRef<'_>> {
    Some(JobRef { name: &s.model, run_id: s.run_id.as_deref()?, job_id: s.job_id.as_deref()? })
}

/// The winner `w` against `other`: the t-test on shared folds, else the
/// standard deviations, else (one fold) no estimate.
fn against(
    store: &Store,
    plan: &Plan,
    w: &Standing,
    other: &Standing,
    role: &str,
) -> (Contest, Versus) {
    let diff = w.best_value.unwrap_or(f64::NAN) - other.best_value.unwrap_or(f64::NAN);
    let tested = match (job(w), job(other)) {
        (Some(a), Some(b)) => pair(store, a, b, &plan.metric, plan.alpha).ok(),
        _ => None,
    };
    let one_split = matches!(plan.spec.protocol, crate::domain::Protocol::Holdout { .. });
    let (noise, test, p) = match tested {
        Some(c) => (
            Noise::TTest { p: c.p_value, significant: c.significant },
            "corrected-t-test",
            Some(c.p_value),
        ),
        None if one_split => (Noise::Unknown, "none", None),
        None => {
            let spread = w.std.unwrap_or(0.0).max(other.std.unwrap_or(0.0));
            (Noise::Std { within: diff.abs() <= spread }, "std", None)
        }
    };
    let versus = Versus {
        model: other.model.clone(),
        role: role.to_owned(),
        diff,
        test: test.to_owned(),
        p_value: p,
        within_noise: noise.within(),
    };
    (Contest { other: score(other), diff, noise }, versus)
}

/// The winner's `overfit_gap` (on F1, R² for regression) and the training
/// score it comes from.
fn overfit(plan: &Plan, w: &Standing) -> Option<Overfit> {
    let gap = w.metrics.get("overfit_gap")?;
    let score = if plan.task == mlhost_plugin_api::Task::Regression { "r2" } else { "f1" };
    Some(Overfit { score: score.into(), train: w.metrics.get(&format!("train_{score}")), gap })
}

/// Each gate on the winner's best trial: its report, and the fact for the
/// recommendation when it failed.
fn check_gates(
    store: &Store,
    plan: &Plan,
    board: &[Standing],
    w: &Standing,
    gates: &[Gate],
) -> Result<Vec<(GateReport, Option<FailedGate>)>, EvalError> {
    let better = |other: &str| -> Result<Option<String>, String> {
        if other == w.model {
            return Err(format!("--gate better-than:{other}: {other} is the winner itself"));
        }
        let o = board.iter().find(|s| s.model == other);
        let (Some(a), Some(b)) = (job(w), o.and_then(job)) else {
            return Err(format!("--gate better-than:{other}: {other} has no evaluated trial"));
        };
        let c = pair(store, a, b, &plan.metric, plan.alpha)
            .map_err(|e| format!("--gate better-than:{other}: {e}"))?;
        Ok((!(c.better && c.significant)).then(|| {
            format!(
                "gate better-than:{other} failed: {} is not significantly better than {other} on {} by {:+.4}, corrected t-test p = {:.4} (alpha {})",
                w.model, plan.metric, c.mean_diff, c.p_value, plan.alpha
            )
        }))
    };
    let mut out = Vec::new();
    for g in gates {
        let subject = Subject { name: w.model.clone(), metrics: &w.metrics };
        let failures = gates::check(Some(subject), std::slice::from_ref(g), &better)
            .map_err(EvalError::BadInput)?;
        let message = failures.into_iter().next();
        let fact = message.as_ref().map(|m| FailedGate { gate: g.to_string(), why: why(g, w, m) });
        out.push((GateReport { gate: g.to_string(), passed: message.is_none(), message }, fact));
    }
    Ok(out)
}

/// Why a gate failed, in a few words for the paragraph.
fn why(g: &Gate, w: &Standing, message: &str) -> String {
    match g {
        Gate::Threshold { metric, .. } => w
            .metrics
            .get(metric)
            .map_or_else(|| format!("{metric} undefined"), |v| format!("{metric} = {v:.4}")),
        Gate::BetterThan { model } => match message.rsplit_once("corrected t-test ") {
            Some((_, p)) => format!("not significantly better than {model}: {p}"),
            None => format!("not significantly better than {model}"),
        },
    }
}

/// The paragraph when no trial completed: each candidate's reason.
fn nothing_completed(board: &[Standing]) -> String {
    let why: Vec<String> = board
        .iter()
        .filter(|s| s.role == "tuned")
        .map(|s| format!("{}: {}", s.model, s.note.as_deref().unwrap_or("no trial completed")))
        .collect();
    format!(
        "No candidate completed a trial, so there is nothing to recommend; {}. Fix what these say, or give the search more --budget-secs.",
        why.join("; ")
    )
}
