//! Studies as the CLI and the API use them: start one, resume one, read
//! one back as the report `mlhost tune --json` prints.

use std::collections::BTreeMap;

use serde::Serialize;

use mlhost_plugin_api::Task;

use crate::domain::{
    Direction, JobId, MetricSet, RunId, RunStatus, StudySpec, TrialStatus, summarize,
};
use crate::engine::tune::{self, StudyProgress};
use crate::engine::{EvalError, RunContext};
use crate::registry::Registry;
use crate::search::study::{best_of, pareto_front};
use crate::store::{Store, StoreError};

pub use crate::engine::tune::Tally;

/// `mlhost tune --json`, `show STUDY --json` and `GET /api/ml/tuning/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyReport {
    /// Study id.
    pub study_id: String,
    /// The run whose jobs are the trials.
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// The candidate tuned.
    pub model: String,
    /// grid, random or tpe.
    pub strategy: String,
    /// The first metric: it picks the best trial.
    pub metric: String,
    /// Its direction: maximize or minimize.
    pub direction: String,
    /// Every metric, in order (more than one: a Pareto front).
    pub metrics: Vec<String>,
    /// One direction per metric.
    pub directions: Vec<String>,
    /// The run's status.
    #[schema(value_type = String)]
    pub status: RunStatus,
    /// The best complete trial by the first metric.
    pub best: Option<BestTrial>,
    /// Complete trials no other beats on every metric (several metrics).
    pub pareto: Vec<usize>,
    /// Every trial, in proposal order.
    pub trials: Vec<TrialReport>,
}

/// The best trial.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BestTrial {
    /// Its number.
    pub trial: usize,
    /// Its searched parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Its value of the first metric.
    pub value: f64,
}

/// One trial.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialReport {
    /// From 0, in proposal order.
    pub trial: usize,
    /// Its searched parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// running, complete, pruned or failed.
    #[schema(value_type = String)]
    pub state: TrialStatus,
    /// The first metric's value (complete trials).
    pub value: Option<f64>,
    /// Every metric's value, in order (complete trials).
    pub values: Option<Vec<f64>>,
    /// Mean over folds.
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub metrics: MetricSet,
    /// Population standard deviation over folds.
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub metrics_std: MetricSet,
    /// Wall time of its job, start to end.
    pub duration_ms: Option<i64>,
    /// Its job: the id `analyze` and `/operations/{id}/metrics` take.
    #[schema(value_type = String)]
    pub job_id: JobId,
    /// Why it was pruned or failed.
    pub note: Option<String>,
}

/// Runs the study `spec` asks for and reports it.
pub fn start(
    registry: &Registry,
    store: &mut Store,
    spec: &StudySpec,
    ctx: &RunContext,
    progress: &mut dyn StudyProgress,
) -> Result<StudyReport, EvalError> {
    let id = tune::tune(registry, store, spec, ctx, progress)?;
    Ok(report(store, &id)?.expect("the study was just stored"))
}

/// What `spec` can be refused for before its data is read (the API answers
/// these at once): the model (known, ready, able to do a forced task), the
/// space (`params` against the plugin's schema, not empty, values on every
/// axis of a grid) and the metrics (each one a task the model can do has).
/// Whether the data's own task has them is known once [`start`] reads it.
pub fn check(registry: &Registry, spec: &StudySpec) -> Result<(), String> {
    let c = tune::check(registry, spec).map_err(|e| e.to_string())?;
    let tasks: Vec<Task> =
        c.tasks.iter().copied().filter(|t| spec.run.task.is_none_or(|f| f == *t)).collect();
    if let (Some(forced), []) = (spec.run.task, tasks.as_slice()) {
        return Err(format!("model '{}' cannot do {forced}; choose another model", c.id));
    }
    // Binary and multiclass metrics alike: the number of classes is the data's.
    let trading = spec.run.returns.is_some();
    let mut known: Vec<&str> = tasks
        .iter()
        .flat_map(|t| [2, 3].map(|k| crate::metrics::run_names(*t, k, trading)))
        .flatten()
        .collect();
    known.sort_unstable();
    known.dedup();
    if let Some(m) = spec.metrics.iter().find(|m| !known.contains(&m.as_str())) {
        let tasks: Vec<String> = tasks.iter().map(ToString::to_string).collect();
        return Err(format!(
            "--metric {m}: model '{}' ({}) has no metric '{m}'; choose one of {}",
            c.id,
            tasks.join(", "),
            known.join(", ")
        ));
    }
    Ok(())
}

