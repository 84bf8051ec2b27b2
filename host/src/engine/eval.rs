//! Evaluation runs: one dataset snapshot, the chosen candidates, a protocol
//! and a seed; one job per candidate on the worker pool; every result stored.
//!
//! Owns candidate selection, what a job does fold by fold (fit, predict,
//! validate the plugin's output, score), and turning stored rows back into a
//! report. The calling thread is the single writer of the store; workers only
//! compute. Bad input is refused before anything is stored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mlhost_plugin_api::{Params, Task};
use serde::Serialize;

use crate::config::Isolation;
use crate::data::dataset::{self, Dataset, Source, Target, TaskHint};
use crate::data::preprocess::Scale;
use crate::data::split::{self, Fold, Protocol};
use crate::engine::pool::{self, Ended, Event, StopFlag};
use crate::metrics;
pub use crate::metrics::trend::Patience;
use crate::plugin::loader::Plugin;
use crate::registry::{Registry, State};
use crate::store::{ResultRow, Store, StoreError};

use crate::engine::job::{FoldScores, Job, JobFailure, run_job};
use crate::engine::worker::{ChildJob, Crashes, WorkerSpec, params_json, run_in_child};

/// What to run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSpec {
    /// `builtin:NAME` or a CSV path.
    pub dataset: String,
    /// Label column (default: the built-in's, or the last column).
    pub label: Option<String>,
    /// Candidate ids; empty = every ready candidate that can do the task.
    pub models: Vec<String>,
    /// At most this many jobs at once.
    pub workers: usize,
    /// Folds (k-fold) or the holdout fraction.
    #[serde(skip)]
    pub protocol: Protocol,
    /// Shuffle seed; without one, folds are scikit-learn's unshuffled ones.
    pub seed: Option<u64>,
    /// Per-job timeout.
    #[serde(skip)]
    pub timeout: Duration,
    /// Force the task instead of inferring it from the labels.
    #[serde(skip)]
    pub task: Option<Task>,
    /// Positive class (binary), by its label in the data.
    pub pos_label: Option<String>,
    /// Threads or child processes.
    pub isolation: Isolation,
    /// Process isolation: crashes before a plugin is quarantined.
    pub quarantine_after: u32,
    /// Process isolation: memory limit per worker, MB.
    pub max_memory_mb: Option<u64>,
    /// Process isolation: the `mlhost` executable and where snapshots go.
    #[serde(skip)]
    pub workers_from: Option<WorkerSetup>,
    /// Set (by Ctrl-C) to cancel the run: running jobs are stopped, queued
    /// ones not started; all become `cancelled` and the run can be resumed.
    #[serde(skip)]
    pub cancel: StopFlag,
    /// Use this run id (the HTTP API hands it out before the run starts).
    #[serde(skip)]
    pub run_id: Option<String>,
    /// Stop a model's training once validation loss stops improving.
    pub early_stopping: Option<Patience>,
}

/// Where process workers come from.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSetup {
    /// The `mlhost` executable (it has the hidden `worker` command).
    pub exe: std::path::PathBuf,
    /// Folder for dataset snapshot files.
    pub snapshot_dir: std::path::PathBuf,
}

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

/// `mlhost eval --json`, and what `show` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// Dataset snapshot id.
    pub dataset_id: String,
    /// Run status.
    pub status: String,
    /// One entry per job.
    pub models: Vec<ModelReport>,
}

/// One candidate's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelReport {
    /// The job: the id `mlhost analyze` and `/operations/{id}/metrics` take.
    pub job_id: String,
    /// Candidate id.
    pub model_id: String,
    /// Plugin version.
    pub model_version: String,
    /// Job status.
    pub status: String,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// Mean over folds.
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Population standard deviation over folds.
    pub metrics_std: BTreeMap<String, Option<f64>>,
    /// Per fold.
    pub folds: Vec<BTreeMap<String, Option<f64>>>,
}

/// Hears about jobs as they start and end (the CLI's progress bar).
pub trait Progress {
    /// A job began.
    fn started(&mut self, model_id: &str);
    /// A job ended with `status`.
    fn finished(&mut self, model_id: &str, status: &str);
}

/// No progress output.
#[derive(Debug)]
pub struct Quiet;

