//! The `mlhost` command line: argument parsing and the text and JSON output
//! of each command. Calls the library for all work; owns no logic of its own
//! beyond formatting.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::domain::JobStatus;
use crate::registry::{Loading, Registry};
use crate::service::runs::{self, ModelReport, RunReport};
pub use logging::LogFormat;

mod eval_cmd;
pub mod logging;
pub mod plot;
mod plugin_new;
mod registry_view;
mod score_file;

use crate::store::Store;
pub use registry_view::write_registry_table;

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
    Eval(EvalArgs),
    /// List stored runs, newest first.
    Runs {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one stored run (an id or a unique prefix).
    Show {
        /// The run id.
        run: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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
    /// `builtin:NAME` (breast_cancer, iris, wine, diabetes) or a CSV path.
    #[arg(long, default_value = crate::data::dataset::DEFAULT_DATASET)]
    pub dataset: String,
    /// The label column (default: the built-in's, or the CSV's last column).
    #[arg(long)]
    pub label: Option<String>,
    /// Candidate ids, comma-separated (default: every ready one that fits).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// At most this many jobs at once.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: Option<u32>,
    /// Cross-validation folds.
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=100), conflicts_with = "holdout")]
    pub folds: Option<u32>,
    /// Hold out this fraction for testing instead of cross-validating.
    #[arg(long)]
    pub holdout: Option<f64>,
    /// Shuffle seed (without one, folds are scikit-learn's unshuffled ones).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Per-job timeout in seconds.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout_secs: Option<u64>,
    /// Job isolation.
    #[arg(long, value_enum)]
    pub isolation: Option<IsolationArg>,
    /// Force the task instead of inferring it from the labels.
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// Positive class for binary metrics (default: the greater label).
    #[arg(long)]
    pub pos_label: Option<String>,
    /// Stop each model's training once validation loss stops improving:
    /// `patience=5,min_delta=0.001` (either part may be left out).
    #[arg(long, value_name = "SPEC", value_parser = parse_early_stopping)]
    pub early_stopping: Option<crate::metrics::trend::Patience>,
    /// Resume a stored run: run again every job that did not succeed, with
    /// the run's own settings (the other flags are ignored).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_early_stopping(s: &str) -> Result<crate::metrics::trend::Patience, String> {
    let mut p = crate::metrics::trend::Patience::default();
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

