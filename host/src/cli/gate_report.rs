//! `--gate` on `eval`, `tune`, `compare` and `automl`: the failed gates on
//! stderr, one line each, and exit 3.

use std::process::ExitCode;

use super::BadInput;
use crate::store::Store;

/// `--gate`s of `eval` and `compare` on a stored run: checked against the
/// run's pick, `better-than` through `compare` at `alpha`.
pub(super) fn run_gates(
    store: &Store,
    run: &crate::service::runs::RunReport,
    gates: &[crate::domain::Gate],
    alpha: f64,
) -> anyhow::Result<Option<ExitCode>> {
    let subject = crate::service::gates::run_subject(run);
    let pick = subject.as_ref().map(|s| s.name.clone()).unwrap_or_default();
    let better =
        |other: &str| crate::service::gates::better_than(store, &run.run_id, &pick, other, alpha);
    report_gates(subject, gates, &better)
}

/// Prints each failed gate on stderr; exit 3 when one failed, 2 when a
/// gate cannot be checked (a metric the run lacks).
pub(super) fn report_gates(
    subject: Option<crate::service::gates::Subject<'_>>,
    gates: &[crate::domain::Gate],
    better: &dyn Fn(&str) -> Result<Option<String>, String>,
) -> anyhow::Result<Option<ExitCode>> {
    let failures = crate::service::gates::check(subject, gates, better).map_err(BadInput::Other)?;
    for f in &failures {
        eprintln!("{f}");
    }
    Ok((!failures.is_empty()).then(|| ExitCode::from(3)))
}
