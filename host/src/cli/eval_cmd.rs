//! `mlhost eval`: flags into a run spec, the run with a progress bar and
//! Ctrl-C, the table or JSON, and what a plain `eval` skipped.

use std::io::Write;
use std::process::ExitCode;

use super::{BadInput, EvalArgs, write_run};
use crate::config::Config;
use crate::domain::{JobStatus, RunRequest, RunSpec, RunStatus};
use crate::registry::Registry;
use crate::service::runs::{self, Progress, RunReport};

pub(super) fn run(
    config: &Config,
    args: EvalArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    // A resumed run keeps its stored settings: the other flags are not read.
    let spec = match args.resume {
        Some(_) => None,
        None => Some(
            RunSpec::resolve(request(&args), &config.eval.run_defaults())
                .map_err(|e| BadInput::Other(e.to_string()))?,
        ),
    };
    if let Some(col) = spec.as_ref().and_then(|s| s.time_col.as_ref()) {
        eprintln!("rows are split in the order of '{col}' (--time-col)");
    }
    let mut session = super::Session::open(config)?;
    let super::Session { ctx, registry, store, .. } = &mut session;
    let mut bar = Bar::new();
    let outcome = match (&args.resume, &spec) {
        (Some(run), _) => runs::resume(registry, store, run, ctx, &mut bar),
        (None, Some(spec)) => runs::start(registry, store, spec, ctx, &mut bar),
        (None, None) => unreachable!("a spec is resolved unless resuming"),
    };
    let report = outcome.map_err(super::engine_error)?;
    bar.done();
    session.finish_relay();
    let (registry, store) = (&session.registry, &session.store);
    let fairness = super::fairness_cmd::requested(store, report.run_id.as_str(), config)?;
    match &fairness {
        Some(f) if args.json => super::fairness_cmd::write_run_json(&report, f, out)?,
        Some(f) => {
            write_run(&report, false, out)?;
            writeln!(out)?;
            super::fairness_cmd::write(f, out)?;
        }
        None => write_run(&report, args.json, out)?,
    }
    if args.models.is_empty() && args.resume.is_none() {
        // A plain `eval` runs what fits; say what it left out and why, on
        // stderr when stdout is JSON.
        for line in skipped(registry, &report) {
            if args.json {
                eprintln!("{line}");
            } else {
                writeln!(out, "{line}")?;
            }
        }
    }
    if report.status == RunStatus::Cancelled {
        eprintln!("cancelled; `mlhost eval --resume {}` runs the rest", report.run_id);
        return Ok(ExitCode::from(130));
    }
    Ok(super::run_gates(store, &report, &args.gates, args.alpha)?.unwrap_or(ExitCode::SUCCESS))
}

/// The flags as a run request.
fn request(args: &EvalArgs) -> RunRequest {
    RunRequest {
        models: args.models.clone(),
        workers: args.workers,
        seed: args.seed,
        timeout_secs: args.timeout_secs,
        early_stopping: args.early_stopping,
        fairness_col: args.fairness_col.clone(),
        ..args.data.request()
    }
}

/// One line per candidate a plain `eval` did not run: rejected, for another
/// task, or disabled.
fn skipped(registry: &Registry, report: &RunReport) -> Vec<String> {
    let ran: std::collections::HashSet<&str> =
        report.models.iter().map(|m| m.model_id.as_str()).collect();
    let mut lines: Vec<String> = registry
        .candidates
        .iter()
        .filter(|c| !ran.contains(c.id.as_str()))
        .map(|c| match c.reason() {
            Some(reason) => format!("skipped {}: rejected: {reason}", c.id),
            None => format!(
                "skipped {}: its plugin does {}, not this dataset's task (name it with --models to see why in full)",
                c.id,
                c.tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" and ")
            ),
        })
        .collect();
    lines.extend(
        registry
            .disabled
            .iter()
            .map(|id| format!("skipped {id}: disabled in models.toml (enabled = false)")),
    );
    lines
}

/// A progress bar on a terminal (jobs done of total, running models,
/// elapsed); nothing when stderr is piped.
struct Bar {
    bar: Option<indicatif::ProgressBar>,
    running: Vec<String>,
}

impl Bar {
    fn new() -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} jobs  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        Bar { bar, running: Vec::new() }
    }
    fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn started(&mut self, model_id: &str) {
        self.running.push(model_id.to_owned());
        if let Some(b) = &self.bar {
            b.inc_length(1);
            b.set_message(format!("running: {}", self.running.join(", ")));
        }
    }
    fn finished(&mut self, model_id: &str, _status: JobStatus) {
        let was_running =
            self.running.iter().position(|m| m == model_id).map(|i| self.running.remove(i));
        if let Some(b) = &self.bar {
            if was_running.is_none() {
                b.inc_length(1);
            }
            b.inc(1);
            b.set_message(format!("running: {}", self.running.join(", ")));
        }
    }
}
