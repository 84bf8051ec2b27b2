//! The pool's feed for a study: each free worker asks for the next trial
//! (one the resume runs again first, then the study's proposal, with the
//! running trials pending so two workers are not given the same point),
//! stores it with its job, and tells the study how each one ended.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{StudyProgress, Tuned};
use crate::domain::{JobId, JobStatus, RunId, StopFlag, StudyId, TrialStatus, summarize};
use crate::engine::executor::{Executor, TrialWork, Work};
use crate::engine::job::{FoldScores, JobFailure};
use crate::engine::plan::{Planned, Trial};
use crate::engine::pool::{Ended, Event, Feed};
use crate::engine::writer::Writer;
use crate::search::sample::Point;
use crate::search::study::{Study, TrialState};
use crate::store::TrialEnd;

/// How a study stands: what the progress line shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Trials the study will run at most.
    pub budget: usize,
    /// Ended complete.
    pub complete: usize,
    /// Stopped by the pruner.
    pub pruned: usize,
    /// Failed (crash, error, timeout).
    pub failed: usize,
    /// The best value of the first metric so far.
    pub best: Option<f64>,
}

/// Trials that fail in a row with the same reason before any completes,
/// after which a study stops asking (a metric the model cannot give, a
/// plugin that cannot fit this data).
const GIVE_UP_AFTER: usize = 5;

/// A trial on a worker, as the pruning monitor sees it.
pub(crate) struct Running {
    /// Set once the pool has started it.
    pub(crate) stop: Option<StopFlag>,
    /// Why the pruner stopped it.
    pub(crate) pruned: Option<String>,
}

/// What the feed and the monitor share.
pub(crate) struct Live {
    pub(crate) study: Study,
    /// The trials on a worker, by job id.
    pub(crate) running: HashMap<String, Running>,
    /// Every trial's number by its job id, for the whole study.
    pub(crate) numbers: HashMap<String, usize>,
    /// Whether any trial reported the `--prune-on` value.
    pub(crate) prune_values_seen: bool,
}

impl Live {
    pub(crate) fn new(study: Study) -> Live {
        Live { study, running: HashMap::new(), numbers: HashMap::new(), prune_values_seen: false }
    }

    /// `{"trial","params","value"}` of the best complete trial.
    pub(crate) fn best_json(&self) -> Option<serde_json::Value> {
        let best = self.study.best()?;
        let TrialState::Complete(values) = &best.state else { return None };
        Some(serde_json::json!({
            "trial": best.number,
            "params": point_json(&best.point),
            "value": values.first(),
        }))
    }

    fn tally(&self) -> Tally {
        let mut t = Tally { budget: self.study.budget(), ..Tally::default() };
        for trial in self.study.trials() {
            match trial.state {
                TrialState::Complete(_) => t.complete += 1,
                TrialState::Pruned => t.pruned += 1,
                TrialState::Failed => t.failed += 1,
                TrialState::Running => {}
            }
        }
        t.best = self.study.best().and_then(|b| match &b.state {
            TrialState::Complete(v) => v.first().copied(),
            _ => None,
        });
        t
    }
}

/// The searched values as a JSON object (ints stay ints).
pub(crate) fn point_json(point: &Point) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> =
        point.iter().map(|(name, v)| (name.clone(), crate::plugin::wire::param_json(v))).collect();
    serde_json::Value::Object(map)
}

/// A job's params as `jobs.params_json` keeps them.
pub(crate) fn params_json(params: &mlhost_plugin_api::Params) -> String {
    serde_json::to_string(&crate::plugin::wire::params_json(params)).expect("params serialize")
}

pub(crate) struct StudyFeed<'a, 'w> {
    pub(crate) live: Arc<Mutex<Live>>,
    pub(crate) executor: Box<dyn Executor>,
    pub(crate) writer: Writer<'w>,
    pub(crate) tuned: &'a Tuned,
    pub(crate) metrics: &'a [String],
    pub(crate) study_id: &'a StudyId,
    pub(crate) run_id: &'a RunId,
    /// Trials a resume runs again, with their jobs.
    pub(crate) again: VecDeque<(usize, JobId)>,
    /// Per pool index: the trial's number, its point and its job.
    pub(crate) slots: Vec<(usize, Point, Trial)>,
    /// No new trial starts after this.
    pub(crate) deadline: Option<Instant>,
    /// Trials that failed in a row with the same reason, and the reason.
    pub(crate) streak: (usize, Option<String>),
    pub(crate) cancel: StopFlag,
    pub(crate) progress: &'a mut dyn StudyProgress,
}

