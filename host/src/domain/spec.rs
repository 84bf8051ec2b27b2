//! What a run is asked to do. Command-line flags, API bodies and the config
//! file's `[eval]` defaults all meet in [`RunSpec::resolve`], the one place
//! their bounds are checked; the resolved spec is what the engine runs and
//! what `runs.spec_json` stores (and `eval --resume` reads back).

use std::time::Duration;

use mlhost_plugin_api::Task;
use serde::{Deserialize, Serialize};

pub use super::protocol::{CvName, CvRequest, Protocol};

/// How each evaluation job is isolated from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Jobs run on worker threads; panics are caught, timeouts are cooperative.
    Thread,
    /// Jobs run in child processes; crashes and hangs cannot reach the host.
    Process,
}

/// When to call a validation-loss curve a plateau.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patience {
    /// Epochs without an improvement larger than `min_delta`.
    pub patience: u32,
    /// The smallest decrease of validation loss that counts.
    pub min_delta: f64,
}

impl Default for Patience {
    fn default() -> Self {
        Patience { patience: 5, min_delta: 0.001 }
    }
}

/// The built-in dataset a run uses when none is named.
pub const DEFAULT_DATASET: &str = "builtin:breast_cancer";

/// Bounds (inclusive) of the numbers a run accepts: the same for flags, API
/// bodies and the config file, which reads them from here.
pub mod bounds {
    /// `workers`.
    pub const WORKERS: (u64, u64) = (1, 256);
    /// `folds`.
    pub const FOLDS: (u64, u64) = (2, 100);
    /// `timeout_secs` (a week at most).
    pub const TIMEOUT_SECS: (u64, u64) = (1, 604_800);
}

/// What a front end asks for; `None` takes the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRequest {
    /// `builtin:NAME` or a CSV path (default [`DEFAULT_DATASET`]).
    pub dataset: Option<String>,
    /// Label column (default: the built-in's, or the last column).
    pub label: Option<String>,
    /// Candidate ids; empty = every ready candidate that can do the task.
    pub models: Vec<String>,
    /// At most this many jobs at once.
    pub workers: Option<u32>,
    /// How to split: `--cv`, `--folds`, `--holdout` and their company.
    pub cv: CvRequest,
    /// Shuffle seed.
    pub seed: Option<u64>,
    /// Per-job timeout.
    pub timeout_secs: Option<u64>,
    /// Force the task instead of inferring it.
    pub task: Option<Task>,
    /// Positive class (binary), by its label in the data.
    pub pos_label: Option<String>,
    /// Threads or child processes.
    pub isolation: Option<Isolation>,
    /// Stop training once validation loss stops improving.
    pub early_stopping: Option<Patience>,
    /// Trading metrics: the column of each row's next-period return.
    pub returns_col: Option<String>,
    /// Trading metrics: periods in a year (default 252).
    pub periods_per_year: Option<f64>,
    /// The sensitive attribute of the bias check (read apart, never a
    /// feature).
    pub fairness_col: Option<String>,
}

/// The defaults a request falls back on (the config's `[eval]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunDefaults {
    /// `[eval] workers`.
    pub workers: u32,
    /// `[eval] folds`.
    pub folds: u32,
    /// `[eval] timeout_secs`.
    pub timeout_secs: u64,
    /// `[eval] isolation`.
    pub isolation: Isolation,
    /// `[eval] quarantine_after`.
    pub quarantine_after: u32,
    /// `[eval] max_memory_mb`.
    pub max_memory_mb: Option<u64>,
}

/// A request the engine cannot run; the message names the setting and the
/// accepted values.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

