//! A study's run: check the request, store the study, then let the pool
//! ask the study for a trial each time a worker is free (the `feed`), run
//! it like any job, and tell the study how it ended. A trial reports its
//! per-epoch values through the same epoch channel as every job; the
//! pruning `monitor` reads them on their way to the store and stops a
//! trial the pruner judges bad. `tune --resume` restores every stored
//! trial and runs again only those that had not ended.

mod feed;
mod monitor;
mod restore;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use mlhost_plugin_api::{Params, Task};

use super::executor::Shared;
use super::run::{self, EvalError, Loaded, RunContext};
use super::writer::{EpochWriter, Writer};
use crate::data::dataset::TaskHint;
use crate::data::prep::PrepSpec;
use crate::domain::{RunId, RunSpec, RunStatus, StrategyName, StudyId, StudySpec};
use crate::plugin::loader::Plugin;
use crate::registry::{Candidate, Registry, State};
use crate::search::prune::Pruner;
use crate::search::sample::Point;
use crate::search::space::Space;
use crate::search::study::{Strategy, Study};
use crate::search::tpe::Tpe;
use crate::store::{NewStudy, Store};

pub use feed::Tally;

/// Hears how a study stands after each trial (the CLI's progress line).
pub trait StudyProgress {
    /// A trial ended; `tally` counts them all.
    fn update(&mut self, tally: &Tally);
}

impl StudyProgress for super::Quiet {
    fn update(&mut self, _: &Tally) {}
}

/// The candidate a study tunes, resolved from the registry.
pub(crate) struct Tuned {
    pub(crate) model_id: String,
    pub(crate) version: String,
    pub(crate) plugin: Arc<Plugin>,
    /// Its params from models.toml; a trial sets the searched ones.
    pub(crate) base: Params,
    pub(crate) prep: PrepSpec,
}

impl Tuned {
    /// The candidate's params with `point`'s values in place.
    pub(crate) fn params(&self, point: &Point) -> Params {
        point.iter().fold(self.base.clone(), |p, (name, v)| p.set(name, v.clone()))
    }
}

/// Runs the study `spec` asks for; returns its id. Bad input is refused
/// before anything is stored.
pub fn tune(
    registry: &Registry,
    store: &mut Store,
    spec: &StudySpec,
    ctx: &RunContext,
    progress: &mut dyn StudyProgress,
) -> Result<StudyId, EvalError> {
    spec.check().map_err(|e| EvalError::BadInput(e.to_string()))?;
    let hint = spec.run.task.map_or(TaskHint::Infer, TaskHint::Force);
    let (tuned, loaded, space, spec) = prepare(registry, spec, hint, "")?;
    let spec = &spec;
    let study = new_study(spec, space)?;
    let study_id = ctx.study_id.clone().unwrap_or_else(StudyId::generate);
    let run_id = ctx.run_id.clone().unwrap_or_else(RunId::generate);
    let span = tracing::info_span!("run", run_id = %run_id);
    let _run = span.enter();
    let task = loaded.data.task();
    let run_spec =
        RunSpec { task: Some(task), models: vec![spec.model.clone()], ..spec.run.clone() };
    let stored = StudySpec { run: run_spec.clone(), ..spec.clone() };
    let run_json = serde_json::to_value(&run_spec).expect("spec serializes");
    let study_json = serde_json::to_value(&stored).expect("spec serializes");
    store.create_study(&NewStudy {
        id: &study_id,
        run_id: &run_id,
        dataset_id: &loaded.data.id.as_str().into(),
        run_spec: &run_json,
        model_id: &tuned.model_id,
        strategy: spec.strategy.as_str(),
        spec: &study_json,
    })?;
    tracing::info!(study_id = %study_id, model = %tuned.model_id, "study started");
    let ids = (study_id.clone(), run_id.clone());
    let outcome = execute(store, &stored, ctx, ids, loaded, &tuned, study, Vec::new(), progress);
    end_on_error(store, &study_id, &run_id, outcome)?;
    Ok(study_id)
}