/// Resumes study `id` and reports it.
pub fn resume(
    registry: &Registry,
    store: &mut Store,
    id: &str,
    ctx: &RunContext,
    progress: &mut dyn StudyProgress,
) -> Result<StudyReport, EvalError> {
    let id = tune::resume(registry, store, id, ctx, progress)?;
    Ok(report(store, &id)?.expect("the study was just stored"))
}

/// Rebuilds a study's report from the store (by study or run id); `None`
/// for an unknown id.
pub fn report(store: &Store, id: &str) -> Result<Option<StudyReport>, StoreError> {
    let Some(study) = store.study(id)? else { return Ok(None) };
    let spec: Option<StudySpec> = serde_json::from_str(&study.spec_json).ok();
    let (metrics, directions) = spec.map_or_else(
        || (vec!["?".to_owned()], vec![Direction::Maximize]),
        |s| (s.metrics, s.directions),
    );
    let results = store.results(&study.run_id)?;
    let jobs = store.jobs(&study.run_id)?;
    let trials: Vec<TrialReport> = store
        .trials(&study.id)?
        .into_iter()
        .map(|t| {
            let folds: Vec<MetricSet> = results
                .iter()
                .filter(|r| r.job_id == t.job_id && r.fold >= 0)
                .map(|r| r.metrics.clone())
                .collect();
            let (mean, std) = summarize(&folds);
            let values: Option<Vec<f64>> =
                t.values_json.as_deref().and_then(|v| serde_json::from_str(v).ok());
            let job = jobs.iter().find(|j| j.id == t.job_id);
            TrialReport {
                trial: t.number as usize,
                params: serde_json::from_str(&t.params_json).unwrap_or_default(),
                state: t.state,
                value: values.as_ref().and_then(|v| v.first().copied()),
                values,
                metrics: mean,
                metrics_std: std,
                duration_ms: job
                    .and_then(|j| wall_ms(j.started_at.as_deref()?, j.finished_at.as_deref()?)),
                job_id: t.job_id,
                note: t.note,
            }
        })
        .collect();
    let done: Vec<(usize, &[f64])> = trials
        .iter()
        .filter(|t| t.state == TrialStatus::Complete)
        .filter_map(|t| Some((t.trial, t.values.as_deref()?)))
        .collect();
    let best = best_of(&done, &directions).map(|n| {
        let t = &trials[n];
        BestTrial { trial: n, params: t.params.clone(), value: t.value.unwrap_or(f64::NAN) }
    });
    let pareto = if metrics.len() > 1 { pareto_front(&done, &directions) } else { Vec::new() };
    Ok(Some(StudyReport {
        study_id: study.id.to_string(),
        run_id: study.run_id,
        model: study.model_id,
        strategy: study.strategy,
        metric: metrics[0].clone(),
        direction: directions[0].as_str().to_owned(),
        metrics,
        directions: directions.iter().map(|d| d.as_str().to_owned()).collect(),
        status: study.status,
        best,
        pareto,
        trials,
    }))
}

fn wall_ms(start: &str, end: &str) -> Option<i64> {
    let (a, b) = (humantime::parse_rfc3339(start).ok()?, humantime::parse_rfc3339(end).ok()?);
    Some(b.duration_since(a).ok()?.as_millis() as i64)
}

/// One line per study for `mlhost runs`: (study id, run id, model,
/// strategy, trials, complete).
pub fn list(store: &Store) -> Result<BTreeMap<RunId, StudyLine>, StoreError> {
    let mut out = BTreeMap::new();
    for s in store.studies()? {
        let trials = store.trials(&s.id)?;
        let complete = trials.iter().filter(|t| t.state == TrialStatus::Complete).count();
        out.insert(
            s.run_id.clone(),
            StudyLine {
                study_id: s.id.to_string(),
                model: s.model_id,
                strategy: s.strategy,
                trials: trials.len(),
                complete,
            },
        );
    }
    Ok(out)
}

/// What `mlhost runs` says of a run that is a study.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyLine {
    /// Study id.
    pub study_id: String,
    /// The candidate tuned.
    pub model: String,
    /// grid, random or tpe.
    pub strategy: String,
    /// Trials proposed.
    pub trials: usize,
    /// Trials complete.
    pub complete: usize,
}