/// A resolved, checked run: what the engine runs and `runs.spec_json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSpec {
    /// `builtin:NAME` or a CSV path.
    pub dataset: String,
    /// Label column.
    pub label: Option<String>,
    /// Candidate ids; empty = every ready candidate that can do the task.
    pub models: Vec<String>,
    /// At most this many jobs at once.
    pub workers: usize,
    /// Folds or holdout.
    pub protocol: Protocol,
    /// Shuffle seed; without one, folds are scikit-learn's unshuffled ones.
    pub seed: Option<u64>,
    /// Per-job timeout.
    #[serde(rename = "timeoutSecs", with = "secs")]
    pub timeout: Duration,
    /// The task: forced by the request, or (once stored) the one inferred.
    #[serde(default, with = "task_name")]
    pub task: Option<Task>,
    /// Positive class (binary), by its label in the data.
    pub pos_label: Option<String>,
    /// Threads or child processes.
    pub isolation: Isolation,
    /// Process isolation: crashes before a plugin is quarantined.
    pub quarantine_after: u32,
    /// Process isolation: memory limit per worker, MB.
    pub max_memory_mb: Option<u64>,
    /// Stop a model's training once validation loss stops improving.
    #[serde(default)]
    pub early_stopping: Option<Patience>,
    /// `--cv group`: the column whose values are the rows' groups (never a
    /// feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_col: Option<String>,
    /// The column rows are sorted by before splitting (read apart, never a
    /// feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_col: Option<String>,
    /// Trading metrics on each fold's held-out rows (`--returns-col`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<Returns>,
    /// `--fairness-col`: the sensitive attribute the bias check groups the
    /// held-out rows by (never a feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness_col: Option<String>,
}

/// `--returns-col COL [--periods-per-year N]`: the column of each row's
/// next-period return (read apart, never a feature) and how to annualise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Returns {
    /// The column.
    pub col: String,
    /// Periods in a year: 252 trading days, 52 weeks, 12 months.
    pub periods_per_year: f64,
}

impl Returns {
    /// The default annualisation: daily data.
    pub const DAILY: f64 = 252.0;

    fn resolve(col: Option<String>, periods: Option<f64>) -> Result<Option<Returns>, SpecError> {
        match (col, periods) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(SpecError(
                "--periods-per-year is for trading metrics; add --returns-col COLUMN or drop it"
                    .into(),
            )),
            (Some(col), periods) => {
                let periods_per_year = periods.unwrap_or(Self::DAILY);
                if !(periods_per_year > 0.0 && periods_per_year <= 1e6) {
                    return Err(SpecError(format!(
                        "--periods-per-year must be > 0 and at most 1000000 (252 for daily data), got {periods_per_year}"
                    )));
                }
                Ok(Some(Returns { col, periods_per_year }))
            }
        }
    }
}

fn check<T: Into<u64> + Copy>(
    name: &str,
    value: T,
    (min, max): (u64, u64),
) -> Result<T, SpecError> {
    if (min..=max).contains(&value.into()) {
        Ok(value)
    } else {
        Err(SpecError(format!("{name} must be between {min} and {max}, got {}", value.into())))
    }
}

impl RunSpec {
    /// The columns read apart from the features, in the order
    /// `engine::run::load` takes their cells: `--group-col`, `--time-col`,
    /// `--returns-col`, then `--fairness-col` unless it names one of those. The dataset id
    /// covers them in this order, so reading a stored run's data again
    /// with this list gives the run's id.
    pub fn key_columns(&self) -> Vec<&str> {
        let returns = self.returns.as_ref().map(|r| &r.col);
        let mut keys: Vec<&str> = self
            .group_col
            .iter()
            .chain(&self.time_col)
            .chain(returns)
            .map(String::as_str)
            .collect();
        if let Some(col) = self.fairness_col.as_deref()
            && !keys.contains(&col)
        {
            keys.push(col);
        }
        keys
    }

    /// Checks the bounds of a spec that did not come through
    /// [`RunSpec::resolve`] (one read back from `runs.spec_json`).
    pub fn check(&self) -> Result<(), SpecError> {
        check("workers", self.workers as u64, bounds::WORKERS)?;
        self.protocol.check()?;
        if self.protocol.needs_groups() && self.group_col.is_none() {
            return Err(SpecError("--cv group needs --group-col COLUMN".into()));
        }
        check("timeout_secs", self.timeout.as_secs(), bounds::TIMEOUT_SECS).map(drop)
    }

