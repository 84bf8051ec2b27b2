//! `mlhost drift --reference A.csv --current B.csv`: parse, call
//! `service::drift`, print the table and summary (or JSON).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{BadInput, write_table};
use crate::service::drift::{DriftReport, DriftRequest, drift};

/// `mlhost drift` flags.
#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// The reference CSV (e.g. the training data).
    #[arg(long, value_name = "A.csv")]
    pub reference: PathBuf,
    /// The current CSV (e.g. recent inputs), with the same columns.
    #[arg(long, value_name = "B.csv")]
    pub current: PathBuf,
    /// A column to leave out (the label), if the files have one.
    #[arg(long, value_name = "COL")]
    pub label: Option<String>,
    /// PSI above this is drift; from half of it up, moderate.
    #[arg(long, default_value_t = 0.2)]
    pub psi_threshold: f64,
    /// A KS or chi-square p-value below this is drift.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mlhost drift`.
pub(super) fn run(args: DriftArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    if !(args.psi_threshold.is_finite() && args.psi_threshold > 0.0) {
        let v = args.psi_threshold;
        return Err(BadInput::Other(format!(
            "--psi-threshold {v}: give a number above 0, e.g. 0.2"
        ))
        .into());
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        let v = args.alpha;
        return Err(BadInput::Other(format!(
            "--alpha {v}: give a number between 0 and 1, e.g. 0.05"
        ))
        .into());
    }
    let req = DriftRequest {
        reference: args.reference,
        current: args.current,
        label: args.label,
        psi_threshold: args.psi_threshold,
        alpha: args.alpha,
    };
    let report = drift(&req).map_err(BadInput::Other)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_report(&report, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The table, highest PSI first, and the summary line.
fn write_report(report: &DriftReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "reference {} ({} rows)  current {} ({} rows)",
        report.reference, report.rows[0], report.current, report.rows[1]
    )?;
    let rows: Vec<Vec<String>> = report
        .features
        .iter()
        .map(|f| {
            let stat = f.ks_statistic.or(f.chi2_statistic).unwrap_or(f64::NAN);
            let mut flags = Vec::new();
            if f.psi_level != "stable" {
                flags.push(format!("PSI {}", f.psi_level));
            }
            if f.p_value < report.alpha {
                flags.push(format!("p < {}", report.alpha));
            }
            vec![
                f.name.clone(),
                f.kind.to_owned(),
                format!("{:.4}", f.psi),
                f.test.to_owned(),
                format!("{stat:.4}"),
                if f.p_value >= 1e-3 {
                    format!("{:.4}", f.p_value)
                } else {
                    format!("{:.2e}", f.p_value)
                },
                if flags.is_empty() { "-".to_owned() } else { flags.join(", ") },
            ]
        })
        .collect();
    write_table(out, &["FEATURE", "KIND", "PSI", "TEST", "STATISTIC", "P", "FLAGS"], &rows)?;
    let n = report.features.len();
    match report.drifted.len() {
        0 => writeln!(
            out,
            "0 of {n} features drifted (PSI > {}, p < {})",
            report.psi_threshold, report.alpha
        ),
        k => writeln!(out, "{k} of {n} features drifted: {}", report.drifted.join(", ")),
    }
}
