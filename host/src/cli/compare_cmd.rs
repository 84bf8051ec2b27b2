//! `mlhost compare RUN`: every model of a stored run against a reference,
//! as a table with one line of interpretation per model, or JSON.

use std::io::Write;
use std::process::ExitCode;

use super::{BadInput, write_table};
use crate::config::Config;
use crate::service::compare::{self, CompareReport, CompareRequest, ModelComparison};
use crate::store::Store;

/// `mlhost compare` flags.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The run id.
    pub run: String,
    /// The model every other is compared with (default: the best by mean).
    #[arg(long, value_name = "ID")]
    pub reference: Option<String>,
    /// The metric (default: f1, r2 for regression).
    #[arg(long, value_name = "M")]
    pub metric: Option<String>,
    /// Significance level.
    #[arg(long, value_name = "A", default_value_t = 0.05)]
    pub alpha: f64,
    /// A quality gate on the run's pick, as `eval --gate`: `f1>=0.9`,
    /// `better-than:baseline` (at --alpha). A failed gate exits 3.
    #[arg(long = "gate", value_name = "EXPR", value_parser = super::parse_gate)]
    pub gates: Vec<crate::domain::Gate>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mlhost compare`.
pub(super) fn run(
    config: &Config,
    args: CompareArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(&config.database)?;
    let req = CompareRequest { reference: args.reference, metric: args.metric, alpha: args.alpha };
    let report = match compare::compare(&store, &args.run, &req) {
        Ok(r) => r,
        Err(e) if e.is_bad_input() => return Err(BadInput::Other(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_report(&report, out)?;
    }
    if !args.gates.is_empty() {
        let run = crate::service::runs::report(&store, &report.run_id)?.expect("compared");
        if let Some(code) = super::run_gates(&store, &run, &args.gates, args.alpha)? {
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn p(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v < 1e-4 => format!("{v:.1e}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// The table, then one line per model and the notes.
fn write_report(r: &CompareReport, out: &mut dyn Write) -> std::io::Result<()> {
    let boot = r
        .reference_bootstrap
        .map_or(String::new(), |[l, h]| format!(", bootstrap [{l:.4}, {h:.4}]"));
    writeln!(
        out,
        "run {}: {} ({}), reference {} = {:.4}{boot}",
        r.run_id, r.metric, r.direction, r.reference, r.reference_mean
    )?;
    let rows: Vec<Vec<String>> = r
        .comparisons
        .iter()
        .map(|c| {
            vec![
                c.model.clone(),
                format!("{:+.4}", c.mean_diff),
                format!("[{:+.4}, {:+.4}]", c.ci_low, c.ci_high),
                c.t_stat.map_or("inf".into(), |t| format!("{t:.2}")),
                p(Some(c.p_value_adjusted)),
                p(c.wilcoxon_p),
                p(c.mcnemar_p),
                if c.significant { "yes" } else { "no" }.into(),
                match (c.bootstrap_low, c.bootstrap_high) {
                    (Some(l), Some(h)) => format!("[{l:.4}, {h:.4}]"),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    let pcol = if r.correction == "holm" { "P (HOLM)" } else { "P" };
    let ci = format!("{:.0}% CI", 100.0 * (1.0 - r.alpha));
    let header = [
        "MODEL",
        "MEAN DIFF",
        &ci,
        "T",
        pcol,
        "WILCOXON P",
        "MCNEMAR P",
        "SIGNIFICANT",
        "BOOTSTRAP",
    ];
    write_table(out, &header, &rows)?;
    writeln!(out)?;
    for c in &r.comparisons {
        writeln!(out, "{}", interpret(r, c))?;
    }
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}

/// "logistic is significantly better than baseline on f1 (…)".
fn interpret(r: &CompareReport, c: &ModelComparison) -> String {
    let after = if r.correction == "holm" { " after Holm" } else { "" };
    let how = match (c.significant, c.better) {
        (true, true) => "is significantly better than",
        (true, false) => "is significantly worse than",
        (false, _) => "is not significantly different from",
    };
    format!(
        "{} {how} {} on {} (mean difference {:+.4}, corrected t-test p={}{after})",
        c.model,
        r.reference,
        r.metric,
        c.mean_diff,
        p(Some(c.p_value_adjusted))
    )
}
