//! `mlhost tune`: flags into a study spec, the study with a live progress
//! line and Ctrl-C, then the trials sorted by value (or JSON), and
//! optionally the SVG of its history.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::BadInput;
use crate::config::Config;
use crate::domain::{
    Direction, PrunerName, RunRequest, RunStatus, StrategyName, StudyRequest, StudySpec,
    TrialStatus,
};
use crate::service::tuning::{self, StudyReport, Tally};

/// `mlhost tune` flags.
#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// The candidate to tune (an id of `mlhost registry`).
    #[arg(long, required_unless_present = "resume")]
    pub model: Option<String>,
    /// How trials are proposed.
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Trials to run (default 50; a grid: every point).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Search NAME over SPEC: `a,b,c` (values; a grid axis), `LOW..HIGH`
    /// (uniform; ints stay ints) or `LOW..HIGH:log`. Repeat for more. Only
    /// the parameters named are searched; without any, every parameter
    /// the plugin bounds (and models.toml leaves unset), over its whole range.
    #[arg(long = "param", value_name = "NAME=SPEC", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// The metric to optimize (default f1, r2 for regression). Repeat for
    /// several objectives: the first picks the best, all make the Pareto front.
    #[arg(long = "metric", value_name = "M")]
    pub metrics: Vec<String>,
    /// One per --metric (default: losses and seconds minimize, scores maximize).
    #[arg(long = "direction", value_enum)]
    pub directions: Vec<DirectionArg>,
    /// Stop bad trials early from their per-epoch values.
    #[arg(long, value_enum)]
    pub pruner: Option<PrunerArg>,
    /// The per-epoch value the pruner reads (lower is better).
    #[arg(long, value_name = "NAME")]
    pub prune_on: Option<String>,
    /// Start no new trial after this many seconds (running ones finish).
    #[arg(long)]
    pub timeout_secs: Option<u64>,
    /// A trial's own timeout in seconds (default: `[eval] timeout_secs`).
    #[arg(long)]
    pub trial_timeout_secs: Option<u64>,
    /// At most this many trials at once.
    #[arg(long)]
    pub workers: Option<u32>,
    /// Seeds the proposals; also shuffles the folds and seeds each fit, as
    /// eval's --seed (without it, the folds are scikit-learn's unshuffled ones).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A quality gate on the best trial: `f1>=0.9`, `log_loss<=0.3`.
    /// Repeatable; a failed gate prints one line and exits 3.
    #[arg(long = "gate", value_name = "EXPR", value_parser = super::parse_gate)]
    pub gates: Vec<crate::domain::Gate>,
    /// Resume a stored study (after a crash or Ctrl-C) with its own
    /// settings: trials that had not ended run again, then it goes on.
    #[arg(long, value_name = "STUDY")]
    pub resume: Option<String>,
    /// Draw the optimisation history (and, for two parameters, the trials
    /// over them) to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// The data, its split and its task.
    #[command(flatten)]
    pub data: super::cv_args::DataArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StrategyArg {
    /// Every point of the grid.
    Grid,
    /// Independent draws.
    Random,
    /// Tree-structured Parzen estimator.
    Tpe,
}

/// `--pruner`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PrunerArg {
    /// Never prune.
    None,
    /// Optuna's MedianPruner.
    Median,
    /// Asynchronous successive halving.
    Asha,
}

/// `--direction`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DirectionArg {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    let (name, spec) = s
        .split_once('=')
        .filter(|(n, v)| !n.trim().is_empty() && !v.trim().is_empty())
        .ok_or_else(|| format!("{s:?}: expected NAME=SPEC, e.g. k=1,3,5 or c=0.01..100:log"))?;
    Ok((name.trim().to_owned(), spec.trim().to_owned()))
}

/// The flags as a study request.
fn request(args: &TuneArgs) -> StudyRequest {
    StudyRequest {
        run: RunRequest {
            models: Vec::new(),
            workers: args.workers,
            seed: args.seed,
            timeout_secs: args.trial_timeout_secs,
            ..args.data.request()
        },
        model: args.model.clone().unwrap_or_default(),
        strategy: args.strategy.map(|s| match s {
            StrategyArg::Grid => StrategyName::Grid,
            StrategyArg::Random => StrategyName::Random,
            StrategyArg::Tpe => StrategyName::Tpe,
        }),
        trials: args.trials,
        params: args.params.clone(),
        metrics: args.metrics.clone(),
        directions: args
            .directions
            .iter()
            .map(|d| match d {
                DirectionArg::Maximize => Direction::Maximize,
                DirectionArg::Minimize => Direction::Minimize,
            })
            .collect(),
        pruner: args.pruner.map(|p| match p {
            PrunerArg::None => PrunerName::None,
            PrunerArg::Median => PrunerName::Median,
            PrunerArg::Asha => PrunerName::Asha,
        }),
        prune_on: args.prune_on.clone(),
        timeout_secs: args.timeout_secs,
    }
}