/// Resumes study `id` (or the study of run `id`): every stored trial is
/// restored, those that had not ended run again with their own params,
/// and the study goes on to its budget.
pub fn resume(
    registry: &Registry,
    store: &mut Store,
    id: &str,
    ctx: &RunContext,
    progress: &mut dyn StudyProgress,
) -> Result<StudyId, EvalError> {
    let Some(row) = store.study(id)? else {
        return Err(EvalError::BadInput(format!(
            "no study '{id}' to resume; `mlhost runs` lists them"
        )));
    };
    let spec: StudySpec = serde_json::from_str(&row.spec_json).map_err(|e| {
        EvalError::BadInput(format!(
            "study {} was stored by another mlhost version ({e}); start a new study",
            row.id
        ))
    })?;
    spec.check().map_err(|e| EvalError::BadInput(format!("study {}: {e}", row.id)))?;
    let span = tracing::info_span!("run", run_id = %row.run_id);
    let _run = span.enter();
    let context = format!("cannot resume study {}: ", row.id);
    let task = spec.run.task.unwrap_or(Task::Classification);
    let (tuned, loaded, space, spec) = prepare(registry, &spec, TaskHint::Force(task), &context)?;
    let run = store.run(&row.run_id)?.expect("a study's run exists");
    if loaded.data.id != run.dataset_id.as_str() {
        return Err(EvalError::BadInput(format!(
            "{context}{} changed since (dataset id was {}, is now {}); start a new study",
            spec.run.dataset, run.dataset_id, loaded.data.id
        )));
    }
    let mut study = new_study(&spec, space.clone())?;
    let again = restore::restore(store, &row.id, &spec, &tuned, &space, &mut study, &context)?;
    let done = study.trials().len() >= study.budget();
    if row.status == RunStatus::Completed && again.is_empty() && done {
        return Err(EvalError::BadInput(format!(
            "{context}it is complete: its {} trials ran; `mlhost show {}` has them, start a new study for more",
            study.trials().len(),
            row.id
        )));
    }
    store.resume_run(&row.run_id)?;
    tracing::info!(study_id = %row.id, again = again.len(), "study resumed");
    let ids = (row.id.clone(), row.run_id.clone());
    let outcome = execute(store, &spec, ctx, ids, loaded, &tuned, study, again, progress);
    end_on_error(store, &row.id, &row.run_id, outcome)?;
    Ok(row.id)
}

/// The candidate and the space of `spec`, each checked (no data read).
fn resolve<'r>(
    registry: &'r Registry,
    spec: &StudySpec,
    context: &str,
) -> Result<(&'r Candidate, Tuned, Space), EvalError> {
    let bad = |m: String| EvalError::BadInput(format!("{context}{m}"));
    let Some(c) = registry.candidates.iter().find(|c| c.id == spec.model) else {
        let known: Vec<&str> = registry.ready().map(|c| c.id.as_str()).collect();
        return Err(bad(format!(
            "unknown model '{}'; the ready candidates are {}",
            spec.model,
            known.join(", ")
        )));
    };
    let (plugin, base) = match &c.state {
        State::Ready { plugin, params } => (plugin.clone(), params.clone()),
        State::Rejected { reason } => {
            return Err(bad(format!("model '{}' is rejected: {reason}", c.id)));
        }
    };
    // The parameters named, or every bounded one models.toml leaves unset.
    let space = if spec.params.is_empty() {
        let mut space = Space::from_schema(&c.schema);
        space.dims.retain(|d| !c.fixed.contains(&d.name));
        space
    } else {
        Space::named(&c.schema, &spec.params).map_err(&bad)?
    };
    if space.dims.is_empty() {
        let fixed = if c.fixed.is_empty() {
            String::new()
        } else {
            format!(" (models.toml sets {})", c.fixed.join(", "))
        };
        return Err(bad(format!(
            "model '{}' has no parameter left to search{fixed}; name one with --param NAME=SPEC",
            c.id
        )));
    }
    let version = c.version.clone().unwrap_or_default();
    let tuned = Tuned { model_id: c.id.clone(), version, plugin, base, prep: c.prep };
    Ok((c, tuned, space))
}

/// What `spec` can be refused for before its data is read: the model, the
/// space and the study's settings (a grid without values, no trials).
/// Returns the candidate, for the caller's checks of its tasks.
pub fn check<'r>(registry: &'r Registry, spec: &StudySpec) -> Result<&'r Candidate, EvalError> {
    let (c, _, space) = resolve(registry, spec, "")?;
    // Without metrics yet, the default one's direction stands in.
    let spec = spec.clone().with_default_metric(false);
    new_study(&spec, space)?;
    Ok(c)
}

