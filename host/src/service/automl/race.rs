//! The race itself: the reference's one evaluation, then the rungs, each
//! a study per surviving candidate (an ordinary study: `tune` with the
//! rung's trials and share of the budget), then the better half on.
//!
//! Each rung runs a new study rather than resuming the last one: `tune
//! --resume` finishes a study's own budget of trials and refuses a
//! complete one, so more trials need a new study. Its proposals are seeded
//! by the rung (study seed + rung), so it does not draw rung 0's points
//! again, while the folds (the run's `--seed`) stay the same for every
//! study and the reference, which is what lets their trials be compared
//! fold by fold. A candidate's value is its best over all its studies.

use std::time::Instant;

use super::halving;
use super::{AutomlProgress, Plan, RungReport, Services, Standing, Winner, study_spec};
use crate::domain::{Direction, JobStatus, MetricSet, RunSpec, TrialStatus};
use crate::engine::{EvalError, Quiet};
use crate::service::tuning::StudyReport;

/// How the race went.
pub(super) struct Race {
    /// One per contestant, in the plan's order.
    pub(super) standings: Vec<Standing>,
    /// The rungs that ran.
    pub(super) rungs: Vec<RungReport>,
    /// Who was still in the race at the end.
    pub(super) survivors: Vec<String>,
    /// `completed`, `budget` or `cancelled`.
    pub(super) status: &'static str,
}

impl Race {
    /// The best survivor with a value.
    pub(super) fn winner(&self, direction: Direction) -> Option<Winner> {
        let values = values(&self.standings, &self.survivors);
        let first = halving::rank(&values, direction).into_iter().next()?;
        let s = self.standings.iter().find(|s| s.model == values[first].0)?;
        Some(Winner {
            model: s.model.clone(),
            study_id: s.study_id.clone()?,
            params: s.params.clone(),
            value: s.best_value?,
        })
    }
}

/// `(model, best value so far)` of each of `models`.
fn values(standings: &[Standing], models: &[String]) -> Vec<(String, Option<f64>)> {
    models
        .iter()
        .map(|m| (m.clone(), standings.iter().find(|s| &s.model == m).and_then(|s| s.best_value)))
        .collect()
}

/// Evaluates the reference once (`eval --models ID` on the same folds).
pub(super) fn reference(
    svc: &mut Services<'_>,
    plan: &Plan,
    id: &str,
    progress: &mut dyn AutomlProgress,
) -> Result<Standing, EvalError> {
    let spec = RunSpec { models: vec![id.to_owned()], ..plan.spec.clone() };
    let run = crate::service::runs::start(svc.registry, svc.store, &spec, svc.ctx, &mut Quiet)?;
    let mut s = Standing::empty(id, "reference");
    s.run_id = Some(run.run_id.to_string());
    s.trials = run.models.len();
    if let Some(m) = run.models.first() {
        s.job_id = Some(m.job_id.to_string());
        if m.status == JobStatus::Succeeded {
            s.best_value = m.metrics.get(&plan.metric);
            s.std = m.metrics_std.get(&plan.metric);
            s.metrics = m.metrics.clone();
        } else {
            s.note = Some(m.error.clone().unwrap_or_else(|| format!("{}", m.status)));
        }
    }
    progress.reference(&s);
    Ok(s)
}

/// Runs the rungs until one candidate is left, the budget is spent or the
/// run is cancelled.
pub(super) fn race(
    svc: &mut Services<'_>,
    plan: &Plan,
    deadline: Instant,
    progress: &mut dyn AutomlProgress,
) -> Result<Race, EvalError> {
    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
    let schedule = halving::schedule(plan.contestants.len(), left, plan.trials);
    let mut race = Race {
        standings: plan.contestants.iter().map(|m| Standing::empty(m, "tuned")).collect(),
        rungs: Vec::new(),
        survivors: plan.contestants.clone(),
        status: "completed",
    };
    for planned in &schedule {
        progress.rung_started(planned, &race.survivors);
        let later = schedule.len() - planned.rung - 1;
        let ran = rung(svc, plan, planned, later, deadline, &mut race)?;
        let values = values(&race.standings, &race.survivors);
        let kept = halving::keep(&values, plan.direction);
        race.rungs.push(RungReport {
            rung: planned.rung,
            trials: planned.trials,
            timeout_secs: planned.secs,
            models: ran,
            kept: kept.clone(),
        });
        progress.rung_ended(race.rungs.last().expect("just pushed"), &values);
        if race.status != "completed" {
            break;
        }
        race.survivors = kept;
        if race.survivors.len() <= 1 {
            break;
        }
    }
    for s in race.standings.iter_mut().filter(|s| s.rung.is_none() && s.note.is_none()) {
        s.note = Some(format!("the search stopped ({}) before its first study", race.status));
    }
    Ok(race)
}