impl StudyFeed<'_, '_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().expect("study lock")
    }

    /// The next trial's number, point and job, and whether it is new.
    fn propose(&mut self) -> Option<(usize, Point, JobId, bool)> {
        if let Some((number, job)) = self.again.pop_front() {
            let point = self.lock().study.trials()[number].point.clone();
            return Some((number, point, job, false));
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        if self.streak.0 >= GIVE_UP_AFTER && self.lock().tally().complete == 0 {
            // Every trial fails the same way: more would only repeat it.
            tracing::warn!(
                reason = self.streak.1.as_deref().unwrap_or(""),
                "the first {GIVE_UP_AFTER} trials failed the same way; the study stops asking"
            );
            return None;
        }
        let (number, point) = self.lock().study.ask()?;
        Some((number, point, JobId::generate(), true))
    }

    fn ended(&mut self, index: usize, ended: Ended<Result<FoldScores, JobFailure>>) {
        let (number, point, trial) = &self.slots[index];
        let pruned = self.lock().running.remove(trial.job_id.as_str()).and_then(|r| r.pruned);
        let outcome = self.writer.outcome(ended);
        if self.cancel.is_set() && pruned.is_none() && outcome.is_err() {
            // Ctrl-C: the job is cancelled, the trial stays to run again.
            self.writer.record_end(trial, outcome, None);
            return;
        }
        let (state, outcome, note) = match (pruned, outcome) {
            // Judged bad as it finished its last epoch: it did finish.
            (_, Ok(folds)) => match objectives(&folds, self.metrics) {
                Ok(values) => (TrialState::Complete(values), Ok(folds), None),
                Err(why) => (TrialState::Failed, Ok(folds), Some(why)),
            },
            (Some(why), Err(_)) => {
                let f = JobFailure { status: JobStatus::Cancelled, error: why.clone() };
                (TrialState::Pruned, Err(f), Some(why))
            }
            (None, Err(f)) => {
                let why = f.error.clone();
                (TrialState::Failed, Err(f), Some(why))
            }
        };
        let (status, values) = match &state {
            TrialState::Complete(v) => (TrialStatus::Complete, Some(v.as_slice())),
            TrialState::Pruned => (TrialStatus::Pruned, None),
            _ => (TrialStatus::Failed, None),
        };
        self.streak = match (&state, &note) {
            (TrialState::Failed, Some(why)) if self.streak.1.as_ref() == Some(why) => {
                (self.streak.0 + 1, Some(why.clone()))
            }
            (TrialState::Failed, why) => (1, why.clone()),
            _ => (0, None),
        };
        let params = point_json(point);
        let end = TrialEnd {
            study_id: self.study_id,
            number: *number as i64,
            state: status,
            params: &params,
            values,
            note: note.as_deref(),
        };
        tracing::info!(trial = number, state = %status, ?values, "trial ended");
        self.writer.record_end(trial, outcome, Some(end));
        let number = *number;
        let tally = {
            let mut live = self.lock();
            live.study.tell(number, state);
            live.tally()
        };
        self.progress.update(&tally);
    }
}

/// The trial's value of each objective: the metric's mean over folds. A
/// metric undefined (`null`) on any fold fails the trial, naming the
/// metric, as scikit-learn's search scores such a point NaN.
fn objectives(folds: &FoldScores, metrics: &[String]) -> Result<Vec<f64>, String> {
    let sets: Vec<_> = folds.iter().map(|f| f.metrics.clone()).collect();
    for m in metrics {
        if let Some(fold) = sets.iter().position(|s| !s.get(m).is_some_and(f64::is_finite)) {
            return Err(format!(
                "{m} is undefined on fold {fold} (e.g. no probabilities, or one class); the trial cannot be ranked"
            ));
        }
    }
    let (mean, _) = summarize(&sets);
    Ok(metrics.iter().map(|m| mean.get(m).unwrap_or(f64::NAN)).collect())
}

impl Feed<Result<FoldScores, JobFailure>> for StudyFeed<'_, '_> {
    fn next(&mut self) -> Option<Work> {
        if self.cancel.is_set() || self.writer.error.is_some() {
            return None;
        }
        let (number, point, job_id, new) = self.propose()?;
        let params = self.tuned.params(&point);
        let trial = Trial {
            job_id: job_id.clone(),
            model_id: self.tuned.model_id.clone(),
            version: self.tuned.version.clone(),
            params_json: params_json(&params),
            plan: Planned::Refused(String::new()), // the work is built below
        };
        if new {
            let point_text = point_json(&point).to_string();
            let (study, run) = (self.study_id, self.run_id);
            self.writer
                .record(|s| s.add_trial(study, run, number as i64, &trial.new_job(), &point_text));
            if self.writer.error.is_some() {
                return None;
            }
        }
        let running = Running { stop: None, pruned: None };
        {
            let mut live = self.lock();
            live.running.insert(job_id.to_string(), running);
            live.numbers.insert(job_id.to_string(), number);
        }
        let work = self.executor.work(TrialWork {
            job_id: job_id.as_str(),
            model_id: &self.tuned.model_id,
            plugin: &self.tuned.plugin,
            params: &params,
            prep: self.tuned.prep,
        });
        self.slots.push((number, point, trial));
        let live = self.live.clone();
        Some(Box::new(move |stop: StopFlag| {
            if let Some(r) = live.lock().expect("study lock").running.get_mut(job_id.as_str()) {
                r.stop = Some(stop.clone());
            }
            work(stop)
        }))
    }

    fn on_event(&mut self, event: Event<Result<FoldScores, JobFailure>>) {
        match event {
            Event::Started(index) => {
                let trial = &self.slots[index].2;
                self.writer.on_event(trial, Event::Started(index));
            }
            Event::Finished(index, ended) => self.ended(index, ended),
        }
    }
}