impl Progress for Quiet {
    fn started(&mut self, _: &str) {}
    fn finished(&mut self, _: &str, _: &str) {}
}

/// A candidate chosen for the run.
enum Planned {
    Run { plugin: Arc<Plugin>, params: Params, scale: Scale },
    Refused(String),
}

struct PlannedJob {
    job_id: String,
    model_id: String,
    version: String,
    plan: Planned,
}

/// Runs `spec` against `registry`, storing everything in `store`.
pub fn evaluate(
    registry: &Registry,
    store: &mut Store,
    spec: &RunSpec,
    progress: &mut dyn Progress,
) -> Result<RunReport, EvalError> {
    let hint = spec.task.map_or(TaskHint::Infer, TaskHint::Force);
    let data = dataset::load(&Source::parse(&spec.dataset), spec.label.as_deref(), hint)
        .map_err(|e| EvalError::BadInput(e.to_string()))?;
    let task = data.task();
    let pos_label = pos_label(&data, spec.pos_label.as_deref())?;
    let folds = split::folds(spec.protocol, task, data.y(), spec.seed)
        .map_err(|e| EvalError::BadInput(format!("{}: {e}", data.source)))?;
    let jobs = plan(registry, spec, task)?;

    let run_id = spec.run_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let mut spec_json = serde_json::to_value(spec).expect("spec serializes");
    spec_json["task"] = task.as_str().into();
    spec_json["timeoutSecs"] = spec.timeout.as_secs_f64().into();
    spec_json["protocol"] = serde_json::to_value(spec.protocol).expect("protocol serializes");
    let rows: Vec<(String, String, String)> =
        jobs.iter().map(|j| (j.job_id.clone(), j.model_id.clone(), j.version.clone())).collect();
    store.create_run(&run_id, &data.id, &spec_json.to_string(), &rows)?;
    execute(store, spec, &run_id, data, folds, jobs, pos_label, progress)
}

/// The spec as stored in `runs.spec_json`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSpec {
    dataset: String,
    label: Option<String>,
    models: Vec<String>,
    workers: usize,
    protocol: Protocol,
    seed: Option<u64>,
    timeout_secs: f64,
    task: String,
    pos_label: Option<String>,
    isolation: Isolation,
    quarantine_after: u32,
    max_memory_mb: Option<u64>,
    #[serde(default)]
    early_stopping: Option<Patience>,
}

/// Resumes run `run_id`: runs again every job that did not succeed (queued,
/// running when the host died, failed, timed out or cancelled) with the
/// run's own spec; finished results stay as they are and nothing is
/// duplicated (a re-run job replaces its rows).
pub fn resume(
    registry: &Registry,
    store: &mut Store,
    run_id: &str,
    workers_from: Option<WorkerSetup>,
    cancel: StopFlag,
    progress: &mut dyn Progress,
) -> Result<RunReport, EvalError> {
    let Some(run) = store.run(run_id)? else {
        return Err(EvalError::BadInput(format!(
            "no run '{run_id}' to resume; `mlhost runs` lists them"
        )));
    };
    let stored: StoredSpec = serde_json::from_str(&run.spec_json).map_err(|e| {
        EvalError::BadInput(format!(
            "run {} was stored by another mlhost version ({e}); start a new run",
            run.id
        ))
    })?;
    let task = if stored.task == "regression" { Task::Regression } else { Task::Classification };
    let spec = RunSpec {
        dataset: stored.dataset,
        label: stored.label,
        models: stored.models,
        workers: stored.workers,
        protocol: stored.protocol,
        seed: stored.seed,
        timeout: Duration::from_secs_f64(stored.timeout_secs),
        task: Some(task),
        pos_label: stored.pos_label,
        isolation: stored.isolation,
        quarantine_after: stored.quarantine_after,
        max_memory_mb: stored.max_memory_mb,
        workers_from,
        cancel,
        run_id: None,
        early_stopping: stored.early_stopping,
    };
    let data =
        dataset::load(&Source::parse(&spec.dataset), spec.label.as_deref(), TaskHint::Force(task))
            .map_err(|e| EvalError::BadInput(format!("cannot resume run {}: {e}", run.id)))?;
    if data.id != run.dataset_id {
        return Err(EvalError::BadInput(format!(
            "cannot resume run {}: {} changed since (dataset id was {}, is now {}); start a new run",
            run.id, spec.dataset, run.dataset_id, data.id
        )));
    }
    let pos_label = pos_label(&data, spec.pos_label.as_deref())?;
    let folds = split::folds(spec.protocol, task, data.y(), spec.seed)
        .map_err(|e| EvalError::BadInput(format!("{}: {e}", data.source)))?;
    let jobs: Vec<PlannedJob> = store
        .jobs(&run.id)?
        .into_iter()
        .filter(|j| j.status != "succeeded")
        .map(|j| {
            let plan = match registry.candidates.iter().find(|c| c.id == j.model_id) {
                None => Planned::Refused(format!("model '{}' is no longer in the registry", j.model_id)),
                Some(c) if c.version.as_deref().is_some_and(|v| v != j.model_version) => {
                    Planned::Refused(format!(
                        "plugin version changed: the run used {}, the registry has {}; start a new run",
                        j.model_version,
                        c.version.as_deref().unwrap_or("?")
                    ))
                }
                Some(c) => plan_candidate(c, task),
            };
            PlannedJob { job_id: j.id, model_id: j.model_id, version: j.model_version, plan }
        })
        .collect();
    store.set_run_status(&run.id, "running")?;
    execute(store, &spec, &run.id, data, folds, jobs, pos_label, progress)
}

