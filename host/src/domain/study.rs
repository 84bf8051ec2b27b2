//! A hyperparameter study as data: what `mlhost tune` and
//! `POST /api/ml/tuning` ask for, resolved once into a [`StudySpec`] that
//! `studies.spec_json` keeps (so `--resume` runs exactly the same study),
//! and the states its trials end in.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::spec::{RunDefaults, RunRequest, RunSpec, SpecError};

/// How a study proposes its trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    /// Every point of the grid once, in scikit-learn's `ParameterGrid` order.
    Grid,
    /// Independent uniform draws.
    Random,
    /// The tree-structured Parzen estimator.
    #[default]
    Tpe,
}

impl StrategyName {
    /// `grid`, `random` or `tpe`.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyName::Grid => "grid",
            StrategyName::Random => "random",
            StrategyName::Tpe => "tpe",
        }
    }
}

/// How a study stops bad trials early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrunerName {
    /// Never.
    #[default]
    None,
    /// Optuna's `MedianPruner`.
    Median,
    /// Asynchronous successive halving.
    Asha,
}

impl PrunerName {
    /// `none`, `median` or `asha`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrunerName::None => "none",
            PrunerName::Median => "median",
            PrunerName::Asha => "asha",
        }
    }
}

/// Whether larger or smaller values of an objective are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (accuracy, F1, R²).
    Maximize,
    /// Smaller is better (losses, errors, seconds).
    Minimize,
}

impl Direction {
    /// The direction a metric (or a per-epoch value) is optimized in:
    /// losses, errors, times, drawdowns and the overfitting gap are minimized
    /// (`log_loss`, `mae`, `val_loss`, `train_error`, `fit_seconds`,
    /// `duration_ms`, `max_drawdown`, `overfit_gap`), every score maximized.
    pub fn of(metric: &str) -> Direction {
        const LOWER: &[&str] = &["mae", "mse", "rmse", "mape", "max_drawdown", "overfit_gap"];
        // A training-fold score (`train_mae`) goes the way of its metric.
        let metric = metric.strip_prefix("train_").unwrap_or(metric);
        let lower = LOWER.contains(&metric)
            || metric.ends_with("loss")
            || metric.contains("error")
            || metric.ends_with("_seconds")
            || metric.ends_with("_ms");
        if lower { Direction::Minimize } else { Direction::Maximize }
    }

    /// `maximize` or `minimize`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Maximize => "maximize",
            Direction::Minimize => "minimize",
        }
    }
}

/// A resolved, checked study: its run's settings (dataset, protocol,
/// workers, isolation, per-trial timeout) and how it searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StudySpec {
    /// The run the trials belong to (its `models` is the one candidate).
    pub run: RunSpec,
    /// The candidate tuned.
    pub model: String,
    /// How trials are proposed.
    pub strategy: StrategyName,
    /// Trials to run (grid: at most its points; 0 = all of them).
    pub trials: usize,
    /// `--param NAME=SPEC`: the parameters searched (none: every one the
    /// schema bounds and models.toml leaves unset).
    pub params: Vec<(String, String)>,
    /// Objectives: the first picks the best trial, more keep a Pareto front.
    pub metrics: Vec<String>,
    /// One per metric.
    pub directions: Vec<Direction>,
    /// Early stopping of bad trials.
    pub pruner: PrunerName,
    /// The per-epoch value the pruner reads.
    pub prune_on: String,
    /// No trial starts after this long (running ones finish).
    #[serde(with = "opt_secs")]
    pub timeout: Option<Duration>,
    /// Seeds every proposal (with the trial number).
    pub seed: u64,
}

/// What a front end asks for; `None` (or empty) takes the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudyRequest {
    /// Dataset, protocol, workers, isolation, per-trial timeout, seed.
    pub run: RunRequest,
    /// The candidate to tune.
    pub model: String,
    /// Default: tpe.
    pub strategy: Option<StrategyName>,
    /// Default: 50 (grid: every point).
    pub trials: Option<usize>,
    /// `(NAME, SPEC)`: the parameters to search (none: the schema's).
    pub params: Vec<(String, String)>,
    /// Default: the table's sort metric (f1, or r2 for regression).
    pub metrics: Vec<String>,
    /// Default: each metric's own (losses minimize).
    pub directions: Vec<Direction>,
    /// Default: none.
    pub pruner: Option<PrunerName>,
    /// Default: val_loss.
    pub prune_on: Option<String>,
    /// Study wall-clock budget in seconds.
    pub timeout_secs: Option<u64>,
}

