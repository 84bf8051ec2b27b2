//! What `mlhost automl --json` prints and `POST /api/ml/suggestions`
//! answers: the leaderboard, the rungs of the halving, the winner, what it
//! was compared with, the gates and the recommendation.

use serde::Serialize;

use crate::domain::MetricSet;

/// The whole outcome.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutomlReport {
    /// The dataset's id (sha256 of its canonical content).
    pub dataset_id: String,
    /// classification or regression.
    pub task: String,
    /// Rows of the dataset.
    pub rows: usize,
    /// The metric every study optimized and the halving ranked by.
    pub metric: String,
    /// maximize or minimize.
    pub direction: String,
    /// `completed`; `budget` when the budget ran out before one candidate
    /// was left; `cancelled` (Ctrl-C).
    pub status: String,
    /// The time budget of the search, seconds.
    pub budget_secs: u64,
    /// Wall time of the whole command so far (search, reference and
    /// registration), seconds.
    pub elapsed_secs: f64,
    /// The rungs that ran, in order.
    pub rungs: Vec<RungReport>,
    /// Every candidate tuned, and the reference, best first.
    pub leaderboard: Vec<Standing>,
    /// Ready candidates left out, each with why.
    pub skipped: Vec<Skipped>,
    /// The survivor of the halving (`null` when no trial completed).
    pub winner: Option<Winner>,
    /// The winner against the runner-up and against the reference.
    pub versus: Vec<Versus>,
    /// The model version registered from the winner's study.
    pub registered: Option<Registered>,
    /// One paragraph: which model, why, and what to try next.
    pub recommendation: String,
    /// Each `--gate`, checked against the winner's best trial.
    pub gates: Vec<GateReport>,
}

/// One rung of the successive halving.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RungReport {
    /// From 0.
    pub rung: usize,
    /// Trials of each study of this rung.
    pub trials: usize,
    /// Each study's planned `--timeout-secs` (time left over from a study
    /// that ended early goes to the next).
    pub timeout_secs: u64,
    /// The candidates that ran a study in it, in the order they ran.
    pub models: Vec<String>,
    /// The better half by best value so far, going on to the next rung.
    pub kept: Vec<String>,
}

/// A candidate on the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    /// Candidate id.
    pub model: String,
    /// `tuned`, or `reference` (the baseline, evaluated once, not tuned).
    pub role: String,
    /// Its best value of the metric (a tuned candidate: over all its
    /// studies' complete trials); `null` when none completed.
    pub best_value: Option<f64>,
    /// Standard deviation over folds of that best trial.
    pub std: Option<f64>,
    /// Trials run over all its studies (the reference: 1, its evaluation).
    pub trials: usize,
    /// The last rung it ran in (`null` for the reference).
    pub rung: Option<usize>,
    /// The study holding its best trial (`null` for the reference).
    pub study_id: Option<String>,
    /// Every study it ran, one per rung.
    pub studies: Vec<String>,
    /// The run of its best trial (a study's run, or the reference's eval).
    pub run_id: Option<String>,
    /// The job of its best trial.
    pub job_id: Option<String>,
    /// The best trial's searched parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The best trial's mean metrics (`overfit_gap`, `train_*` included).
    #[schema(value_type = std::collections::BTreeMap<String, Option<f64>>)]
    pub metrics: MetricSet,
    /// Why it has no value, when it has none.
    pub note: Option<String>,
}

/// A ready candidate that was not in the race.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// Candidate id.
    pub model: String,
    /// Why.
    pub reason: String,
}

/// The winner.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Winner {
    /// Candidate id.
    pub model: String,
    /// The study of its best trial (`mlhost train --from` takes it).
    pub study_id: String,
    /// That trial's parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Its value of the metric.
    pub value: f64,
}

/// The winner against one other model.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Versus {
    /// The other model.
    pub model: String,
    /// `runner-up` or `reference`.
    pub role: String,
    /// The winner's value minus the other's.
    pub diff: f64,
    /// How the noise was judged: `corrected-t-test` (both tested on the
    /// same folds), `std` (the difference against the larger standard
    /// deviation over folds) or `none` (one split: no noise estimate).
    pub test: String,
    /// Two-sided p of the corrected resampled t-test.
    pub p_value: Option<f64>,
    /// Whether the difference is within the noise.
    pub within_noise: bool,
}

/// The version registered from the winner's study.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// Model name.
    pub name: String,
    /// Version number, from 1.
    pub version: i64,
    /// Its semver.
    pub semver: String,
}

/// One `--gate`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateReport {
    /// The expression.
    pub gate: String,
    /// Whether the winner passes it.
    pub passed: bool,
    /// The failure line, as `eval` prints it.
    pub message: Option<String>,
}