/// The candidate, the data and the space of `spec`, each checked, and the
/// spec with its metric chosen for the task when it had none.
fn prepare(
    registry: &Registry,
    spec: &StudySpec,
    hint: TaskHint,
    context: &str,
) -> Result<(Tuned, Loaded, Space, StudySpec), EvalError> {
    let bad = |m: String| EvalError::BadInput(format!("{context}{m}"));
    let (c, tuned, space) = resolve(registry, spec, context)?;
    let loaded = run::load(&spec.run, hint, context)?;
    let task = loaded.data.task();
    if !c.tasks.contains(&task) {
        return Err(bad(format!(
            "model '{}' cannot do {task}, which {} is; choose another model or dataset",
            c.id, spec.run.dataset
        )));
    }
    let spec = spec.clone().with_default_metric(task == Task::Regression);
    let known = crate::metrics::run_names(task, loaded.data.n_classes(), loaded.trader.is_some());
    if let Some(m) = spec.metrics.iter().find(|m| !known.contains(&m.as_str())) {
        return Err(bad(format!(
            "--metric {m}: {} ({task}) has no metric '{m}'; choose one of {}",
            spec.run.dataset,
            known.join(", ")
        )));
    }
    Ok((tuned, loaded, space, spec))
}

fn new_study(spec: &StudySpec, space: Space) -> Result<Study, EvalError> {
    let strategy = match spec.strategy {
        StrategyName::Grid => Strategy::Grid,
        StrategyName::Random => Strategy::Random,
        StrategyName::Tpe => Strategy::Tpe(Tpe::default()),
    };
    let pruner = Pruner::named(spec.pruner);
    Study::new(space, strategy, spec.directions.clone(), pruner, spec.trials, spec.seed)
        .map_err(EvalError::BadInput)
}

/// Runs the trials of a stored study and ends it.
#[allow(clippy::too_many_arguments)]
fn execute(
    store: &mut Store,
    spec: &StudySpec,
    ctx: &RunContext,
    (study_id, run_id): (StudyId, RunId),
    loaded: Loaded,
    tuned: &Tuned,
    study: Study,
    again: Vec<(usize, crate::domain::JobId)>,
    progress: &mut dyn StudyProgress,
) -> Result<(), EvalError> {
    let (epochs, to_store) = EpochWriter::spawn(std::path::Path::new(store.path()))?;
    let live = Arc::new(Mutex::new(feed::Live::new(study)));
    let tap = monitor::spawn(live.clone(), spec, to_store);
    let shared = Shared {
        seed: spec.run.seed.unwrap_or(0),
        pos_label: loaded.pos_label,
        epochs: tap,
        early: spec.run.early_stopping,
        budget: super::budget::Budget::new(spec.run.workers),
        trader: loaded.trader.clone(),
    };
    let data = Arc::new(loaded.data);
    let executor = run::executor(&spec.run, ctx, data, loaded.folds, shared)?;
    let mut quiet = super::Quiet;
    let writer = Writer { store, progress: &mut quiet, timeout: spec.run.timeout, error: None };
    let mut feed = feed::StudyFeed {
        live: live.clone(),
        executor,
        writer,
        tuned,
        metrics: &spec.metrics,
        study_id: &study_id,
        run_id: &run_id,
        again: again.into(),
        slots: Vec::new(),
        deadline: spec.timeout.map(|t| Instant::now() + t),
        streak: (0, None),
        cancel: ctx.cancel.clone(),
        progress,
    };
    let limits = super::pool::Limits {
        workers: spec.run.workers,
        timeout: spec.run.timeout,
        max_abandoned: 2 * spec.run.workers.max(1),
        cancel: ctx.cancel.clone(),
    };
    super::pool::run_feed(&mut feed, &limits);
    let feed::StudyFeed { writer, executor, .. } = feed;
    drop(executor); // its epoch sender: the writers end when the jobs do
    epochs.finish();
    if let Some(e) = writer.error {
        return Err(e.into());
    }
    let status = if ctx.cancel.is_set() { RunStatus::Cancelled } else { RunStatus::Completed };
    let (best, seen) = {
        let live = live.lock().expect("study lock");
        (live.best_json(), live.prune_values_seen)
    };
    if spec.pruner != crate::domain::PrunerName::None && !seen {
        tracing::warn!(
            "no trial of '{}' reported '{}' per epoch, so none could be pruned; `mlhost analyze JOB` shows what it reports: name that with --prune-on",
            tuned.model_id,
            spec.prune_on
        );
    }
    store.finish_study(&study_id, &run_id, status, best.as_ref())?;
    tracing::info!(%status, "study finished");
    Ok(())
}

/// A study that could not go on after it was stored is marked `failed`
/// (best effort), so it does not stay `running`; `--resume` goes on.
fn end_on_error(
    store: &mut Store,
    study_id: &StudyId,
    run_id: &RunId,
    outcome: Result<(), EvalError>,
) -> Result<(), EvalError> {
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "study failed");
        if let Err(again) = store.finish_study(study_id, run_id, RunStatus::Failed, None) {
            tracing::error!(error = %again, "could not mark the study failed");
        }
    }
    outcome
}
