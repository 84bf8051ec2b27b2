//! Plain types every layer shares: ids, statuses, metric records, the stop
//! flag. Nothing here does I/O or knows about plugins, SQLite or HTTP; every
//! other module may use it, and it uses none of them.

mod gate;
mod ids;
mod metric_set;
mod model_version;
mod predictions;
mod protocol;
mod spec;
mod status;
mod stop;
mod study;

pub use gate::{Gate, Op};
pub use ids::{DatasetId, JobId, RunId, StudyId, hex};
pub use metric_set::{MetricSet, mean_std, summarize};
pub use model_version::{Change, ModelRef, Semver, Stage, check_name};
pub use predictions::{FoldPredictions, f64_bytes, f64s_from, once_per_row, u32_bytes, u32s_from};
pub use spec::{
    CvName, CvRequest, DEFAULT_DATASET, Isolation, Patience, Protocol, Returns, RunDefaults,
    RunRequest, RunSpec, SpecError, bounds,
};
pub use status::{JobStatus, RunStatus, TrialStatus, UnknownStatus};
pub use stop::StopFlag;
pub use study::{DEFAULT_TRIALS, Direction, PrunerName, StrategyName, StudyRequest, StudySpec};

/// RFC 3339 UTC with milliseconds, as every stored time.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// One epoch of one fold of a job, as reported by an iterative plugin.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochRow {
    /// The job (operation).
    pub job_id: String,
    /// The fold whose model trained.
    pub fold: i64,
    /// Counts from 1.
    pub epoch: i64,
    /// `{name: value}`, including `duration_ms`.
    pub metrics_json: String,
    /// RFC 3339.
    pub recorded_at: String,
}

impl EpochRow {
    /// The values of `metrics_json`; an error names what is wrong with it.
    pub fn metrics(&self) -> Result<MetricSet, serde_json::Error> {
        MetricSet::from_json(&self.metrics_json)
    }
}