fn store_path(store: &Store) -> std::path::PathBuf {
    std::path::PathBuf::from(store.path())
}

/// Runs planned jobs of a stored run and completes it.
#[allow(clippy::too_many_arguments)]
fn execute(
    store: &mut Store,
    spec: &RunSpec,
    run_id: &str,
    data: Dataset,
    folds: Vec<Fold>,
    jobs: Vec<PlannedJob>,
    pos_label: u32,
    progress: &mut dyn Progress,
) -> Result<RunReport, EvalError> {
    let task = data.task();
    let child = match (spec.isolation, &spec.workers_from) {
        (Isolation::Thread, _) => None,
        (Isolation::Process, None) => {
            return Err(EvalError::Host("process isolation needs the mlhost executable".into()));
        }
        (Isolation::Process, Some(setup)) => {
            let snapshot =
                crate::data::snapshot::write(&setup.snapshot_dir, &data).map_err(|e| {
                    EvalError::Host(format!(
                        "cannot write the dataset snapshot in {}: {e}",
                        setup.snapshot_dir.display()
                    ))
                })?;
            Some((setup.exe.clone(), snapshot, Crashes::default()))
        }
    };
    // Epochs go to their own writer, so training never waits for SQLite.
    let (epoch_tx, epoch_rx) = std::sync::mpsc::channel::<crate::domain::EpochRow>();
    let epoch_writer = {
        let mut epoch_store = Store::open(&store_path(store))?;
        std::thread::spawn(move || {
            while let Ok(first) = epoch_rx.recv() {
                let mut batch = vec![first];
                batch.extend(epoch_rx.try_iter());
                if let Err(e) = epoch_store.record_epochs(&batch) {
                    eprintln!("epochs: {e}");
                }
            }
        })
    };
    let data = Arc::new(data);
    let folds = Arc::new(folds);
    let seed = spec.seed.unwrap_or(0);
    let mut runnable = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match &job.plan {
            Planned::Refused(why) => {
                store.job_finished(&job.job_id, "failed", Some(why), run_id, &data.id, &[])?;
                progress.finished(&job.model_id, "failed");
            }
            Planned::Run { plugin, params, scale } if child.is_some() => {
                let (exe, snapshot, crashes) = child.clone().expect("process isolation");
                let job = ChildJob {
                    exe,
                    spec: WorkerSpec {
                        worker_protocol: crate::engine::worker::WORKER_PROTOCOL,
                        plugin: plugin.image.clone(),
                        params: params_json(params),
                        scale: *scale,
                        seed,
                        shuffle_seed: spec.seed,
                        pos_label,
                        snapshot,
                        protocol: spec.protocol,
                        task: task.as_str().to_owned(),
                        max_memory_mb: spec.max_memory_mb,
                        job_id: job.job_id.clone(),
                        early_stopping: spec.early_stopping,
                    },
                    plugin_name: plugin.info.name.clone(),
                    quarantine_after: spec.quarantine_after,
                    crashes,
                    epochs: epoch_tx.clone(),
                };
                let work: Box<dyn FnOnce(StopFlag) -> Result<FoldScores, JobFailure> + Send> =
                    Box::new(move |stop| run_in_child(&job, &stop));
                runnable.push((i, work));
            }
            Planned::Run { plugin, params, scale } => {
                let (plugin, params, data, folds, scale) =
                    (plugin.clone(), params.clone(), data.clone(), folds.clone(), *scale);
                let (job_id, sink, early) =
                    (job.job_id.clone(), epoch_tx.clone(), spec.early_stopping);
                let work: Box<dyn FnOnce(StopFlag) -> Result<FoldScores, JobFailure> + Send> =
                    Box::new(move |stop| {
                        let job = Job {
                            plugin: &plugin,
                            params: &params,
                            scale,
                            seed,
                            pos_label,
                            job_id: &job_id,
                            epochs: Some(&sink),
                            early,
                        };
                        run_job(&job, data.view(), &folds, &stop)
                    });
                runnable.push((i, work));
            }
        }
    }
    let index: Vec<usize> = runnable.iter().map(|(i, _)| *i).collect();
    let work = runnable.into_iter().map(|(_, w)| w).collect();
    let mut store_error = None;
    let timeout = spec.timeout;
    let limits = pool::Limits {
        workers: spec.workers,
        timeout,
        max_abandoned: 2 * spec.workers.max(1),
        cancel: spec.cancel.clone(),
    };
    pool::run(work, &limits, |event| {
        if store_error.is_some() {
            return;
        }
        let r = match event {
            Event::Started(k) => {
                let job = &jobs[index[k]];
                progress.started(&job.model_id);
                store.job_started(&job.job_id)
            }
            Event::Finished(k, ended) => {
                let job = &jobs[index[k]];
                let outcome = match ended {
                    Ended::Returned(r) => r,
                    Ended::TimedOut(_) => Err(JobFailure {
                        status: "timed_out",
                        error: format!("timed out after {}s", timeout.as_secs_f64()),
                    }),
                    Ended::Panicked(msg) => Err(JobFailure::failed(format!("job panicked: {msg}"))),
                    Ended::Cancelled => Err(JobFailure {
                        status: "cancelled",
                        error: "cancelled (Ctrl-C); `mlhost eval --resume RUN` runs it again"
                            .to_owned(),
                    }),
                    Ended::NotStarted(why) => Err(JobFailure::failed(why)),
                };
                let (status, error, results) = match outcome {
                    Ok(folds) => ("succeeded", None, result_rows(job, &folds)),
                    Err(f) => (f.status, Some(f.error), Vec::new()),
                };
                progress.finished(&job.model_id, status);
                store.job_finished(
                    &job.job_id,
                    status,
                    error.as_deref(),
                    run_id,
                    &data.id,
                    &results,
                )
            }
        };
        if let Err(e) = r {
            store_error = Some(e);
        }
    });
    drop(epoch_tx);
    let _ = epoch_writer.join();
    if let Some(e) = store_error {
        return Err(e.into());
    }
    let status = if spec.cancel.is_set() { "cancelled" } else { "completed" };
    store.finish_run(run_id, status)?;
    Ok(report(store, run_id)?.expect("the run was just stored"))
}

