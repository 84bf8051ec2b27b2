//! `mlhost show RUN --confusion`: each model's confusion matrix, per-class
//! numbers and calibration summary, as text or JSON.

use std::io::Write;
use std::process::ExitCode;

use super::{BadInput, write_table};
use crate::config::Config;
use crate::service::confusion::{self, ConfusionError, ModelConfusion};
use crate::store::Store;

/// `mlhost show RUN --confusion [--json]`.
pub(super) fn show(
    config: &Config,
    run: &str,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.database)?;
    let report = match confusion::confusion(&store, run) {
        Ok(report) => report,
        Err(ConfusionError::Store(e)) => return Err(e.into()),
        Err(e @ ConfusionError::UnknownRun(_)) => {
            let why = format!("{e} in {}; `mlhost runs` lists them", config.database.display());
            return Err(BadInput::Other(why).into());
        }
        Err(e) => return Err(BadInput::Other(e.to_string()).into()),
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.models.is_empty() {
        writeln!(out, "run {}: no succeeded model to show", report.run_id)?;
    }
    for (i, m) in report.models.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_model(m, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One model: the matrix (rows true, columns predicted), the per-class
/// table and, with probabilities, the Brier score and reliability bins.
fn write_model(m: &ModelConfusion, out: &mut dyn Write) -> std::io::Result<()> {
    let rows: u64 = m.matrix.iter().flatten().sum();
    writeln!(out, "{} (job {}): {rows} held-out rows, pooled over folds", m.model_id, m.job_id)?;
    let mut header = vec!["TRUE \\ PREDICTED"];
    header.extend(m.labels.iter().map(String::as_str));
    let matrix: Vec<Vec<String>> = m
        .labels
        .iter()
        .zip(&m.matrix)
        .map(|(l, row)| std::iter::once(l.clone()).chain(row.iter().map(u64::to_string)).collect())
        .collect();
    write_table(out, &header, &matrix)?;
    writeln!(out)?;
    let f = |v: f64| format!("{v:.4}");
    let per_class: Vec<Vec<String>> = m
        .per_class
        .iter()
        .map(|c| vec![c.label.clone(), f(c.precision), f(c.recall), f(c.f1), c.support.to_string()])
        .collect();
    write_table(out, &["LABEL", "PRECISION", "RECALL", "F1", "SUPPORT"], &per_class)?;
    let (Some(brier), Some(bins)) = (m.brier, &m.reliability) else {
        return writeln!(out, "no probabilities: no calibration summary");
    };
    let what = if m.labels.len() == 2 { "positive-class" } else { "top-class" };
    writeln!(out)?;
    writeln!(out, "brier score {brier:.4}; reliability of the {what} probability:")?;
    let bins: Vec<Vec<String>> = bins
        .iter()
        .map(|b| {
            let range = format!("{:.1}-{:.1}", b.bin_low, b.bin_high);
            vec![range, f(b.mean_predicted), f(b.fraction_positive), b.count.to_string()]
        })
        .collect();
    let observed = if m.labels.len() == 2 { "FRACTION_POSITIVE" } else { "FRACTION_CORRECT" };
    write_table(out, &["BIN", "MEAN_PREDICTED", observed, "COUNT"], &bins)
}