    /// Fills `req` from `defaults` and checks every bound, once.
    pub fn resolve(req: RunRequest, defaults: &RunDefaults) -> Result<RunSpec, SpecError> {
        let workers = check("workers", req.workers.unwrap_or(defaults.workers), bounds::WORKERS)?;
        let protocol = Protocol::resolve(&req.cv, defaults.folds)?;
        if protocol.needs_groups() != req.cv.group_col.is_some() {
            return Err(SpecError(match protocol.needs_groups() {
                true => "--cv group needs --group-col COLUMN (the rows' groups)".into(),
                false => "--group-col is for --cv group; add --cv group or drop it".into(),
            }));
        }
        let timeout = check(
            "timeout_secs",
            req.timeout_secs.unwrap_or(defaults.timeout_secs),
            bounds::TIMEOUT_SECS,
        )?;
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = req.models.iter().find(|m| !seen.insert(m.as_str())) {
            return Err(SpecError(format!("model '{twice}' is listed twice")));
        }
        if let Some(p) = req.early_stopping
            && (p.patience == 0 || !(p.min_delta >= 0.0 && p.min_delta.is_finite()))
        {
            return Err(SpecError(
                "early stopping needs patience >= 1 and a finite min_delta >= 0".into(),
            ));
        }
        let returns = Returns::resolve(req.returns_col, req.periods_per_year)?;
        if let Some(r) = &returns
            && [&req.label, &req.cv.group_col, &req.cv.time_col].contains(&&Some(r.col.clone()))
        {
            return Err(SpecError(format!(
                "--returns-col '{}' is also the label, group or time column; name the column of next-period returns",
                r.col
            )));
        }
        Ok(RunSpec {
            dataset: req.dataset.unwrap_or_else(|| DEFAULT_DATASET.to_owned()),
            label: req.label,
            models: req.models,
            workers: workers as usize,
            protocol,
            seed: req.seed,
            timeout: Duration::from_secs(timeout),
            task: req.task,
            pos_label: req.pos_label,
            isolation: req.isolation.unwrap_or(defaults.isolation),
            quarantine_after: defaults.quarantine_after,
            max_memory_mb: defaults.max_memory_mb,
            early_stopping: req.early_stopping,
            group_col: req.cv.group_col,
            time_col: req.cv.time_col,
            returns,
            fairness_col: req.fairness_col,
        })
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

mod task_name {
    use mlhost_plugin_api::Task;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &Option<Task>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(t.as_str()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Task>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None => Ok(None),
            Some("classification") => Ok(Some(Task::Classification)),
            Some("regression") => Ok(Some(Task::Regression)),
            Some(other) => Err(serde::de::Error::custom(format!("unknown task '{other}'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RunDefaults {
        RunDefaults {
            workers: 3,
            folds: 5,
            timeout_secs: 3600,
            isolation: Isolation::Thread,
            quarantine_after: 3,
            max_memory_mb: None,
        }
    }

    #[test]
    fn defaults_fill_what_the_request_leaves_out() {
        let spec = RunSpec::resolve(RunRequest::default(), &defaults()).unwrap();
        assert_eq!(spec.dataset, DEFAULT_DATASET);
        assert_eq!((spec.workers, spec.protocol), (3, Protocol::kfold(5)));
        assert_eq!(spec.timeout, Duration::from_secs(3600));
    }

    #[test]
    fn every_bound_is_checked_with_a_message_that_names_it() {
        let bad = |req: RunRequest| RunSpec::resolve(req, &defaults()).unwrap_err().0;
        let req = RunRequest::default;
        assert_eq!(
            bad(RunRequest { workers: Some(0), ..req() }),
            "workers must be between 1 and 256, got 0"
        );
        let cv = |cv: CvRequest| RunRequest { cv, ..req() };
        let none = CvRequest::default;
        assert_eq!(
            bad(cv(CvRequest { folds: Some(1), ..none() })),
            "folds must be between 2 and 100, got 1"
        );
        assert_eq!(
            bad(cv(CvRequest { holdout: Some(1.0), ..none() })),
            "--holdout must be a fraction between 0 and 1 (exclusive), got 1"
        );
        assert_eq!(
            bad(cv(CvRequest { holdout: Some(0.2), folds: Some(3), ..none() })),
            "--folds does not apply to --cv holdout; drop it"
        );
        assert_eq!(
            bad(cv(CvRequest { cv: Some(CvName::Group), ..none() })),
            "--cv group needs --group-col COLUMN (the rows' groups)"
        );
        assert_eq!(
            bad(cv(CvRequest { gap: Some(2), ..none() })),
            "--gap does not apply to the default k-fold; drop it"
        );
        assert_eq!(
            bad(cv(CvRequest { cv: Some(CvName::TimeSeries), test_size: Some(0.2), ..none() })),
            "--test-size for --cv time-series is a number of rows (a whole number >= 1), got 0.2"
        );
        let ts = RunSpec::resolve(
            cv(CvRequest {
                cv: Some(CvName::TimeSeries),
                gap: Some(1),
                max_train_size: Some(9),
                ..none()
            }),
            &defaults(),
        )
        .unwrap();
        assert_eq!(
            ts.protocol,
            Protocol::TimeSeries { k: 5, gap: 1, max_train_size: Some(9), test_size: None }
        );
        assert!(bad(RunRequest { timeout_secs: Some(0), ..req() }).starts_with("timeout_secs"));
        let twice = RunRequest { models: vec!["a".into(), "a".into()], ..req() };
        assert_eq!(bad(twice), "model 'a' is listed twice");
    }

    #[test]
    fn returns_are_checked_and_default_to_daily() {
        let req = |col: Option<&str>, ppy| RunRequest {
            returns_col: col.map(str::to_owned),
            periods_per_year: ppy,
            label: Some("y".into()),
            ..RunRequest::default()
        };
        let ok = |r| RunSpec::resolve(r, &defaults()).map(|s| s.returns);
        let daily = Returns { col: "ret".into(), periods_per_year: 252.0 };
        assert_eq!(ok(req(Some("ret"), None)), Ok(Some(daily)));
        assert_eq!(ok(req(None, None)), Ok(None));
        let err = |r| ok(r).unwrap_err().0;
        assert!(err(req(None, Some(12.0))).contains("add --returns-col"));
        assert!(err(req(Some("ret"), Some(0.0))).starts_with("--periods-per-year must be > 0"));
        assert!(err(req(Some("y"), None)).contains("also the label"));
    }

    #[test]
    fn the_stored_form_reads_back_and_old_specs_still_read() {
        let mut spec = RunSpec::resolve(RunRequest::default(), &defaults()).unwrap();
        spec.task = Some(Task::Regression);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["timeoutSecs"], 3600.0);
        assert_eq!(json["task"], "regression");
        assert_eq!(json["protocol"], serde_json::json!({"kind": "kfold", "folds": 5}));
        assert_eq!(serde_json::from_value::<RunSpec>(json).unwrap(), spec);
        // As mlhost 0.1 (schema 4) stored it.
        let old = r#"{"dataset":"builtin:iris","label":null,"models":["baseline"],"workers":2,
            "seed":7,"posLabel":null,"isolation":"thread","quarantineAfter":3,"maxMemoryMb":null,
            "earlyStopping":null,"task":"classification","timeoutSecs":3600.0,
            "protocol":{"kind":"kfold","folds":3}}"#;
        let old: RunSpec = serde_json::from_str(old).unwrap();
        assert_eq!((old.task, old.protocol), (Some(Task::Classification), Protocol::kfold(3)));
        assert_eq!(old.fairness_col, None);
    }

    #[test]
    fn the_fairness_column_is_stored_only_when_set_and_read_apart_once() {
        let spec = RunSpec::resolve(RunRequest::default(), &defaults()).unwrap();
        assert!(serde_json::to_value(&spec).unwrap().get("fairnessCol").is_none());
        assert!(spec.key_columns().is_empty());
        let req = RunRequest { fairness_col: Some("sex".into()), ..RunRequest::default() };
        let spec = RunSpec::resolve(req, &defaults()).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["fairnessCol"], "sex");
        assert_eq!(serde_json::from_value::<RunSpec>(json).unwrap(), spec);
        assert_eq!(spec.key_columns(), ["sex"]);
        let keyed = RunSpec { time_col: Some("t".into()), group_col: Some("sex".into()), ..spec };
        assert_eq!(keyed.key_columns(), ["sex", "t"], "named once, in the group's place");
    }
}