fn pos_label(data: &Dataset, wanted: Option<&str>) -> Result<u32, EvalError> {
    let Target::Classes { labels, .. } = &data.target else { return Ok(0) };
    match wanted {
        None => Ok(labels.len().saturating_sub(1) as u32),
        Some(_) if labels.len() != 2 => Err(EvalError::BadInput(format!(
            "--pos-label applies to two classes; {} has {}",
            data.source,
            labels.len()
        ))),
        Some(w) => labels.iter().position(|l| l == w).map(|p| p as u32).ok_or_else(|| {
            EvalError::BadInput(format!(
                "--pos-label {w:?} is not a label of {}; the labels are {}",
                data.source,
                labels.join(", ")
            ))
        }),
    }
}

fn plan(registry: &Registry, spec: &RunSpec, task: Task) -> Result<Vec<PlannedJob>, EvalError> {
    let known = || registry.candidates.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ");
    let chosen: Vec<&crate::Candidate> = if spec.models.is_empty() {
        let fitting: Vec<_> = registry.ready().filter(|c| c.tasks.contains(&task)).collect();
        if fitting.is_empty() {
            return Err(EvalError::BadInput(format!(
                "no ready candidate can do {task}; `mlhost registry` shows what is there"
            )));
        }
        fitting
    } else {
        let mut picked = Vec::new();
        for id in &spec.models {
            let c = registry.candidates.iter().find(|c| &c.id == id).ok_or_else(|| {
                EvalError::BadInput(format!("unknown model '{id}'; the candidates are {}", known()))
            })?;
            if picked.iter().any(|p: &&crate::Candidate| p.id == c.id) {
                return Err(EvalError::BadInput(format!("model '{id}' is listed twice")));
            }
            picked.push(c);
        }
        picked
    };
    Ok(chosen
        .into_iter()
        .map(|c| PlannedJob {
            job_id: uuid::Uuid::now_v7().to_string(),
            model_id: c.id.clone(),
            version: c.version.clone().unwrap_or_default(),
            plan: plan_candidate(c, task),
        })
        .collect())
}

