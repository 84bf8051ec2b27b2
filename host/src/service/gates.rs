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
    let score = |m: &&crate::service::runs::ModelReport| m.metrics.get(key).unwrap_or(f64::NEG_INFINITY);
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
