//! The `mlhost` command line: argument parsing and the text and JSON output
//! of each command. Calls the library for all work; owns no logic of its own
//! beyond formatting.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};
pub use logging::LogFormat;

mod automl_cmd;
mod compare_cmd;
mod confusion_cmd;
mod cv_args;
mod drift_cmd;
mod eval_cmd;
mod fairness_cmd;
mod folds_cmd;
mod gate_report;
mod gc_cmd;
mod importance_cmd;
pub mod logging;
mod models_cmd;
pub mod plot;
mod plugin_new;
mod predict_cmd;
mod registry_view;
mod render;
mod runs_cmd;
mod score_file;
mod session;
mod signals;
mod tune_cmd;

pub use compare_cmd::CompareArgs;
pub use drift_cmd::DriftArgs;
use gate_report::{report_gates, run_gates};
pub use registry_view::write_registry_table;
pub use render::{write_run, write_table};
use session::{Session, discover, engine_error, refuse_if_wedged, relay_config};
pub use tune_cmd::{TuneArgs, write_study};

/// Host for machine-learning models compiled as plugins.
#[derive(Debug, Parser)]
#[command(name = "mlhost", version, about)]
pub struct Cli {
    /// The host config file.
    #[arg(long, global = true, default_value = "config/mlhost.toml")]
    pub config: PathBuf,
    /// The log on stderr: `text`, or `json` (one object per line, with the
    /// run, job and fold it belongs to). Its level comes from `RUST_LOG`
    /// (default `warn`; `info` for `serve`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every candidate model: ready, or rejected with the reason.
    Registry {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Probe every plugin file again, ignoring the verdicts cached in
        /// the database (they are replaced).
        #[arg(long)]
        reprobe: bool,
        /// Show one candidate with its parameter schema.
        #[arg(long, value_name = "ID")]
        model: Option<String>,
    },
    /// Train and evaluate candidates on one dataset; store and print results.
    Eval(Box<EvalArgs>),
    /// Search a candidate's hyperparameters (grid, random or TPE), trials
    /// in parallel, bad ones pruned early; store and print the study.
    Tune(Box<TuneArgs>),
    /// Race every ready candidate through short studies with successive
    /// halving, register the winner and recommend what to do next.
    Automl(Box<automl_cmd::AutomlArgs>),
    /// The train and test rows of each fold a run would use (dataset and
    /// split flags as eval's).
    Folds(folds_cmd::FoldsArgs),
    /// Fit a candidate on a whole dataset and register it as a new version
    /// of a model (artifact, manifest, lineage).
    Train(Box<models_cmd::TrainArgs>),
    /// Remove old runs and unneeded artifacts as `[retention]` says
    /// (running runs, model lineage and staged or aliased versions stay).
    Gc {
        /// Say what would go; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Predict the rows of a CSV with a registered version, streamed in
    /// and out: a `prediction` column (and `proba_<label>` columns).
    Predict(Box<predict_cmd::PredictArgs>),
    /// Registered models: list, show, versions, stage, alias, rollback,
    /// changelog.
    Models {
        /// What to do.
        #[command(subcommand)]
        cmd: models_cmd::ModelsCmd,
        /// Print JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Compare every model of a stored run with a reference: corrected
    /// t-test, Wilcoxon, McNemar, Holm, bootstrap intervals.
    Compare(CompareArgs),
    /// Permutation importance of one model of a stored run on its held-out
    /// folds, beside the plugin's own importances.
    Importance(importance_cmd::ImportanceArgs),
    /// List stored runs, newest first.
    Runs {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one stored run or study (an id or a unique prefix).
    Show {
        /// The run or study id.
        run: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Instead: each classification model's confusion matrix pooled
        /// over folds, per-class precision/recall/F1 and, with
        /// probabilities, the Brier score and reliability bins.
        #[arg(long, conflicts_with = "fairness_col")]
        confusion: bool,
        /// Instead: the bias check of a binary classification run, its
        /// held-out predictions grouped by this column of its dataset (per
        /// group: selection rate, TPR, FPR; demographic-parity and
        /// equalized-odds differences).
        #[arg(long, value_name = "COL")]
        fairness_col: Option<String>,
    },
    /// Publish the events waiting in the outbox to the Redis stream
    /// (`[events] redis_url`), then exit; with --follow keep publishing.
    Relay {
        /// Keep running and publish new events as they are written.
        #[arg(long)]
        follow: bool,
    },
    /// Serve the HTTP API (127.0.0.1:8080 unless `[api] bind` or --bind say
    /// otherwise).
    Serve {
        /// Address to bind, e.g. 127.0.0.1:0 for any free port.
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// The per-epoch trend of a job (an operation): best epoch, epochs since
    /// improvement, overfitting, plateau, and a recommendation.
    Analyze {
        /// The job id (`mlhost show RUN --json` lists them as jobs).
        job: String,
        /// Epochs without improvement that make a plateau.
        #[arg(long, default_value_t = 5)]
        patience: u32,
        /// The smallest improvement of validation loss that counts.
        #[arg(long, default_value_t = 0.001)]
        min_delta: f64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also draw train and validation loss per epoch to this SVG file.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<PathBuf>,
    },
    /// Follow a run live: each job's latest epoch and its trend.
    Watch {
        /// The run id (or a unique prefix).
        run: String,
    },
    /// Runs one job from a spec on stdin (used by process isolation).
    #[command(hide = true)]
    Worker,
    /// Serves one model version's predict calls over stdin and stdout
    /// (used by `serve` with `[serving] isolation = "process"`).
    #[command(hide = true, name = "serve-worker")]
    ServeWorker,
    /// Loads one plugin file from a request on stdin and reports each step
    /// (the host probes new plugin files this way before opening them).
    #[command(hide = true)]
    Probe,
    /// Plugin authoring: `mlhost plugin new PATH` writes a new plugin crate.
    Plugin {
        /// What to do.
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Per feature, how far a current CSV has drifted from a reference CSV:
    /// PSI, and the KS (numbers) or chi-square (categories) test.
    Drift(DriftArgs),
    /// Score predictions you already have: columns y_true, y_pred, and
    /// optionally y_score (positive-class score) or proba_<label> columns.
    Metrics {
        /// The CSV file.
        file: PathBuf,
        /// Positive class for binary metrics (default: the greater label).
        #[arg(long)]
        pos_label: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `mlhost plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginAction {
    /// Write a standalone plugin crate (a working nearest-centroid
    /// classifier with a test) that builds outside this repository.
    New {
        /// The folder to create (must not exist, or be empty).
        path: PathBuf,
        /// The plugin's name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// The plugin-api crate to depend on (default: the one this mlhost
        /// was built from).
        #[arg(long, value_name = "PATH")]
        api: Option<PathBuf>,
    },
}

/// `mlhost eval` flags; each overrides the config file.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The data, its split and its task.
    #[command(flatten)]
    pub data: cv_args::DataArgs,
    /// Candidate ids, comma-separated (default: every ready one that fits).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// At most this many jobs at once (1-256).
    #[arg(long)]
    pub workers: Option<u32>,
    /// Shuffle seed (without one, folds are scikit-learn's unshuffled ones).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Per-job timeout in seconds (1-604800).
    #[arg(long)]
    pub timeout_secs: Option<u64>,
    /// Stop each model's training once validation loss stops improving:
    /// `patience=5,min_delta=0.001` (either part may be left out).
    #[arg(long, value_name = "SPEC", value_parser = parse_early_stopping)]
    pub early_stopping: Option<crate::domain::Patience>,
    /// A quality gate on the run's pick (the best by F1, R² for
    /// regression): `f1>=0.9`, `log_loss<=0.3`, `better-than:baseline`.
    /// Repeatable; a failed gate prints one line and exits 3.
    #[arg(long = "gate", value_name = "EXPR", value_parser = parse_gate)]
    pub gates: Vec<crate::domain::Gate>,
    /// Significance level of `better-than` gates (corrected t-test).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Bias check of a binary classification run: group the held-out
    /// predictions by this column (read apart, never a feature) and print
    /// per group selection rate, TPR and FPR, and the demographic-parity
    /// and equalized-odds differences.
    #[arg(long, value_name = "COL")]
    pub fairness_col: Option<String>,
    /// Resume a stored run: run again every job that did not succeed, with
    /// the run's own settings (the other flags are ignored).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_gate(s: &str) -> Result<crate::domain::Gate, String> {
    s.parse().map_err(|e: crate::domain::SpecError| e.0)
}

fn parse_early_stopping(s: &str) -> Result<crate::domain::Patience, String> {
    let mut p = crate::domain::Patience::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| format!("{part:?}: expected key=value"))?;
        match k.trim() {
            "patience" => {
                p.patience = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or("patience must be a whole number >= 1")?
            }
            "min_delta" => {
                p.min_delta = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|d: &f64| *d >= 0.0 && d.is_finite())
                    .ok_or("min_delta must be a number >= 0")?
            }
            other => return Err(format!("unknown key {other:?}; use patience and min_delta")),
        }
    }
    Ok(p)
}

/// `--isolation`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum IsolationArg {
    /// Worker threads.
    Thread,
    /// Child processes.
    Process,
}

impl IsolationArg {
    /// The isolation it names.
    pub fn isolation(self) -> crate::domain::Isolation {
        match self {
            IsolationArg::Thread => crate::domain::Isolation::Thread,
            IsolationArg::Process => crate::domain::Isolation::Process,
        }
    }
}

/// `--task`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TaskArg {
    /// Class labels.
    Classification,
    /// Real-valued targets.
    Regression,
}

impl TaskArg {
    /// The task it names.
    pub fn task(self) -> mlhost_plugin_api::Task {
        match self {
            TaskArg::Classification => mlhost_plugin_api::Task::Classification,
            TaskArg::Regression => mlhost_plugin_api::Task::Regression,
        }
    }
}

/// An error in the user's input, not a failure of the command: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum BadInput {
    /// The config or registry file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Anything else the user gave.
    #[error("{0}")]
    Other(String),
}

/// Runs a parsed command, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    // A worker's and a probe's stderr is read by the host that started
    // them (the last line names a crash): they log nothing there.
    if !matches!(cli.command, Command::Worker | Command::ServeWorker | Command::Probe) {
        let default = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
        logging::init(cli.log_format, default);
    }
    let command = match without_config(cli.command, out)? {
        Ok(code) => return Ok(code),
        Err(command) => command,
    };
    let config = Config::load(&cli.config).map_err(BadInput::Config)?;
    with_config(config, command, out)
}

/// Runs `command` if it needs no config file (scoring a file, drift, the
/// hidden worker and probe commands, `plugin new`); else hands it back.
fn without_config(
    command: Command,
    out: &mut dyn Write,
) -> anyhow::Result<Result<ExitCode, Command>> {
    let done = Ok(Ok(ExitCode::SUCCESS));
    match command {
        Command::Metrics { file, pos_label, json } => {
            score_file::run(&file, pos_label.as_deref(), json, out).map(Ok)
        }
        Command::Drift(args) => drift_cmd::run(args, out).map(Ok),
        Command::Worker => {
            crate::engine::worker::worker_main(std::io::stdin().lock(), out)?;
            done
        }
        Command::ServeWorker => {
            let frames = crate::engine::serve_worker::worker_stdout()?;
            crate::engine::serve_worker::serve_worker_main(std::io::stdin().lock(), frames)?;
            done
        }
        Command::Plugin { action: PluginAction::New { path, name, api } } => {
            plugin_new::run(&path, name.as_deref(), api.as_deref(), out)?;
            done
        }
        Command::Probe => {
            crate::plugin::probe::probe_main(std::io::stdin().lock(), out)?;
            done
        }
        other => Ok(Err(other)),
    }
}

/// Runs a command that reads `config`.
fn with_config(config: Config, command: Command, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = &config;
    match command {
        Command::Metrics { .. }
        | Command::Drift(_)
        | Command::Worker
        | Command::ServeWorker
        | Command::Probe
        | Command::Plugin { .. } => unreachable!("run without a config"),
        Command::Eval(args) => eval_cmd::run(config, *args, out),
        Command::Tune(args) => tune_cmd::run(config, *args, out),
        Command::Automl(args) => automl_cmd::run(config, *args, out),
        Command::Folds(args) => folds_cmd::run(config, args, out),
        Command::Gc { dry_run, json } => gc_cmd::run(config, dry_run, json, out),
        Command::Train(args) => models_cmd::train(config, *args, out),
        Command::Models { cmd, json } => models_cmd::run(config, cmd, json, out),
        Command::Predict(args) => predict_cmd::run(config, *args, out),
        Command::Importance(args) => importance_cmd::run(config, args, out),
        Command::Watch { run } => runs_cmd::watch(config, &run, out),
        Command::Analyze { job, patience, min_delta, json, plot } => {
            let p = crate::domain::Patience { patience: patience.max(1), min_delta };
            runs_cmd::analyze(config, &job, p, json, plot.as_deref(), out)
        }
        Command::Serve { bind } => {
            let registry = discover(config, false)?;
            refuse_if_wedged(&registry)?;
            let bind = bind.unwrap_or(config.api.bind);
            crate::api::serve(config.clone(), registry, bind)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Relay { follow } => relay(config, follow, out),
        Command::Runs { json } => runs_cmd::list(config, json, out),
        Command::Compare(args) => compare_cmd::run(config, args, out),
        Command::Show { run, json, confusion: true, .. } => {
            confusion_cmd::show(config, &run, json, out)
        }
        Command::Show { run, json, fairness_col: Some(col), .. } => {
            fairness_cmd::show(config, &run, &col, json, out)
        }
        Command::Show { run, json, .. } => runs_cmd::show(config, &run, json, out),
        Command::Registry { json, reprobe, model } => {
            let registry = discover(config, reprobe)?;
            registry_view::run(&registry.report(), model.as_deref(), json, out)
        }
    }
}

/// `mlhost relay [--follow]`: publishes the outbox to Redis once, or
/// until stopped.
fn relay(config: &Config, follow: bool, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let Some(cfg) = relay_config(config) else {
        return Err(BadInput::Other(format!(
            "no [events] redis_url in {}; set it to publish events",
            config.path.display()
        ))
        .into());
    };
    if follow {
        let relay = crate::service::relay::Relay::spawn(config.database.clone(), cfg);
        let stop = crate::domain::StopFlag::default();
        let flag = stop.clone();
        signals::on_stop(move || flag.stop());
        while !stop.is_set() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        relay.finish();
    } else {
        let n = crate::service::relay::publish_once(&config.database, &cfg)?;
        writeln!(out, "published {n} events to {}", cfg.stream)?;
    }
    Ok(ExitCode::SUCCESS)
}