/// `--task`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TaskArg {
    /// Class labels.
    Classification,
    /// Real-valued targets.
    Regression,
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
    if !matches!(cli.command, Command::Worker | Command::Probe) {
        let default = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
        logging::init(cli.log_format, default);
    }
    if let Command::Metrics { file, pos_label, json } = &cli.command {
        return score_file::run(file, pos_label.as_deref(), *json, out);
    }
    if let Command::Worker = &cli.command {
        crate::engine::worker::worker_main(std::io::stdin().lock(), out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Plugin { action: PluginAction::New { path, name, api } } = &cli.command {
        plugin_new::run(path, name.as_deref(), api.as_deref(), out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Probe = &cli.command {
        crate::plugin::probe::probe_main(std::io::stdin().lock(), out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(&cli.config).map_err(BadInput::Config)?;
    match cli.command {
        Command::Metrics { .. } | Command::Worker | Command::Probe | Command::Plugin { .. } => {
            unreachable!("handled above")
        }
        Command::Eval(args) => return eval_cmd::run(&config, args, out),
        Command::Watch { run } => return watch(&config, &run, out),
        Command::Analyze { job, patience, min_delta, json, plot } => {
            let store = Store::open(&config.database)?;
            let rows = store.epochs(&job)?;
            let p = crate::metrics::trend::Patience { patience: patience.max(1), min_delta };
            if let Some(path) = &plot {
                if rows.is_empty() {
                    return Err(BadInput::Other(format!(
                        "no epochs recorded for job {job}; nothing to plot"
                    ))
                    .into());
                }
                let mut folds: std::collections::BTreeMap<i64, Vec<crate::metrics::trend::Epoch>> =
                    Default::default();
                for r in &rows {
                    let m: serde_json::Value =
                        serde_json::from_str(&r.metrics_json).unwrap_or_default();
                    folds.entry(r.fold).or_default().push(crate::metrics::trend::Epoch {
                        epoch: r.epoch as u32,
                        train_loss: m["train_loss"].as_f64(),
                        val_loss: m["val_loss"].as_f64(),
                    });
                }
                let folds: Vec<_> = folds.into_iter().collect();
                crate::cli::plot::loss_curves(path, &format!("job {job}"), &folds, p)
                    .map_err(BadInput::Other)?;
            }
            let mut doc = serde_json::to_value(crate::metrics::trend::report(&rows, p))?;
            doc["operationId"] = job.clone().into();
            if json {
                serde_json::to_writer_pretty(&mut *out, &doc)?;
                writeln!(out)?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "no epochs recorded for job {job}: its model reports none, or it has not trained yet"
                )?;
            } else {
                for f in doc["folds"].as_array().into_iter().flatten() {
                    let t = &f["trend"];
                    writeln!(
                        out,
                        "fold {}: {} epochs, best epoch {} (val_loss {}), {} since improvement, overfitting: {}, plateau: {} -> {}",
                        f["fold"],
                        t["epochs"],
                        t["bestEpoch"],
                        t["bestValLoss"],
                        t["epochsSinceImprovement"],
                        t["overfitting"],
                        t["plateau"],
                        t["recommendation"].as_str().unwrap_or("")
                    )?;
                }
            }
        }
        Command::Serve { bind } => {
            let registry = discover(&config, false)?;
            refuse_if_wedged(&registry)?;
            let bind = bind.unwrap_or(config.api.bind);
            crate::api::serve(config, registry, bind)?;
        }
        Command::Relay { follow } => {
            let Some(cfg) = relay_config(&config) else {
                return Err(BadInput::Other(format!(
                    "no [events] redis_url in {}; set it to publish events",
                    config.path.display()
                ))
                .into());
            };
            if follow {
                let relay = crate::service::relay::Relay::spawn(config.database.clone(), cfg);
                let stop = crate::engine::pool::StopFlag::default();
                let flag = stop.clone();
                let _ = ctrlc::set_handler(move || flag.stop());
                while !stop.is_set() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                relay.finish();
            } else {
                let n = crate::service::relay::publish_once(&config.database, &cfg)?;
                writeln!(out, "published {n} events to {}", cfg.stream)?;
            }
        }
        Command::Runs { json } => {
            let store = Store::open(&config.database)?;
            let runs = store.runs()?;
            let mut rows = Vec::new();
            for r in &runs {
                let jobs = store.jobs(&r.id)?;
                let ok = jobs.iter().filter(|j| j.status == JobStatus::Succeeded).count();
                rows.push(serde_json::json!({
                    "runId": r.id, "createdAt": r.created_at, "status": r.status,
                    "datasetId": r.dataset_id, "jobs": jobs.len(), "succeeded": ok,
                    "finishedAt": r.finished_at,
                }));
            }
            if json {
                serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "runs": rows }))?;
                writeln!(out)?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "no runs yet in {}; start one with `mlhost eval`",
                    config.database.display()
                )?;
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r["runId"].as_str().unwrap_or("").to_owned(),
                            r["createdAt"].as_str().unwrap_or("").to_owned(),
                            r["status"].as_str().unwrap_or("").to_owned(),
                            r["datasetId"].as_str().unwrap_or("").chars().take(12).collect(),
                            format!("{}/{}", r["succeeded"], r["jobs"]),
                        ]
                    })
                    .collect();
                write_table(out, &["RUN", "CREATED", "STATUS", "DATASET", "SUCCEEDED"], &table)?;
            }
        }
        Command::Show { run, json } => {
            let store = Store::open(&config.database)?;
            let Some(report) = runs::report(&store, &run)? else {
                return Err(BadInput::Other(format!(
                    "no run '{run}' in {}; `mlhost runs` lists them",
                    config.database.display()
                ))
                .into());
            };
            write_run(&report, json, out)?;
        }
        Command::Registry { json, reprobe, model } => {
            let registry = discover(&config, reprobe)?;
            let report = registry.report();
            match model {
                Some(id) => {
                    let Some(row) = report.models.iter().find(|m| m.id == id) else {
                        let why = if report.disabled.contains(&id) {
                            format!("candidate '{id}' is disabled in models.toml (enabled = false)")
                        } else {
                            format!("no candidate '{id}'; `mlhost registry` lists them")
                        };
                        return Err(BadInput::Other(why).into());
                    };
                    if json {
                        serde_json::to_writer_pretty(&mut *out, row)?;
                        writeln!(out)?;
                    } else {
                        registry_view::write_candidate(row, out)?;
                    }
                }
                None if json => {
                    serde_json::to_writer_pretty(&mut *out, &report)?;
                    writeln!(out)?;
                }
                None => registry_view::write_registry_table(&report, out)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The registry as every command sees it: each plugin file the database
/// has no verdict for is probed in a child `mlhost probe` before this
/// process opens it. A database that cannot be opened only costs the cache.
fn discover(config: &Config, reprobe: bool) -> anyhow::Result<Registry> {
    let exe = std::env::current_exe()?;
    let mut store = Store::open(&config.database);
    let (cache, unavailable) = match &mut store {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let mut loading = Loading::probing(config, exe, cache);
    loading.reprobe = reprobe;
    let mut registry = Registry::discover_with(config, &mut loading).map_err(BadInput::Config)?;
    if let Some(e) = unavailable {
        registry.warnings.push(format!("probe cache unavailable, every plugin was probed: {e}"));
    }
    Ok(registry)
}

/// After a plugin hung inside dlopen, this process cannot start a thread
/// (each one waits on the loader's lock): `registry` can still report, a
/// run or a server cannot start.
fn refuse_if_wedged(registry: &Registry) -> anyhow::Result<()> {
    if !crate::plugin::loader::wedged() {
        return Ok(());
    }
    let culprit = registry
        .candidates
        .iter()
        .find(|c| c.reason().is_some_and(|r| r.starts_with("hung while loading in the host")))
        .map_or_else(|| "a plugin".to_owned(), |c| format!("plugin file '{}'", c.id));
    anyhow::bail!(
        "{culprit} hung inside the dynamic loader in this process, which can start no threads now; remove it and run again (`mlhost registry` shows it)"
    )
}

/// `mlhost watch RUN`: redraws every 500 ms until the run ends.
fn watch(config: &Config, run: &str, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let store = Store::open(&config.database)?;
    let Some(first) = store.run(run)? else {
        return Err(BadInput::Other(format!("no run '{run}'; `mlhost runs` lists them")).into());
    };
    let tty = std::io::stdout().is_terminal();
    loop {
        let run = store.run(first.id.as_str())?.expect("runs are never deleted");
        let mut rows = Vec::new();
        for job in store.jobs(&run.id)? {
            let epochs = store.epochs(job.id.as_str())?;
            let last = epochs.last();
            let fold = last.map_or(0, |e| e.fold);
            let history: Vec<crate::metrics::trend::Epoch> = epochs
                .iter()
                .filter(|e| e.fold == fold)
                .map(|e| {
                    let m: serde_json::Value =
                        serde_json::from_str(&e.metrics_json).unwrap_or_default();
                    crate::metrics::trend::Epoch {
                        epoch: e.epoch as u32,
                        train_loss: m["train_loss"].as_f64(),
                        val_loss: m["val_loss"].as_f64(),
                    }
                })
                .collect();
            let trend = crate::metrics::trend::analyze(
                &history,
                crate::metrics::trend::Patience::default(),
            );
            let fmt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.4}"));
            let latest = history.last();
            rows.push(vec![
                job.model_id.clone(),
                job.status.to_string(),
                if last.is_some() { fold.to_string() } else { "-".into() },
                latest.map_or("-".into(), |e| e.epoch.to_string()),
                fmt(latest.and_then(|e| e.train_loss)),
                fmt(latest.and_then(|e| e.val_loss)),
                trend.best_epoch.map_or("-".into(), |b| b.to_string()),
                if history.is_empty() { "-".into() } else { trend.recommendation.to_owned() },
            ]);
        }
        if tty {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        writeln!(out, "run {}  {}", run.id, run.status)?;
        write_table(
            out,
            &["MODEL", "STATUS", "FOLD", "EPOCH", "TRAIN_LOSS", "VAL_LOSS", "BEST", "TREND"],
            &rows,
        )?;
        out.flush()?;
        if run.status.is_finished() {
            return Ok(ExitCode::SUCCESS);
        }
        if !tty {
            writeln!(out)?;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn relay_config(config: &Config) -> Option<crate::service::relay::RelayConfig> {
    Some(crate::service::relay::RelayConfig {
        redis_url: config.events.redis_url.clone()?,
        stream: config.events.stream.clone(),
        maxlen: config.events.maxlen,
    })
}

/// A run as JSON or as the comparison table (sorted by F1, R² for
/// regression), with each failure's reason below.
pub fn write_run(report: &RunReport, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        return writeln!(out);
    }
    let regression = report.models.iter().any(|m| m.metrics.contains("r2"));
    let columns: &[&str] = if regression {
        &["r2", "rmse", "mae"]
    } else {
        &["f1", "accuracy", "roc_auc", "roc_auc_ovr", "log_loss"]
    };
    let columns: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| report.models.iter().any(|m| m.metrics.get(c).is_some()))
        .collect();
    let mut models: Vec<&ModelReport> = report.models.iter().collect();
    let key = |m: &ModelReport| m.metrics.get(columns.first().copied().unwrap_or(""));
    models.sort_by(|a, b| {
        (b.status == JobStatus::Succeeded)
            .cmp(&(a.status == JobStatus::Succeeded))
            .then(
                key(b).unwrap_or(f64::NEG_INFINITY).total_cmp(&key(a).unwrap_or(f64::NEG_INFINITY)),
            )
            .then(a.model_id.cmp(&b.model_id))
    });
    let mut header = vec!["MODEL".to_owned(), "VERSION".to_owned()];
    header.extend(columns.iter().map(|c| c.to_uppercase()));
    header.extend(["FIT_S".to_owned(), "STATUS".to_owned()]);
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let mut row = vec![m.model_id.clone(), m.model_version.clone()];
            for c in &columns {
                row.push(match (m.metrics.get(c), m.metrics_std.get(c)) {
                    (Some(mean), Some(std)) => format!("{mean:.4} ± {std:.4}"),
                    (Some(mean), None) => format!("{mean:.4}"),
                    _ => "-".to_owned(),
                });
            }
            row.push(m.metrics.get("fit_seconds").map_or("-".to_owned(), |s| format!("{s:.4}")));
            row.push(m.status.to_string());
            row
        })
        .collect();
    writeln!(
        out,
        "run {}  dataset {}  {}",
        report.run_id,
        &report.dataset_id[..12.min(report.dataset_id.len())],
        report.status
    )?;
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    write_table(out, &header, &rows)?;
    for m in models.iter().filter(|m| m.error.is_some()) {
        writeln!(out, "{} {}: {}", m.status, m.model_id, m.error.as_deref().unwrap_or(""))?;
    }
    Ok(())
}

/// Left-aligned columns two spaces apart.
pub fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}
