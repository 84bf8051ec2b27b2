//! A run from start to end: load and split the data, plan the trials,
//! store the run and its queued jobs, hand the work to an executor on the
//! pool, and let the writer record every outcome. Bad input is refused
//! before anything is stored.

use std::path::PathBuf;
use std::sync::Arc;

use mlhost_plugin_api::Task;

use super::executor::{Executor, Processes, Shared, Threads, TrialWork, Work};
use super::plan::{self, Planned, Trial};
use super::pool;
use super::trading::{self, Trader};
use super::worker::Crashes;
use super::writer::{EpochWriter, Writer};
use crate::data::dataset::{self, Dataset, Source, TaskHint};
use crate::data::split::{self, Fold};
use crate::domain::{Isolation, JobStatus, RunId, RunSpec, RunStatus, StopFlag, StudyId};
use crate::registry::Registry;
use crate::store::{Store, StoreError};

/// Why a run could not start (nothing was stored) or could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The user's input is unusable: the message names it and the fix.
    #[error("{0}")]
    BadInput(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else on this machine failed (a snapshot file, say).
    #[error("{0}")]
    Host(String),
}

/// Hears about jobs as they start and end (the CLI's progress bar).
pub trait Progress {
    /// A job began.
    fn started(&mut self, model_id: &str);
    /// A job ended with `status`.
    fn finished(&mut self, model_id: &str, status: JobStatus);
}

/// No progress output.
#[derive(Debug)]
pub struct Quiet;

impl Progress for Quiet {
    fn started(&mut self, _: &str) {}
    fn finished(&mut self, _: &str, _: JobStatus) {}
}

/// Where process workers come from.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSetup {
    /// The `mlhost` executable (it has the hidden `worker` command).
    pub exe: PathBuf,
    /// Folder for dataset snapshot files.
    pub snapshot_dir: PathBuf,
}

/// How this process runs a spec: what is not part of the spec itself.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// Process isolation: the `mlhost` executable and where snapshots go.
    pub workers_from: Option<WorkerSetup>,
    /// Set (by Ctrl-C) to cancel the run: running jobs are stopped, queued
    /// ones not started; all become `cancelled` and the run can be resumed.
    pub cancel: StopFlag,
    /// Use this run id (the HTTP API hands it out before the run starts).
    pub run_id: Option<RunId>,
    /// Use this study id when the run is a new study (likewise).
    pub study_id: Option<StudyId>,
}

/// The data of a run, loaded and split.
pub(crate) struct Loaded {
    pub(crate) data: Dataset,
    pub(crate) folds: Vec<Fold>,
    pub(crate) pos_label: u32,
    /// `--returns-col`: scores the trading metrics.
    pub(crate) trader: Option<Arc<Trader>>,
}

pub(crate) fn load(spec: &RunSpec, hint: TaskHint, context: &str) -> Result<Loaded, EvalError> {
    // Key columns (groups, time, returns, fairness) are read apart, never features.
    let keys = spec.key_columns();
    let source = Source::parse(&spec.dataset);
    let (data, cells) = dataset::load_keyed(&source, spec.label.as_deref(), hint, &keys)
        .map_err(|e| EvalError::BadInput(format!("{context}{e}")))?;
    let mut cells = cells.into_iter();
    let groups = spec.group_col.as_ref().and_then(|_| cells.next()).map(|c| split::group_codes(&c));
    let order = spec.time_col.as_ref().and_then(|_| cells.next()).map(|c| split::time_order(&c));
    let bad = |e: String| EvalError::BadInput(format!("{context}{}: {e}", spec.dataset));
    let trader = match spec.returns.as_ref().and_then(|r| Some((r, cells.next()?))) {
        Some((r, c)) => Some(
            Trader::new(&data, trading::parse_returns(&r.col, &c).map_err(bad)?, r).map_err(bad)?,
        ),
        _ => None,
    };
    let pos_label = plan::pos_label(&data, spec.pos_label.as_deref())?;
    let keys = split::RowKeys { groups: groups.as_deref(), order: order.as_deref() };
    let folds = split::folds_with(spec.protocol, data.task(), data.y(), spec.seed, keys)
        .map_err(|e| EvalError::BadInput(format!("{}: {e}", data.source)))?;
    Ok(Loaded { data, folds, pos_label, trader })
}

