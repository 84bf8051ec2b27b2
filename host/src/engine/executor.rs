//! Executors: where a trial's work runs. `Threads` calls the plugin on a
//! pool thread over the shared snapshot; `Processes` hands the trial to a
//! child `mlhost worker` that maps the snapshot file. Both produce the same
//! boxed work for the pool, so the run loop does not know which it has (a
//! remote executor will be a third).

use std::path::PathBuf;
use std::sync::Arc;

use mlhost_plugin_api::Params;

use super::budget::Budget;
use super::job::{EpochSink, FoldScores, Job, JobFailure, run_job};
use super::trading::Trader;
use super::worker::{ChildJob, Crashes, WORKER_PROTOCOL, WorkerSpec, run_in_child};
use crate::data::dataset::Dataset;
use crate::data::prep::PrepSpec;
use crate::data::split::Fold;
use crate::domain::{Patience, StopFlag};
use crate::plugin::loader::Plugin;
use crate::plugin::wire::params_json;

/// A trial's work, as the pool runs it.
pub(crate) type Work = Box<dyn FnOnce(StopFlag) -> Result<FoldScores, JobFailure> + Send>;

/// What every trial of a run shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) seed: u64,
    pub(crate) pos_label: u32,
    pub(crate) epochs: EpochSink,
    pub(crate) early: Option<Patience>,
    /// The pool's threads, shared among the jobs not done yet.
    pub(crate) budget: Arc<Budget>,
    /// `--returns-col`: adds the trading metrics to each finished job.
    pub(crate) trader: Option<Arc<Trader>>,
}

/// `work`, with the trading metrics added to its folds when the run has
/// returns (scored here, on the host, for both executors).
fn traded(work: Work, trader: &Option<Arc<Trader>>) -> Work {
    match trader.clone() {
        None => work,
        Some(t) => Box::new(move |stop| {
            let mut scores = work(stop)?;
            t.score(&mut scores);
            Ok(scores)
        }),
    }
}

/// One trial to run.
pub(crate) struct TrialWork<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) model_id: &'a str,
    pub(crate) plugin: &'a Arc<Plugin>,
    pub(crate) params: &'a Params,
    pub(crate) prep: PrepSpec,
}

/// Turns a trial into work for the pool.
pub(crate) trait Executor {
    /// The work of `trial`.
    fn work(&self, trial: TrialWork<'_>) -> Work;
}

/// In the host, on pool threads.
pub(crate) struct Threads {
    pub(crate) data: Arc<Dataset>,
    pub(crate) folds: Arc<Vec<Fold>>,
    pub(crate) shared: Shared,
}

impl Executor for Threads {
    fn work(&self, t: TrialWork<'_>) -> Work {
        let (plugin, params, data, folds) =
            (t.plugin.clone(), t.params.clone(), self.data.clone(), self.folds.clone());
        let (prep, shared, job_id) = (t.prep, self.shared.clone(), t.job_id.to_owned());
        let span = tracing::info_span!("job", job_id = %t.job_id, model = %t.model_id);
        let unfinished = shared.budget.job();
        let trader = shared.trader.clone();
        let work: Work = Box::new(move |stop| {
            let _job = span.entered();
            let _unfinished = unfinished;
            let job = Job {
                plugin: &plugin,
                params: &params,
                prep,
                seed: shared.seed,
                pos_label: shared.pos_label,
                job_id: &job_id,
                epochs: Some(&shared.epochs),
                early: shared.early,
                budget: &shared.budget,
            };
            run_job(&job, data.view(), &folds, &stop)
        });
        traded(work, &trader)
    }
}

/// In child `mlhost worker` processes.
pub(crate) struct Processes {
    pub(crate) exe: PathBuf,
    pub(crate) snapshot: PathBuf,
    /// The run's folds ([`crate::data::split::write_folds`]).
    pub(crate) folds: PathBuf,
    pub(crate) crashes: Crashes,
    pub(crate) quarantine_after: u32,
    pub(crate) max_memory_mb: Option<u64>,
    pub(crate) shared: Shared,
}

impl Executor for Processes {
    fn work(&self, t: TrialWork<'_>) -> Work {
        let job = ChildJob {
            exe: self.exe.clone(),
            spec: WorkerSpec {
                worker_protocol: WORKER_PROTOCOL,
                plugin: t.plugin.image.clone(),
                params: params_json(t.params),
                prep: t.prep,
                seed: self.shared.seed,
                pos_label: self.shared.pos_label,
                snapshot: self.snapshot.clone(),
                folds: self.folds.clone(),
                max_memory_mb: self.max_memory_mb,
                threads: 1, // set when the child starts
                job_id: t.job_id.to_owned(),
                early_stopping: self.shared.early,
            },
            plugin_name: t.plugin.info.name.clone(),
            quarantine_after: self.quarantine_after,
            crashes: self.crashes.clone(),
            epochs: self.shared.epochs.clone(),
        };
        let span = tracing::info_span!("job", job_id = %t.job_id, model = %t.model_id);
        let budget = Arc::clone(&self.shared.budget);
        let unfinished = budget.job();
        let work: Work = Box::new(move |stop| {
            let _job = span.entered();
            let _unfinished = unfinished;
            let mut job = job;
            // A child's share is fixed when it starts: it cannot see the pool.
            job.spec.threads = budget.threads();
            run_in_child(&job, &stop)
        });
        traded(work, &self.shared.trader)
    }
}
