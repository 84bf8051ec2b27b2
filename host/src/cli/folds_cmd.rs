//! `mlhost folds`: the train and test rows each fold of a run would use,
//! as a table or `{"folds":[{"fold","train","test"}]}`, rows numbered from
//! 0 in file order.

use std::io::Write;
use std::process::ExitCode;

use super::{BadInput, TaskArg, cv_args::CvArgs};
use crate::config::Config;
use crate::domain::{RunRequest, RunSpec};

/// `mlhost folds` flags: the dataset and how to split it, as `eval`'s.
#[derive(Debug, clap::Args)]
pub struct FoldsArgs {
    /// `builtin:NAME` or a CSV path.
    #[arg(long, default_value = crate::domain::DEFAULT_DATASET)]
    pub dataset: String,
    /// The label column.
    #[arg(long)]
    pub label: Option<String>,
    /// Shuffle seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Force the task instead of inferring it from the labels.
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// How rows are split.
    #[command(flatten)]
    pub cv: CvArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(
    config: &Config,
    args: FoldsArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let req = RunRequest {
        dataset: Some(args.dataset.clone()),
        label: args.label.clone(),
        seed: args.seed,
        task: args.task.map(TaskArg::task),
        cv: args.cv.request(),
        ..RunRequest::default()
    };
    let spec = RunSpec::resolve(req, &config.eval.run_defaults())
        .map_err(|e| BadInput::Other(e.to_string()))?;
    if let Some(col) = &spec.time_col {
        eprintln!("rows are split in the order of '{col}' (--time-col)");
    }
    let folds = crate::engine::folds(&spec).map_err(super::engine_error)?;
    if args.json {
        let folds: Vec<_> = folds
            .iter()
            .enumerate()
            .map(|(i, f)| serde_json::json!({"fold": i, "train": f.train, "test": f.test}))
            .collect();
        serde_json::to_writer(&mut *out, &serde_json::json!({ "folds": folds }))?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let span = |rows: &[u32]| match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => format!("{} rows ({a}..={b})", rows.len()),
        _ => "0 rows".to_owned(),
    };
    let rows: Vec<Vec<String>> = folds
        .iter()
        .enumerate()
        .map(|(i, f)| vec![i.to_string(), span(&f.train), span(&f.test)])
        .collect();
    super::write_table(out, &["FOLD", "TRAIN", "TEST"], &rows)?;
    Ok(ExitCode::SUCCESS)
}
