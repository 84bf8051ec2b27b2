//! Quality gates on a finished run or study: each `--gate` is checked
//! against the candidate the run would pick (the best by the table's sort
//! metric, F1 or R²; a study's best trial), one line per failure.

use crate::domain::{Gate, JobStatus, MetricSet};
use crate::service::runs::RunReport;
use crate::service::tuning::StudyReport;

/// A gate that did not hold: one line naming the model, the metric, the
/// threshold and the value.
pub type Failure = String;

/// What a gate is checked against.
#[derive(Debug)]
pub struct Subject<'a> {
    /// The candidate (and trial) it names.
    pub name: String,
    /// Its mean metrics.
    pub metrics: &'a MetricSet,
}

/// The run's pick: the succeeded model best by F1 (R² for regression).
pub fn run_subject(report: &RunReport) -> Option<Subject<'_>> {
    let ok = || report.models.iter().filter(|m| m.status == JobStatus::Succeeded);
    let key = if ok().any(|m| m.metrics.contains("r2")) { "r2" } else { "f1" };
    let score =
        |m: &&crate::service::runs::ModelReport| m.metrics.get(key).unwrap_or(f64::NEG_INFINITY);
    ok().max_by(|a, b| score(a).total_cmp(&score(b)))
        .map(|m| Subject { name: m.model_id.clone(), metrics: &m.metrics })
}

/// A study's pick: its best trial.
pub fn study_subject(report: &StudyReport) -> Option<Subject<'_>> {
    let best = report.best.as_ref()?;
    let t = report.trials.iter().find(|t| t.trial == best.trial)?;
    Some(Subject { name: format!("{} (trial {})", report.model, t.trial), metrics: &t.metrics })
}

/// Checks threshold gates against `subject`; `better` answers
/// `better-than:ID` (whether the subject is significantly better than ID,
/// or why it cannot say). `Err` is bad input (a metric the run lacks).
pub fn check(
    subject: Option<Subject<'_>>,
    gates: &[Gate],
    better: &dyn Fn(&str) -> Result<Option<Failure>, String>,
) -> Result<Vec<Failure>, String> {
    let Some(subject) = subject else {
        return Ok(if gates.is_empty() {
            Vec::new()
        } else {
            vec!["gates failed: no candidate succeeded, so none can pass".to_owned()]
        });
    };
    let mut failures = Vec::new();
    for gate in gates {
        match gate {
            Gate::Threshold { metric, op, value } => {
                if !subject.metrics.contains(metric) {
                    let have: Vec<&str> = subject.metrics.iter().map(|(n, _)| n).collect();
                    return Err(format!(
                        "--gate {gate}: the run has no metric '{metric}'; it has {}",
                        have.join(", ")
                    ));
                }
                match subject.metrics.get(metric) {
                    Some(v) if op.holds(v, *value) => {}
                    Some(v) => failures.push(format!(
                        "gate {gate} failed: {} has {metric} = {v:.4}",
                        subject.name
                    )),
                    None => failures.push(format!(
                        "gate {gate} failed: {} has no value of {metric} (undefined for this data)",
                        subject.name
                    )),
                }
            }
            Gate::BetterThan { model } => failures.extend(better(model)?),
        }
    }
    Ok(failures)
}

/// `better-than:OTHER` on run `run_id`: whether `subject` is significantly
/// better than `other` at `alpha` by the corrected resampled t-test (as
/// `mlhost compare RUN --reference OTHER` reports it); a failure line when
/// not, bad input when the comparison cannot be made.
pub fn better_than(
    store: &crate::store::Store,
    run_id: &str,
    subject: &str,
    other: &str,
    alpha: f64,
) -> Result<Option<Failure>, String> {
    use crate::service::compare::{CompareRequest, compare};
    if subject == other {
        return Err(format!("--gate better-than:{other}: {other} is the run's pick itself"));
    }
    let req = CompareRequest { reference: Some(other.to_owned()), metric: None, alpha };
    let report =
        compare(store, run_id, &req).map_err(|e| format!("--gate better-than:{other}: {e}"))?;
    let c =
        report.comparisons.iter().find(|c| c.model == subject).ok_or_else(|| {
            format!("--gate better-than:{other}: {subject} is not in the comparison")
        })?;
    Ok((!(c.better && c.significant)).then(|| {
        format!(
            "gate better-than:{other} failed: {subject} {} {other} on {} by {:+.4}, corrected t-test p = {:.4} (alpha {alpha})",
            if c.better { "is not significantly better than" } else { "is not better than" },
            report.metric,
            c.mean_diff,
            c.p_value_adjusted
        )
    }))
}