fn plan_candidate(c: &crate::Candidate, task: Task) -> Planned {
    match &c.state {
        State::Rejected { reason } => Planned::Refused(format!("rejected: {reason}")),
        State::Ready { .. } if !c.tasks.contains(&task) => Planned::Refused(format!(
            "plugin '{}' does {}, but this dataset is {task}; choose another dataset or force the task with --task",
            c.plugin.as_deref().unwrap_or("?"),
            c.tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" and ")
        )),
        State::Ready { plugin, params } => {
            Planned::Run { plugin: plugin.clone(), params: params.clone(), scale: c.scale }
        }
    }
}

fn result_rows(job: &PlannedJob, folds: &FoldScores) -> Vec<ResultRow> {
    let row = |fold: i64, metrics: &BTreeMap<String, Option<f64>>, ms: i64| ResultRow {
        model_id: job.model_id.clone(),
        model_version: job.version.clone(),
        fold,
        metrics_json: serde_json::to_string(metrics).expect("metrics serialize"),
        duration_ms: ms,
    };
    let (mean, _) = summarize(&folds.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>());
    let total: i64 = folds.iter().map(|(_, ms)| ms).sum();
    std::iter::once(row(-1, &mean, total))
        .chain(folds.iter().enumerate().map(|(f, (m, ms))| row(f as i64, m, *ms)))
        .collect()
}

type MetricMap = BTreeMap<String, Option<f64>>;

/// Mean and population std of every metric over folds.
fn summarize(folds: &[MetricMap]) -> (MetricMap, MetricMap) {
    let names: std::collections::BTreeSet<&String> = folds.iter().flat_map(|m| m.keys()).collect();
    let mut mean = BTreeMap::new();
    let mut std = BTreeMap::new();
    for name in names {
        let values: Vec<Option<f64>> =
            folds.iter().map(|m| m.get(name).copied().flatten()).collect();
        let (m, s) = metrics::mean_std(&values);
        mean.insert(name.clone(), m);
        std.insert(name.clone(), s);
    }
    (mean, std)
}

/// Rebuilds a run's report from the store; `None` for an unknown run.
pub fn report(store: &Store, run_id: &str) -> Result<Option<RunReport>, StoreError> {
    let Some(run) = store.run(run_id)? else { return Ok(None) };
    let results = store.results(&run.id)?;
    let models = store
        .jobs(&run.id)?
        .into_iter()
        .map(|job| {
            let folds: Vec<MetricMap> = results
                .iter()
                .filter(|r| {
                    r.model_id == job.model_id
                        && r.model_version == job.model_version
                        && r.fold >= 0
                })
                .map(|r| serde_json::from_str(&r.metrics_json).unwrap_or_default())
                .collect();
            let (metrics, metrics_std) = summarize(&folds);
            ModelReport {
                job_id: job.id,
                model_id: job.model_id,
                model_version: job.model_version,
                status: job.status,
                error: job.error,
                metrics,
                metrics_std,
                folds,
            }
        })
        .collect();
    Ok(Some(RunReport { run_id: run.id, dataset_id: run.dataset_id, status: run.status, models }))
}