pub(super) fn run(
    config: &Config,
    args: TuneArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let spec = match args.resume {
        Some(_) => None,
        None => Some(
            StudySpec::resolve(request(&args), &config.eval.run_defaults())
                .map_err(|e| BadInput::Other(e.to_string()))?,
        ),
    };
    let mut session = super::Session::open(config)?;
    let super::Session { ctx, registry, store, .. } = &mut session;
    let mut line = Line::new();
    let outcome = match (&args.resume, &spec) {
        (Some(id), _) => tuning::resume(registry, store, id, ctx, &mut line),
        (None, Some(spec)) => tuning::start(registry, store, spec, ctx, &mut line),
        (None, None) => unreachable!("a spec is resolved unless resuming"),
    };
    line.done();
    let report = outcome.map_err(super::engine_error)?;
    session.finish_relay();
    if let Some(path) = &args.plot {
        super::plot::study(path, &report).map_err(anyhow::Error::msg)?;
    }
    write_study(&report, args.json, out)?;
    if report.status == RunStatus::Cancelled {
        eprintln!("cancelled; `mlhost tune --resume {}` goes on", report.study_id);
        return Ok(ExitCode::from(130));
    }
    let subject = crate::service::gates::study_subject(&report);
    let better = |other: &str| {
        Err(format!(
            "--gate better-than:{other}: a study's trials are one candidate; compare the best against {other} with an eval and `mlhost compare`"
        ))
    };
    if report.best.is_some()
        && let Some(code) = super::report_gates(subject, &args.gates, &better)?
    {
        return Ok(code);
    }
    if report.best.is_none() {
        let why = report.trials.iter().find_map(|t| t.note.as_deref()).unwrap_or("no trial ran");
        eprintln!("no trial completed; the first reason: {why}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A study as JSON, or its trials sorted by value (best first; pruned and
/// failed below) with the best and, for several metrics, the Pareto front.
pub fn write_study(report: &StudyReport, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        return writeln!(out);
    }
    let sign = if report.direction == "minimize" { 1.0 } else { -1.0 };
    let mut trials: Vec<_> = report.trials.iter().collect();
    trials.sort_by(|a, b| {
        let key = |t: &&tuning::TrialReport| t.value.map_or(f64::INFINITY, |v| sign * v);
        key(a).total_cmp(&key(b)).then(a.trial.cmp(&b.trial))
    });
    let counts = |s: TrialStatus| report.trials.iter().filter(|t| t.state == s).count();
    writeln!(
        out,
        "study {}  run {}  {} {}  {} trials: {} complete, {} pruned, {} failed  {}",
        report.study_id,
        report.run_id,
        report.model,
        report.strategy,
        report.trials.len(),
        counts(TrialStatus::Complete),
        counts(TrialStatus::Pruned),
        counts(TrialStatus::Failed),
        report.status
    )?;
    let mut header = vec!["TRIAL".to_owned()];
    header.extend(report.metrics.iter().map(|m| m.to_uppercase()));
    header.extend(["STATE".to_owned(), "SECONDS".to_owned(), "PARAMS".to_owned()]);
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            let mut row = vec![t.trial.to_string()];
            for (i, m) in report.metrics.iter().enumerate() {
                let v = t.values.as_ref().and_then(|v| v.get(i).copied());
                row.push(match (v, t.metrics_std.get(m)) {
                    (Some(v), Some(std)) => format!("{v:.4} ± {std:.4}"),
                    (Some(v), None) => format!("{v:.4}"),
                    _ => "-".to_owned(),
                });
            }
            row.push(t.state.to_string());
            row.push(
                t.duration_ms.map_or("-".to_owned(), |ms| format!("{:.2}", ms as f64 / 1000.0)),
            );
            row.push(params_text(&t.params));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    super::write_table(out, &header, &rows)?;
    match &report.best {
        Some(b) => writeln!(
            out,
            "best: trial {}  {} = {:.4} ({})  {}",
            b.trial,
            report.metric,
            b.value,
            report.direction,
            params_text(&b.params)
        )?,
        None => writeln!(out, "best: none (no trial completed)")?,
    }
    if report.metrics.len() > 1 {
        let front: Vec<String> = report.pareto.iter().map(usize::to_string).collect();
        writeln!(out, "pareto front ({}): trials {}", report.metrics.join(", "), front.join(", "))?;
    }
    Ok(())
}

/// `name=value` pairs, space-separated.
pub(super) fn params_text(params: &serde_json::Value) -> String {
    let Some(map) = params.as_object() else { return String::new() };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                format!("{k}={:.4}", n.as_f64().unwrap_or(f64::NAN))
            }
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The live progress line on a terminal: trials done of the budget,
/// pruned, failed, best so far; nothing when stderr is piped.
struct Line {
    bar: Option<indicatif::ProgressBar>,
}

impl Line {
    fn new() -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} trials  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        Line { bar }
    }
    fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl crate::engine::tune::StudyProgress for Line {
    fn update(&mut self, t: &Tally) {
        if let Some(b) = &self.bar {
            b.set_length(t.budget as u64);
            b.set_position((t.complete + t.pruned + t.failed) as u64);
            let best = t.best.map_or("-".to_owned(), |v| format!("{v:.4}"));
            b.set_message(format!("{} pruned, {} failed, best {best}", t.pruned, t.failed));
        }
    }
}