/// The folds a run of `spec` would use, without running anything.
pub fn folds(spec: &RunSpec) -> Result<Vec<Fold>, EvalError> {
    Ok(load(spec, spec.task.map_or(TaskHint::Infer, TaskHint::Force), "")?.folds)
}

/// Runs `spec` against `registry`, storing everything in `store`; returns
/// the run's id.
pub fn evaluate(
    registry: &Registry,
    store: &mut Store,
    spec: &RunSpec,
    ctx: &RunContext,
    progress: &mut dyn Progress,
) -> Result<RunId, EvalError> {
    let loaded = load(spec, spec.task.map_or(TaskHint::Infer, TaskHint::Force), "")?;
    let task = loaded.data.task();
    plan::check_fairness(spec, &loaded.data)?;
    let trials = plan::plan(registry, spec, task)?;
    let run_id = ctx.run_id.clone().unwrap_or_else(RunId::generate);
    let span = tracing::info_span!("run", run_id = %run_id);
    let _run = span.enter();
    let stored = RunSpec { task: Some(task), ..spec.clone() };
    let spec_json = serde_json::to_value(&stored).expect("spec serializes");
    let jobs: Vec<_> = trials.iter().map(Trial::new_job).collect();
    store.create_run(&run_id, &loaded.data.id.as_str().into(), &spec_json, &jobs)?;
    tracing::info!(dataset = %spec.dataset, jobs = jobs.len(), %task, "run started");
    let outcome = execute(store, &stored, ctx, &run_id, loaded, trials, progress);
    end_on_error(store, &run_id, outcome)?;
    Ok(run_id)
}

/// Resumes run `run_id`: runs again every job that did not succeed (queued,
/// running when the host died, failed, timed out or cancelled) with the
/// run's own spec; finished results stay as they are and nothing is
/// duplicated (a re-run job replaces its rows).
pub fn resume(
    registry: &Registry,
    store: &mut Store,
    run_id: &str,
    ctx: &RunContext,
    progress: &mut dyn Progress,
) -> Result<RunId, EvalError> {
    let Some(run) = store.run(run_id)? else {
        return Err(EvalError::BadInput(format!(
            "no run '{run_id}' to resume; `mlhost runs` lists them"
        )));
    };
    if let Some(study) = store.study(&run.id)? {
        return Err(EvalError::BadInput(format!(
            "run {} is study {}'s; resume it with `mlhost tune --resume {}`",
            run.id, study.id, study.id
        )));
    }
    let spec: RunSpec = serde_json::from_str(&run.spec_json).map_err(|e| {
        EvalError::BadInput(format!(
            "run {} was stored by another mlhost version ({e}); start a new run",
            run.id
        ))
    })?;
    spec.check().map_err(|e| {
        EvalError::BadInput(format!(
            "run {} has settings out of bounds ({e}); start a new run",
            run.id
        ))
    })?;
    let span = tracing::info_span!("run", run_id = %run.id);
    let _run = span.enter();
    let task = spec.task.unwrap_or(Task::Classification);
    let context = format!("cannot resume run {}: ", run.id);
    let loaded = load(&spec, TaskHint::Force(task), &context)?;
    if loaded.data.id != run.dataset_id.as_str() {
        return Err(EvalError::BadInput(format!(
            "cannot resume run {}: {} changed since (dataset id was {}, is now {}); start a new run",
            run.id, spec.dataset, run.dataset_id, loaded.data.id
        )));
    }
    let trials = plan::plan_resume(registry, store.jobs(&run.id)?, task);
    store.resume_run(&run.id)?;
    tracing::info!(jobs = trials.len(), "run resumed");
    let outcome = execute(store, &spec, ctx, &run.id, loaded, trials, progress);
    end_on_error(store, &run.id, outcome)?;
    Ok(run.id)
}

/// A run that could not go on after it was stored is marked `failed` (best
/// effort: the error may be the database's own), so it does not stay
/// `running`; `eval --resume` can still finish it.
fn end_on_error(
    store: &mut Store,
    run_id: &RunId,
    outcome: Result<(), EvalError>,
) -> Result<(), EvalError> {
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "run failed");
        if let Err(again) = store.finish_run(run_id, RunStatus::Failed) {
            tracing::error!(error = %again, "could not mark the run failed");
        }
    }
    outcome
}