/// Trials a study runs when the request does not say.
pub const DEFAULT_TRIALS: usize = 50;

impl StudySpec {
    /// Fills `req` from `defaults` and checks what can be checked before
    /// the data is read. Metrics left empty are chosen by the task once it
    /// is known ([`StudySpec::with_default_metric`]).
    pub fn resolve(req: StudyRequest, defaults: &RunDefaults) -> Result<StudySpec, SpecError> {
        if req.model.is_empty() {
            return Err(SpecError("name the model to tune: --model ID".into()));
        }
        if req.trials == Some(0) {
            return Err(SpecError(
                "--trials 0: a study needs at least one trial (a grid without --trials runs every point)"
                    .into(),
            ));
        }
        let seed = req.run.seed.unwrap_or(0);
        let run =
            RunSpec::resolve(RunRequest { models: vec![req.model.clone()], ..req.run }, defaults)?;
        let strategy = req.strategy.unwrap_or_default();
        let trials = match (req.trials, strategy) {
            (Some(n), _) => n,
            (None, StrategyName::Grid) => 0,
            (None, _) => DEFAULT_TRIALS,
        };
        let directions = match (req.metrics.len(), req.directions.len()) {
            (_, 0) => req.metrics.iter().map(|m| Direction::of(m)).collect(),
            (0, 1) => req.directions, // for the default metric
            _ => req.directions,
        };
        let spec = StudySpec {
            run,
            model: req.model,
            strategy,
            trials,
            params: req.params,
            metrics: req.metrics,
            directions,
            pruner: req.pruner.unwrap_or_default(),
            prune_on: req.prune_on.unwrap_or_else(|| "val_loss".to_owned()),
            timeout: req.timeout_secs.map(Duration::from_secs),
            seed,
        };
        spec.check()?;
        Ok(spec)
    }

    /// The spec with its metric chosen for `task` when none was given:
    /// the comparison table's sort metric, F1 (R² for regression).
    pub fn with_default_metric(mut self, regression: bool) -> StudySpec {
        if self.metrics.is_empty() {
            let m = if regression { "r2" } else { "f1" };
            self.metrics = vec![m.to_owned()];
            if self.directions.is_empty() {
                self.directions = vec![Direction::of(m)];
            }
        }
        self
    }

    /// Checks what does not need the data or the plugin: at least one
    /// trial, one direction per metric, no metric twice.
    pub fn check(&self) -> Result<(), SpecError> {
        self.run.check()?;
        if self.trials == 0 && self.strategy != StrategyName::Grid {
            return Err(SpecError(
                "--trials 0: a study needs at least one trial (only a grid takes 0 = every point)"
                    .into(),
            ));
        }
        let defaulted = self.metrics.is_empty() && self.directions.len() <= 1;
        if !defaulted && self.metrics.len() != self.directions.len() {
            return Err(SpecError(format!(
                "{} metrics and {} directions: give one --direction per --metric, or none",
                self.metrics.len(),
                self.directions.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.metrics.iter().find(|m| !seen.insert(m.as_str())) {
            return Err(SpecError(format!("--metric {twice} is given twice")));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(SpecError("--timeout-secs must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Direction;

    #[test]
    fn losses_errors_and_times_minimize_scores_maximize() {
        for m in [
            "log_loss",
            "val_loss",
            "train_loss",
            "mae",
            "rmse",
            "mape",
            "fit_seconds",
            "duration_ms",
            "val_error",
        ] {
            assert_eq!(Direction::of(m), Direction::Minimize, "{m}");
        }
        for m in ["f1", "accuracy", "val_accuracy", "r2", "roc_auc"] {
            assert_eq!(Direction::of(m), Direction::Maximize, "{m}");
        }
    }
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(s) => Duration::try_from_secs_f64(s).map(Some).map_err(serde::de::Error::custom),
        }
    }
}
