//! The request resolved against the data and the registry: the dataset
//! read once for its task and size, the metric, the gates' names, and the
//! field: the reference (the baseline, evaluated once, not tuned), the
//! contestants (ready, able to do the task, something to search) and why
//! every other candidate is left out.

use mlhost_plugin_api::Task;

use super::{AutomlRequest, DEFAULT_BASELINE, DEFAULT_BUDGET_SECS, DEFAULT_TRIALS, Skipped};
use crate::data::dataset::{self, Source, TaskHint};
use crate::domain::{
    Direction, Gate, RunDefaults, RunRequest, RunSpec, StudyRequest, StudySpec, bounds,
};
use crate::engine::EvalError;
use crate::registry::{Registry, State};

/// The request resolved and checked against the data and the registry.
pub(super) struct Plan {
    /// The request every study and the reference run from (models empty;
    /// a timeout only if the caller gave the trials one).
    pub(super) request: RunRequest,
    pub(super) spec: RunSpec,
    pub(super) task: Task,
    pub(super) rows: usize,
    pub(super) dataset_id: String,
    pub(super) metric: String,
    pub(super) direction: Direction,
    pub(super) contestants: Vec<String>,
    pub(super) reference: Option<String>,
    pub(super) skipped: Vec<Skipped>,
    pub(super) budget: u64,
    pub(super) trials: usize,
    pub(super) alpha: f64,
}

fn bad(msg: impl Into<String>) -> EvalError {
    EvalError::BadInput(msg.into())
}

/// Checks the request, reads the data once for its task and size, and
/// picks the field.
pub(super) fn prepare(
    registry: &Registry,
    defaults: &RunDefaults,
    req: &AutomlRequest,
) -> Result<Plan, EvalError> {
    let budget = req.budget_secs.unwrap_or(DEFAULT_BUDGET_SECS);
    if !(1..=bounds::TIMEOUT_SECS.1).contains(&budget) {
        return Err(bad(format!(
            "--budget-secs must be between 1 and {}, got {budget}",
            bounds::TIMEOUT_SECS.1
        )));
    }
    let trials = req.trials.unwrap_or(DEFAULT_TRIALS);
    if trials == 0 {
        return Err(bad("--trials 0: each study needs at least one trial"));
    }
    let alpha = req.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(bad(format!("--alpha {alpha} is not between 0 and 1; use e.g. 0.05")));
    }
    let request = RunRequest { models: Vec::new(), ..req.run.clone() };
    // The reference's job runs at most the whole budget unless told otherwise.
    let timeout = request.timeout_secs.or(Some(budget.min(defaults.timeout_secs)));
    let spec = RunSpec::resolve(RunRequest { timeout_secs: timeout, ..request.clone() }, defaults)
        .map_err(|e| bad(e.to_string()))?;
    let hint = spec.task.map_or(TaskHint::Infer, TaskHint::Force);
    let (data, _) = dataset::load_keyed(
        &Source::parse(&spec.dataset),
        spec.label.as_deref(),
        hint,
        &spec.key_columns(),
    )
    .map_err(|e| bad(e.to_string()))?;
    let task = data.task();
    let known = crate::metrics::run_names(task, data.n_classes(), spec.returns.is_some());
    let metric = metric(req.metric.as_deref(), task, &known, &spec.dataset)?;
    check_gate_metrics(&req.gates, &known)?;
    let mut plan = Plan {
        request,
        rows: data.rows,
        dataset_id: data.id.clone(),
        direction: Direction::of(&metric),
        metric,
        spec,
        task,
        contestants: Vec::new(),
        reference: None,
        skipped: Vec::new(),
        budget,
        trials,
        alpha,
    };
    pick_field(registry, defaults, req, &mut plan)?;
    check_gate_models(&req.gates, &plan)?;
    Ok(plan)
}

/// The metric asked for (default f1, r2 for regression), if the task has it.
fn metric(
    asked: Option<&str>,
    task: Task,
    known: &[&str],
    dataset: &str,
) -> Result<String, EvalError> {
    let default = if task == Task::Regression { "r2" } else { "f1" };
    let metric = asked.unwrap_or(default);
    if !known.contains(&metric) {
        return Err(bad(format!(
            "--metric {metric}: {dataset} ({task}) has no metric '{metric}'; choose one of {}",
            known.join(", ")
        )));
    }
    Ok(metric.to_owned())
}

