//! `mlhost show RUN --fairness-col COL` and the bias check `eval
//! --fairness-col` prints under its table: one row per model and group,
//! then each model's two differences, as text or JSON.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::{BadInput, write_table};
use crate::config::Config;
use crate::service::fairness::{self, FairnessError, FairnessReport};
use crate::service::runs::RunReport;
use crate::store::Store;

/// `mlhost show RUN --fairness-col COL [--json]`.
pub(super) fn show(
    config: &Config,
    run: &str,
    column: &str,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.database)?;
    let report = fairness::fairness(&store, run, column).map_err(|e| error(e, config))?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write(&report, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The bias check run `run_id` asked for with `--fairness-col`, if any.
pub(super) fn requested(
    store: &Store,
    run_id: &str,
    config: &Config,
) -> anyhow::Result<Option<FairnessReport>> {
    fairness::requested(store, run_id).map_err(|e| error(e, config))
}

/// `eval --json` with the bias check: the run's fields, then `fairness`.
pub(super) fn write_run_json(
    run: &RunReport,
    fairness: &FairnessReport,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct WithFairness<'a> {
        #[serde(flatten)]
        run: &'a RunReport,
        fairness: &'a FairnessReport,
    }
    serde_json::to_writer_pretty(&mut *out, &WithFairness { run, fairness })?;
    writeln!(out)?;
    Ok(())
}

/// A service error as the CLI reports it: the store's fails the command
/// (exit 1), everything else is the user's input (exit 2).
fn error(e: FairnessError, config: &Config) -> anyhow::Error {
    match e {
        FairnessError::Store(e) => e.into(),
        e @ FairnessError::UnknownRun(_) => {
            let why = format!("{e} in {}; `mlhost runs` lists them", config.database.display());
            BadInput::Other(why).into()
        }
        e => BadInput::Other(e.to_string()).into(),
    }
}

/// The table: one row per model and group, each model's differences and
/// warnings below it.
pub(super) fn write(report: &FairnessReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "bias check of run {} by '{}': positive class '{}', held-out rows pooled over folds",
        report.run_id, report.column, report.positive_label
    )?;
    if report.models.is_empty() {
        return writeln!(out, "no succeeded model to check");
    }
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
    let rows: Vec<Vec<String>> = report
        .models
        .iter()
        .flat_map(|m| {
            m.groups.iter().map(|g| {
                vec![
                    m.model_id.clone(),
                    g.group.clone(),
                    g.rows.to_string(),
                    f(Some(g.selection_rate)),
                    f(g.tpr),
                    f(g.fpr),
                ]
            })
        })
        .collect();
    write_table(out, &["MODEL", "GROUP", "ROWS", "SELECTION_RATE", "TPR", "FPR"], &rows)?;
    for m in &report.models {
        writeln!(
            out,
            "{}: demographic parity difference {}, equalized odds difference {}",
            m.model_id,
            f(m.demographic_parity_difference),
            f(m.equalized_odds_difference)
        )?;
        for w in &m.warnings {
            writeln!(out, "  warning: {w}")?;
        }
    }
    Ok(())
}
