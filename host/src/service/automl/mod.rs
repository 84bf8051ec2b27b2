//! `mlhost automl` and `POST /api/ml/suggestions`: every ready candidate
//! that can do the dataset's task and has something to search races
//! through successive halving ([`halving`]): rung 0 is a short study each,
//! the better half by best value goes on to a study with twice the trials,
//! until one is left or the budget is spent ([`race`]). The baseline is
//! not tuned but evaluated once, the reference the winner must beat. The
//! winner is compared with the runner-up and the baseline, checked against
//! the gates ([`verdict`]), described in one paragraph ([`recommend`]) and
//! registered as a model version from its best study.
//!
//! Every study is an ordinary study (`mlhost show STUDY`), and the
//! reference an ordinary run; the report itself is not stored.

mod halving;
mod plan;
mod race;
mod recommend;
mod report;
mod verdict;

use std::time::{Duration, Instant};

use crate::data::dataset::Source;
use crate::domain::{Gate, RunDefaults, RunRequest};
use crate::engine::{EvalError, RunContext};
use crate::registry::Registry;
use crate::service::models::{self, ModelError, TrainRequest};
use crate::store::Store;
use crate::store::artifacts::Artifacts;
use plan::{Plan, study_spec};

pub use halving::Rung;
pub use report::{
    AutomlReport, GateReport, Registered, RungReport, Skipped, Standing, Versus, Winner,
};

/// The search's budget when the request names none, seconds.
pub const DEFAULT_BUDGET_SECS: u64 = 120;
/// Trials of each rung-0 study when the request names none.
pub const DEFAULT_TRIALS: usize = 5;
/// The reference candidate when the request names none.
pub const DEFAULT_BASELINE: &str = "baseline";

/// What a front end asks for; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct AutomlRequest {
    /// Dataset, label, task, folds, seed, workers, isolation, the trials'
    /// own timeout; `models`: the candidates to race (empty: every ready one).
    pub run: RunRequest,
    /// The reference, evaluated once and not tuned (default `baseline`).
    pub baseline: Option<String>,
    /// The metric to optimize and rank by (default f1, r2 for regression).
    pub metric: Option<String>,
    /// The search's budget in seconds (default 120).
    pub budget_secs: Option<u64>,
    /// Trials of each rung-0 study, doubled at each rung (default 5).
    pub trials: Option<usize>,
    /// Checked against the winner's best trial.
    pub gates: Vec<Gate>,
    /// Significance level of the comparisons (default 0.05).
    pub alpha: Option<f64>,
    /// Register the winner as a model version.
    pub register: bool,
    /// Its name (default `automl-<dataset stem>`).
    pub name: Option<String>,
}

/// Hears how the search goes (the CLI's line per rung).
pub trait AutomlProgress {
    /// The reference was evaluated.
    fn reference(&mut self, _standing: &Standing) {}
    /// A rung starts with these candidates.
    fn rung_started(&mut self, _planned: &Rung, _models: &[String]) {}
    /// A rung ended; `values` are each candidate's best so far.
    fn rung_ended(&mut self, _rung: &RungReport, _values: &[(String, Option<f64>)]) {}
}

/// No progress output.
#[derive(Debug)]
pub struct Silent;

impl AutomlProgress for Silent {}

/// What the search runs with.
#[derive(Debug)]
pub struct Services<'a> {
    /// The probed registry.
    pub registry: &'a Registry,
    /// The store every study and run goes to.
    pub store: &'a mut Store,
    /// Where the winner's artifact goes.
    pub artifacts: &'a Artifacts,
    /// The config's `[eval]`.
    pub defaults: &'a RunDefaults,
    /// Process workers and the cancel flag.
    pub ctx: &'a RunContext,
}

/// Runs the search `req` asks for and reports it.
pub fn run(
    svc: &mut Services<'_>,
    req: &AutomlRequest,
    progress: &mut dyn AutomlProgress,
) -> Result<AutomlReport, EvalError> {
    let started = Instant::now();
    let plan = plan::prepare(svc.registry, svc.defaults, req)?;
    let deadline = started + Duration::from_secs(plan.budget);
    let reference = match &plan.reference {
        Some(id) => Some(race::reference(svc, &plan, id, progress)?),
        None => None,
    };
    let race = race::race(svc, &plan, deadline, progress)?;
    let winner = race.winner(plan.direction);
    let board = race::leaderboard(&race, reference, plan.direction);
    let judged = verdict::judge(svc.store, &plan, &board, winner.as_ref(), &req.gates, &race)?;
    let registered = match &winner {
        Some(w) if req.register && race.status != "cancelled" => {
            Some(register(svc, &plan, req, w, &judged.gates)?)
        }
        _ => None,
    };
    Ok(AutomlReport {
        dataset_id: plan.dataset_id,
        task: plan.task.to_string(),
        rows: plan.rows,
        metric: plan.metric,
        direction: plan.direction.as_str().to_owned(),
        status: race.status.to_owned(),
        budget_secs: plan.budget,
        elapsed_secs: started.elapsed().as_secs_f64(),
        rungs: race.rungs,
        leaderboard: board,
        skipped: plan.skipped,
        winner,
        versus: judged.versus,
        registered,
        recommendation: judged.recommendation,
        gates: judged.gates,
    })
}

/// The default model name: `automl-` and the dataset's stem (a built-in's
/// name, a file's stem, an upload's id), in the characters a name allows.
pub fn default_name(dataset: &str) -> String {
    let stem = match Source::parse(dataset) {
        Source::Builtin(name) => name,
        Source::File(p) => {
            p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
        }
    };
    let stem = stem.strip_prefix("dataset:").unwrap_or(&stem);
    let clean: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' })
        .take(64 - "automl-".len())
        .collect();
    format!("automl-{clean}")
}

/// Registers the winner from its best study.
fn register(
    svc: &mut Services<'_>,
    plan: &Plan,
    req: &AutomlRequest,
    winner: &Winner,
    gates: &[GateReport],
) -> Result<Registered, EvalError> {
    let name = req.name.clone().unwrap_or_else(|| default_name(&plan.spec.dataset));
    let failed: Vec<&str> = gates.iter().filter(|g| !g.passed).map(|g| g.gate.as_str()).collect();
    let mut message = format!(
        "automl: best of {} candidates by {} = {:.4}",
        plan.contestants.len(),
        plan.metric,
        winner.value
    );
    if !failed.is_empty() {
        message.push_str(&format!("; fails --gate {}", failed.join(", ")));
    }
    let train = TrainRequest {
        from: Some(winner.study_id.clone()),
        name: Some(name),
        message: Some(message),
        ..TrainRequest::default()
    };
    let report = models::train(svc.registry, svc.store, svc.artifacts, svc.defaults, train)
        .map_err(|e| match e {
            ModelError::Store(s) => EvalError::Store(s),
            ModelError::Unavailable(m) => EvalError::Host(m),
            other => EvalError::BadInput(other.to_string()),
        })?;
    let v = report.version;
    Ok(Registered { name: v.name, version: v.version, semver: v.semver })
}
