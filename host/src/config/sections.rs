//! The tables of `mlhost.toml` (`[eval]`, `[events]`, `[api]`, `[plugins]`,
//! `[retention]`, `[serving]`) with their defaults and bounds, and the
//! checks their values get as they are read.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, de};

use crate::domain::Isolation;
use crate::domain::bounds;

/// `[eval]`: defaults for evaluation runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// At most this many jobs run at once (evalWorkers).
    #[serde(deserialize_with = "bounded::<{ bounds::WORKERS.0 }, { bounds::WORKERS.1 }, _, _>")]
    pub workers: u32,
    /// Per-job timeout in seconds (evaluationTimeout).
    #[serde(
        deserialize_with = "bounded::<{ bounds::TIMEOUT_SECS.0 }, { bounds::TIMEOUT_SECS.1 }, _, _>"
    )]
    pub timeout_secs: u64,
    /// Thread or process isolation.
    pub isolation: Isolation,
    /// Cross-validation folds.
    #[serde(deserialize_with = "bounded::<{ bounds::FOLDS.0 }, { bounds::FOLDS.1 }, _, _>")]
    pub folds: u32,
    /// Process isolation: crashes of one plugin before it is not started
    /// again in the run.
    #[serde(deserialize_with = "bounded::<1, 1000, _, _>")]
    pub quarantine_after: u32,
    /// Process isolation: memory limit of each worker process, in MB.
    #[serde(deserialize_with = "optional_bounded::<16, 1_048_576, _>")]
    pub max_memory_mb: Option<u64>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            workers: 3,
            timeout_secs: 3600,
            isolation: Isolation::Thread,
            folds: 5,
            quarantine_after: 3,
            max_memory_mb: None,
        }
    }
}

impl EvalConfig {
    /// What a run request falls back on.
    pub fn run_defaults(&self) -> crate::domain::RunDefaults {
        crate::domain::RunDefaults {
            workers: self.workers,
            folds: self.folds,
            timeout_secs: self.timeout_secs,
            isolation: self.isolation,
            quarantine_after: self.quarantine_after,
            max_memory_mb: self.max_memory_mb,
        }
    }
}

/// `[events]`: where the outbox relay publishes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// `redis://host:port`; without it events stay in the outbox.
    #[serde(deserialize_with = "redis_url")]
    pub redis_url: Option<String>,
    /// The Redis stream name.
    pub stream: String,
    /// Approximate cap on the stream's length (XADD MAXLEN ~).
    #[serde(deserialize_with = "bounded::<1, 1_000_000_000, _, _>")]
    pub maxlen: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { redis_url: None, stream: "ml:run-events".to_owned(), maxlen: 100_000 }
    }
}

/// `[api]`: the HTTP service.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Address to bind.
    pub bind: SocketAddr,
    /// Bearer token every `/api` route requires, when set (never empty).
    #[serde(deserialize_with = "token")]
    pub token: Option<String>,
    /// Runs waiting to start, at most; past it, POST answers 503.
    #[serde(deserialize_with = "bounded::<1, 10_000, _, _>")]
    pub queue: u32,
    /// The only folders a posted dataset path may name (canonicalised; `..`
    /// and symlinks may not leave them). Empty: no paths, only built-in and
    /// uploaded datasets.
    pub data_dirs: Vec<PathBuf>,
    /// Largest CSV `POST /api/ml/datasets` takes, in MB.
    #[serde(deserialize_with = "bounded::<1, 65_536, _, _>")]
    pub max_upload_mb: u64,
    /// Largest JSON request body, in KB.
    #[serde(deserialize_with = "bounded::<1, 65_536, _, _>")]
    pub max_body_kb: u64,
}

impl fmt::Debug for ApiConfig {
    // The token never appears in logs or debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("queue", &self.queue)
            .field("data_dirs", &self.data_dirs)
            .field("max_upload_mb", &self.max_upload_mb)
            .field("max_body_kb", &self.max_body_kb)
            .finish()
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            queue: 16,
            data_dirs: Vec::new(),
            max_upload_mb: 256,
            max_body_kb: 64,
        }
    }
}

/// `[plugins]`: how new plugin files are checked before the host opens them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Time limit of the child-process probe of a new `.so`, in seconds; also
    /// the watchdog on in-process `info()` and constructors.
    #[serde(deserialize_with = "bounded::<1, 3600, _, _>")]
    pub probe_timeout_secs: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self { probe_timeout_secs: 10 }
    }
}

/// `[retention]`: what `mlhost gc` removes. Unset = no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Keep the newest this many runs (studies count as runs).
    #[serde(deserialize_with = "optional_bounded::<0, 1_000_000_000, _>")]
    pub keep_runs: Option<u64>,
    /// Remove runs older than this many days.
    #[serde(deserialize_with = "optional_bounded::<0, 1_000_000, _>")]
    pub max_age_days: Option<u64>,
}

/// `[serving]`: how `serve` answers prediction requests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingConfig {
    /// Model versions kept loaded at once (least recently used go first).
    #[serde(deserialize_with = "bounded::<1, 10_000, _, _>")]
    pub max_loaded: u32,
    /// A model (`NAME[@ALIAS|:N]`) that answers, with `"fallback": true`,
    /// when the requested one is missing, cannot be loaded or fails.
    #[serde(deserialize_with = "model_ref")]
    pub fallback: Option<String>,
    /// `process` (default): each loaded model instance runs in a child
    /// process, so a crash or hang in a plugin's predict costs that
    /// instance only; `thread`: in the server's process (faster to load,
    /// a panic is caught but a crash takes the server down).
    pub isolation: Isolation,
    /// Process isolation: a predict call that takes longer has its worker
    /// process killed and answers 503 (a load gets at least 60 s).
    #[serde(
        deserialize_with = "bounded::<{ bounds::TIMEOUT_SECS.0 }, { bounds::TIMEOUT_SECS.1 }, _, _>"
    )]
    pub timeout_secs: u64,
    /// Process isolation: memory limit of each worker process, in MB (a
    /// plugin allocating past it ends its worker: 503 for that call).
    #[serde(deserialize_with = "optional_bounded::<16, 1_048_576, _>")]
    pub max_memory_mb: Option<u64>,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            max_loaded: 8,
            fallback: None,
            isolation: Isolation::Process,
            timeout_secs: 30,
            max_memory_mb: None,
        }
    }
}

pub(super) fn bounded<'de, const MIN: u64, const MAX: u64, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let v = i64::deserialize(d)?;
    u64::try_from(v)
        .ok()
        .filter(|v| (MIN..=MAX).contains(v))
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| de::Error::custom(format!("must be between {MIN} and {MAX}, got {v}")))
}

pub(super) fn optional_bounded<'de, const MIN: u64, const MAX: u64, D>(
    d: D,
) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    bounded::<MIN, MAX, D, u64>(d).map(Some)
}

/// A model reference, `NAME[@ALIAS|:N]`, checked as the CLI checks one.
pub(super) fn model_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<crate::domain::ModelRef>().map_err(de::Error::custom)?;
    Ok(Some(s))
}

pub(super) fn token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let token = String::deserialize(d)?;
    if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
        return Err(de::Error::custom(
            "must be a non-empty token without spaces (e.g. `openssl rand -hex 32`); remove the key to serve without one",
        ));
    }
    Ok(Some(token))
}

pub(super) fn redis_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(Some(url))
    } else {
        Err(de::Error::custom(format!("must start with redis:// or rediss://, got \"{url}\"")))
    }
}