/// One rung: a study per survivor, each with its share of what is left of
/// the budget. Returns who ran; sets the status when the budget ran out
/// or the run was cancelled.
fn rung(
    svc: &mut Services<'_>,
    plan: &Plan,
    planned: &halving::Rung,
    later: usize,
    deadline: Instant,
    race: &mut Race,
) -> Result<Vec<String>, EvalError> {
    let models = race.survivors.clone();
    let mut ran = Vec::new();
    for (i, model) in models.iter().enumerate() {
        if svc.ctx.cancel.is_set() {
            race.status = "cancelled";
            break;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let Some(secs) = halving::share(remaining, models.len() - i, models.len(), later) else {
            race.status = "budget";
            break;
        };
        let spec = study_spec(plan, svc.defaults, model, (planned.rung, planned.trials, secs))?;
        let outcome =
            crate::service::tuning::start(svc.registry, svc.store, &spec, svc.ctx, &mut Quiet);
        let standing = race.standings.iter_mut().find(|s| &s.model == model).expect("a contestant");
        match outcome {
            Ok(report) => absorb(standing, &report, planned.rung, &plan.metric),
            // Refused once its data was read (a metric its task lacks, …):
            // this candidate is out, the others go on.
            Err(EvalError::BadInput(why)) => {
                standing.rung = Some(planned.rung);
                standing.note.get_or_insert(why);
            }
            Err(e) => return Err(e),
        }
        ran.push(model.clone());
    }
    if svc.ctx.cancel.is_set() {
        race.status = "cancelled";
    }
    Ok(ran)
}

/// Adds a finished study to a candidate's standing: its trials, and its
/// best trial when it beats the best so far.
fn absorb(s: &mut Standing, study: &StudyReport, rung: usize, metric: &str) {
    s.trials += study.trials.len();
    s.studies.push(study.study_id.clone());
    s.rung = Some(rung);
    let direction = Direction::of(metric);
    let better = |v: f64| match (s.best_value, direction) {
        (None, _) => true,
        (Some(b), Direction::Maximize) => v > b,
        (Some(b), Direction::Minimize) => v < b,
    };
    match &study.best {
        Some(best) if better(best.value) => {
            let t = study.trials.iter().find(|t| t.trial == best.trial).expect("best is a trial");
            s.best_value = Some(best.value);
            s.std = t.metrics_std.get(metric);
            s.study_id = Some(study.study_id.clone());
            s.run_id = Some(study.run_id.to_string());
            s.job_id = Some(t.job_id.to_string());
            s.params = best.params.clone();
            s.metrics = t.metrics.clone();
            s.note = None;
        }
        Some(_) => {}
        None if s.best_value.is_none() => {
            let first = study.trials.iter().find(|t| t.state != TrialStatus::Complete);
            s.note = Some(
                first
                    .and_then(|t| t.note.clone())
                    .unwrap_or_else(|| "no trial completed within its share of the budget".into()),
            );
        }
        None => {}
    }
}

/// Every contestant and the reference, best first: by value in the
/// metric's direction, then the further rung, then the name.
pub(super) fn leaderboard(
    race: &Race,
    reference: Option<Standing>,
    direction: Direction,
) -> Vec<Standing> {
    let mut board: Vec<Standing> = race.standings.iter().cloned().chain(reference).collect();
    let key = |s: &Standing| match (s.best_value, direction) {
        (None, _) => f64::INFINITY,
        (Some(v), Direction::Maximize) => -v,
        (Some(v), Direction::Minimize) => v,
    };
    board.sort_by(|a, b| {
        key(a)
            .total_cmp(&key(b))
            .then_with(|| b.rung.cmp(&a.rung))
            .then_with(|| a.model.cmp(&b.model))
    });
    board
}

impl Standing {
    /// A candidate before its first study.
    fn empty(model: &str, role: &str) -> Standing {
        Standing {
            model: model.to_owned(),
            role: role.to_owned(),
            best_value: None,
            std: None,
            trials: 0,
            rung: None,
            study_id: None,
            studies: Vec::new(),
            run_id: None,
            job_id: None,
            params: serde_json::json!({}),
            metrics: MetricSet::default(),
            note: None,
        }
    }
}