/// A threshold gate names a metric the trials have (a run metric, or its
/// `train_` score).
fn check_gate_metrics(gates: &[Gate], known: &[&str]) -> Result<(), EvalError> {
    for g in gates {
        if let Gate::Threshold { metric, .. } = g {
            let base = metric.strip_prefix("train_").unwrap_or(metric);
            if !known.contains(&base) {
                return Err(bad(format!(
                    "--gate {g}: the trials have no metric '{metric}'; they have {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// A `better-than` gate names a model of the search.
fn check_gate_models(gates: &[Gate], plan: &Plan) -> Result<(), EvalError> {
    for g in gates {
        if let Gate::BetterThan { model } = g {
            let known = plan.contestants.contains(model) || plan.reference.as_ref() == Some(model);
            if !known {
                return Err(bad(format!(
                    "--gate {g}: '{model}' is neither a candidate of this search nor its reference"
                )));
            }
        }
    }
    Ok(())
}

/// The reference (the baseline, if ready and able), the contestants (ready,
/// able, something to search) and why each other candidate is left out.
fn pick_field(
    registry: &Registry,
    defaults: &RunDefaults,
    req: &AutomlRequest,
    plan: &mut Plan,
) -> Result<(), EvalError> {
    let named = &req.run.models;
    let baseline = req.baseline.as_deref().unwrap_or(DEFAULT_BASELINE);
    for id in named.iter().map(String::as_str).chain(req.baseline.as_deref()) {
        if !registry.candidates.iter().any(|c| c.id == id) {
            let known: Vec<&str> = registry.ready().map(|c| c.id.as_str()).collect();
            return Err(bad(format!(
                "unknown model '{id}'; the ready candidates are {}",
                known.join(", ")
            )));
        }
    }
    for c in &registry.candidates {
        let is_reference = c.id == baseline;
        if !is_reference && !named.is_empty() && !named.contains(&c.id) {
            continue;
        }
        let why = match &c.state {
            State::Rejected { reason } => Some(format!("rejected: {reason}")),
            State::Ready { .. } if !c.tasks.contains(&plan.task) => {
                Some(format!("cannot do {}", plan.task))
            }
            State::Ready { .. } if is_reference => None,
            State::Ready { .. } => searchable(registry, defaults, plan, &c.id).err(),
        };
        match (why, is_reference) {
            (Some(reason), _) => plan.skipped.push(Skipped { model: c.id.clone(), reason }),
            (None, true) => plan.reference = Some(c.id.clone()),
            (None, false) => plan.contestants.push(c.id.clone()),
        }
    }
    if plan.contestants.is_empty() {
        let why: Vec<String> =
            plan.skipped.iter().map(|s| format!("{}: {}", s.model, s.reason)).collect();
        return Err(bad(format!(
            "no candidate to tune for {}{}{}",
            plan.task,
            if why.is_empty() { "" } else { "; " },
            why.join("; ")
        )));
    }
    Ok(())
}

/// The study of `model` at `rung`: `trials` trials, `secs` of budget, its
/// proposals seeded by the rung (the folds stay the run's).
pub(super) fn study_spec(
    plan: &Plan,
    defaults: &RunDefaults,
    model: &str,
    (rung, trials, secs): (usize, usize, u64),
) -> Result<StudySpec, EvalError> {
    // A trial's own timeout is the study's share unless told otherwise, so
    // one slow trial cannot spend the budget of the studies after it.
    let timeout = plan.request.timeout_secs.or(Some(secs));
    let req = StudyRequest {
        run: RunRequest { timeout_secs: timeout, ..plan.request.clone() },
        model: model.to_owned(),
        trials: Some(trials),
        metrics: vec![plan.metric.clone()],
        timeout_secs: Some(secs),
        ..StudyRequest::default()
    };
    let spec = StudySpec::resolve(req, defaults).map_err(|e| bad(e.to_string()))?;
    Ok(StudySpec { seed: spec.seed.wrapping_add(rung as u64), ..spec })
}

/// Whether `model` has a space to search, or why not.
fn searchable(
    registry: &Registry,
    defaults: &RunDefaults,
    plan: &Plan,
    model: &str,
) -> Result<(), String> {
    let spec = study_spec(plan, defaults, model, (0, 1, 1)).map_err(|e| e.to_string())?;
    crate::service::tuning::check(registry, &spec)
}