/// The executor `spec.isolation` asks for.
pub(crate) fn executor(
    spec: &RunSpec,
    ctx: &RunContext,
    data: Arc<Dataset>,
    folds: Vec<Fold>,
    shared: Shared,
) -> Result<Box<dyn Executor>, EvalError> {
    match (spec.isolation, &ctx.workers_from) {
        (Isolation::Thread, _) => Ok(Box::new(Threads { data, folds: Arc::new(folds), shared })),
        (Isolation::Process, None) => {
            Err(EvalError::Host("process isolation needs the mlhost executable".into()))
        }
        (Isolation::Process, Some(setup)) => {
            let snapshot =
                crate::data::snapshot::write(&setup.snapshot_dir, &data).map_err(|e| {
                    EvalError::Host(format!(
                        "cannot write the dataset snapshot in {}: {e}",
                        setup.snapshot_dir.display()
                    ))
                })?;
            // The host's folds, so a child never splits (groups, time order
            // and seeds are the host's to know).
            let folds = split::write_folds(&setup.snapshot_dir, &folds).map_err(|e| {
                EvalError::Host(format!(
                    "cannot write the folds file in {}: {e}",
                    setup.snapshot_dir.display()
                ))
            })?;
            Ok(Box::new(Processes {
                exe: setup.exe.clone(),
                snapshot,
                folds,
                crashes: Crashes::default(),
                quarantine_after: spec.quarantine_after,
                max_memory_mb: spec.max_memory_mb,
                shared,
            }))
        }
    }
}

/// Runs the trials of a stored run and completes it.
fn execute(
    store: &mut Store,
    spec: &RunSpec,
    ctx: &RunContext,
    run_id: &RunId,
    loaded: Loaded,
    trials: Vec<Trial>,
    progress: &mut dyn Progress,
) -> Result<(), EvalError> {
    let (epochs, epoch_tx) = EpochWriter::spawn(std::path::Path::new(store.path()))?;
    let shared = Shared {
        seed: spec.seed.unwrap_or(0),
        pos_label: loaded.pos_label,
        epochs: epoch_tx,
        early: spec.early_stopping,
        budget: super::budget::Budget::new(spec.workers),
        trader: loaded.trader.clone(),
    };
    let executor = executor(spec, ctx, Arc::new(loaded.data), loaded.folds, shared)?;
    let mut writer = Writer { store, progress, timeout: spec.timeout, error: None };
    let mut runnable: Vec<(usize, Work)> = Vec::new();
    for (i, trial) in trials.iter().enumerate() {
        match &trial.plan {
            Planned::Refused(why) => writer.refused(trial, why),
            Planned::Run { plugin, params, prep } => {
                let work = TrialWork {
                    job_id: trial.job_id.as_str(),
                    model_id: &trial.model_id,
                    plugin,
                    params,
                    prep: *prep,
                };
                runnable.push((i, executor.work(work)));
            }
        }
    }
    drop(executor); // its epoch sender: the writer ends when the jobs do
    if let Some(e) = writer.error.take() {
        return Err(e.into()); // nothing ran yet: stop before the pool starts
    }
    let (index, work): (Vec<usize>, Vec<Work>) = runnable.into_iter().unzip();
    let limits = pool::Limits {
        workers: spec.workers,
        timeout: spec.timeout,
        max_abandoned: 2 * spec.workers.max(1),
        cancel: ctx.cancel.clone(),
    };
    pool::run(work, &limits, |event| {
        let k = match &event {
            pool::Event::Started(k) | pool::Event::Finished(k, _) => *k,
        };
        writer.on_event(&trials[index[k]], event);
    });
    epochs.finish();
    if let Some(e) = writer.error {
        return Err(e.into());
    }
    let status = if ctx.cancel.is_set() { RunStatus::Cancelled } else { RunStatus::Completed };
    store.finish_run(run_id, status)?;
    tracing::info!(%status, "run finished");
    Ok(())
}
