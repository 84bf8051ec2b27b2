//! `mlhost train` and `mlhost models`: train a candidate into a registered
//! version, and look at or move a model's versions, stages and aliases.

use std::io::Write;
use std::process::ExitCode;

use super::{BadInput, TaskArg, render::write_table};
use crate::config::Config;
use crate::domain::RunRequest;
use crate::service::models::{self, ModelError, TrainRequest, lifecycle};
use crate::store::artifacts::Artifacts;
use crate::store::{Store, VersionRow};

/// `mlhost train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The candidate to train (with --from: the source's by default).
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// A parameter on top of the candidate's: `--param c=0.5` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Train with a study's best trial's params (or, with --model, a run's
    /// params of that model), on its dataset.
    #[arg(long, value_name = "STUDY|RUN")]
    pub from: Option<String>,
    /// The registered model's name (default: the candidate id).
    #[arg(long)]
    pub name: Option<String>,
    /// A note for the changelog.
    #[arg(long)]
    pub message: Option<String>,
    /// `builtin:NAME` or a CSV path.
    #[arg(long, default_value = crate::domain::DEFAULT_DATASET)]
    pub dataset: String,
    /// The label column.
    #[arg(long)]
    pub label: Option<String>,
    /// Force the task instead of inferring it from the labels.
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Seed handed to the plugin.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE, e.g. c=0.5"))
}

/// `mlhost models ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCmd {
    /// Every registered model.
    List,
    /// One version: `NAME`, `NAME@ALIAS` or `NAME:N`.
    Show { model: String },
    /// Every version of a model, newest first.
    Versions { name: String },
    /// Move a version to a stage (development, staging, production,
    /// deprecated, archived); one production version at a time.
    Stage { name: String, version: i64, stage: String },
    /// Point an alias (e.g. champion) at a version.
    Alias { name: String, version: i64, alias: String },
    /// Move production back to the previous production version.
    Rollback { name: String },
    /// Every change of a model, oldest first.
    Changelog { name: String },
}

pub(super) fn error(e: ModelError) -> anyhow::Error {
    match e {
        ModelError::Store(s) => s.into(),
        other => BadInput::Other(other.to_string()).into(),
    }
}

pub(super) fn train(
    config: &Config,
    args: TrainArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut session = super::Session::open(config)?;
    let req = TrainRequest {
        run: RunRequest {
            dataset: Some(args.dataset.clone()),
            label: args.label.clone(),
            task: args.task.map(TaskArg::task),
            seed: args.seed,
            models: args.model.iter().cloned().collect(),
            ..RunRequest::default()
        },
        model: args.model,
        params: args.params,
        from: args.from,
        name: args.name,
        message: args.message,
    };
    let artifacts = Artifacts::new(&config.artifacts);
    let defaults = config.eval.run_defaults();
    let report = models::train(&session.registry, &mut session.store, &artifacts, &defaults, req)
        .map_err(error)?;
    session.finish_relay();
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let v = &report.version;
    writeln!(
        out,
        "registered {}:{} ({}) from {} rows of {}: {} {} ({}), stage {}",
        v.name,
        v.version,
        v.semver,
        report.rows,
        v.dataset_id.get(..12).unwrap_or(&v.dataset_id),
        v.plugin,
        v.plugin_version,
        v.candidate,
        v.stage
    )?;
    writeln!(out, "artifact {}", report.artifact_path)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn run(
    config: &Config,
    cmd: ModelsCmd,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&config.database)?;
    let said = match cmd {
        ModelsCmd::List => {
            let list = lifecycle::list(&store).map_err(error)?;
            if json {
                return print_json(out, &serde_json::json!({ "models": list }));
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|m| {
                    vec![
                        m.name.clone(),
                        m.versions.to_string(),
                        format!("{} ({})", m.latest, m.latest_semver),
                        m.production.map_or("-".into(), |p| p.to_string()),
                        m.aliases.join(", "),
                    ]
                })
                .collect();
            write_table(out, &["MODEL", "VERSIONS", "LATEST", "PRODUCTION", "ALIASES"], &rows)?;
            return Ok(ExitCode::SUCCESS);
        }
        ModelsCmd::Show { model } => {
            let v = lifecycle::show(&store, &model).map_err(error)?;
            return print_json(out, &serde_json::to_value(v)?);
        }
        ModelsCmd::Versions { name } => {
            let versions = lifecycle::versions(&store, &name).map_err(error)?;
            if json {
                return print_json(out, &serde_json::json!({ "name": name, "versions": versions }));
            }
            write_versions(out, &versions)?;
            return Ok(ExitCode::SUCCESS);
        }
        ModelsCmd::Changelog { name } => {
            let log = lifecycle::changelog(&store, &name).map_err(error)?;
            if json {
                return print_json(out, &serde_json::json!({ "name": name, "changes": log }));
            }
            let rows: Vec<Vec<String>> = log
                .iter()
                .map(|c| {
                    vec![c.at.clone(), c.version.to_string(), c.change.clone(), c.detail.clone()]
                })
                .collect();
            write_table(out, &["AT", "VERSION", "CHANGE", "DETAIL"], &rows)?;
            return Ok(ExitCode::SUCCESS);
        }
        ModelsCmd::Stage { name, version, stage } => {
            lifecycle::stage(&mut store, &name, version, &stage)
        }
        ModelsCmd::Alias { name, version, alias } => {
            lifecycle::alias(&mut store, &name, version, &alias)
        }
        ModelsCmd::Rollback { name } => lifecycle::rollback(&mut store, &name),
    }
    .map_err(error)?;
    if json {
        return print_json(out, &serde_json::json!({ "changed": said }));
    }
    writeln!(out, "{said}")?;
    Ok(ExitCode::SUCCESS)
}

fn print_json(out: &mut dyn Write, v: &serde_json::Value) -> anyhow::Result<ExitCode> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

fn write_versions(out: &mut dyn Write, versions: &[VersionRow]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.semver.clone(),
                v.stage.to_string(),
                v.aliases.join(","),
                format!("{} {}", v.plugin, v.plugin_version),
                v.source_study
                    .clone()
                    .or_else(|| v.source_run.clone())
                    .unwrap_or_else(|| "-".into()),
                v.created_at.clone(),
                v.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write_table(
        out,
        &["VERSION", "SEMVER", "STAGE", "ALIASES", "PLUGIN", "SOURCE", "CREATED", "MESSAGE"],
        &rows,
    )
}
