//! `mlhost importance RUN --model ID`: permutation importance on the run's
//! held-out folds, beside the plugin's own importances, as a table sorted
//! by importance or as JSON.

use std::io::Write;
use std::process::ExitCode;

use super::{discover, refuse_if_wedged};
use crate::config::Config;
use crate::engine::importance::{ImportanceRequest, importance};
use crate::store::Store;

/// `mlhost importance` flags.
#[derive(Debug, clap::Args)]
pub struct ImportanceArgs {
    /// The run (an id or a unique prefix).
    pub run: String,
    /// The candidate (or, for a study's run, a job id).
    #[arg(long)]
    pub model: String,
    /// Shuffles per feature and fold.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// The score whose loss is measured (default f1, r2 for regression).
    #[arg(long)]
    pub metric: Option<String>,
    /// Seeds the shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(
    config: &Config,
    args: ImportanceArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let registry = discover(config, false)?;
    refuse_if_wedged(&registry)?;
    let store = Store::open(&config.database)?;
    let req = ImportanceRequest {
        model: args.model.clone(),
        repeats: args.repeats,
        metric: args.metric.clone(),
        seed: args.seed,
    };
    let report = importance(&registry, &store, &args.run, &req).map_err(super::engine_error)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "run {}  {}  {} lost when a feature is shuffled ({} folds x {} repeats)",
        report.run_id, report.model, report.metric, report.folds, report.repeats
    )?;
    let mut features: Vec<_> = report.features.iter().collect();
    features.sort_by(|a, b| b.importance_mean.total_cmp(&a.importance_mean));
    let rows: Vec<Vec<String>> = features
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                format!("{:.4} ± {:.4}", f.importance_mean, f.importance_std),
                f.plugin_importance.map_or("-".to_owned(), |v| format!("{v:.4}")),
            ]
        })
        .collect();
    super::write_table(out, &["FEATURE", "PERMUTATION", "PLUGIN"], &rows)?;
    Ok(ExitCode::SUCCESS)
}
