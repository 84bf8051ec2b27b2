//! Host settings from `config/mlhost.toml`, parsed once into validated types.
//!
//! Owns the file format and its error messages (file, line, key). Relative
//! paths resolve against the config file's own folder, so the host behaves
//! the same from any working directory. Never reads the environment or
//! touches plugins.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, de};

/// A config file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or unreadable.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error (said in the message, not chained: `error: {:#}`
        /// would print it twice).
        error: std::io::Error,
    },
    /// A syntax error, an unknown key, a wrong type or a value out of range.
    #[error("{}:{line}: {}{message}", path.display(), key.as_ref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// The key, when it can be told.
        key: Option<String>,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl ConfigError {
    /// Builds an `Invalid` error for `span` of `src`.
    pub(crate) fn at(path: &Path, src: &str, span: Option<Range<usize>>, message: String) -> Self {
        let start = span.map_or(0, |s| s.start.min(src.len()));
        let line = src[..start].matches('\n').count() + 1;
        let text = src.lines().nth(line - 1).unwrap_or("");
        let key = text
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_owned())
            .filter(|k| !k.is_empty() && !k.starts_with('['));
        ConfigError::Invalid { path: path.to_owned(), line, key, message }
    }

    /// Turns a toml error for `src` (the text of `path`) into one line.
    pub(crate) fn from_toml(path: &Path, src: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().replace('\n', " ");
        Self::at(path, src, err.span(), message)
    }
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_plugin_dirs")]
    plugin_dirs: Vec<PathBuf>,
    #[serde(default = "default_registry")]
    registry: PathBuf,
    #[serde(default = "default_database")]
    database: PathBuf,
    #[serde(default)]
    eval: EvalConfig,
    #[serde(default)]
    events: EventsConfig,
    #[serde(default)]
    api: ApiConfig,
    #[serde(default)]
    plugins: PluginsConfig,
    /// Default: an `artifacts/` folder beside the database.
    artifacts: Option<PathBuf>,
    #[serde(default)]
    serving: ServingConfig,
    #[serde(default)]
    retention: RetentionConfig,
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
    /// Process isolation: a predict call (or a load) that takes longer has
    /// its worker process killed and answers 503.
    #[serde(
        deserialize_with = "bounded::<{ bounds::TIMEOUT_SECS.0 }, { bounds::TIMEOUT_SECS.1 }, _, _>"
    )]
    pub timeout_secs: u64,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self { max_loaded: 8, fallback: None, isolation: Isolation::Process, timeout_secs: 30 }
    }
}

fn default_plugin_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from("../plugins")]
}
fn default_registry() -> PathBuf {
    PathBuf::from("models.toml")
}
fn default_database() -> PathBuf {
    PathBuf::from("../mlhost.db")
}

/// The validated host configuration. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from.
    pub path: PathBuf,
    /// Folders scanned for `*.so`, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// The candidate list (`models.toml`).
    pub registry: PathBuf,
    /// The SQLite database.
    pub database: PathBuf,
    /// `[eval]`.
    pub eval: EvalConfig,
    /// `[events]`.
    pub events: EventsConfig,
    /// `[api]`.
    pub api: ApiConfig,
    /// `[plugins]`.
    pub plugins: PluginsConfig,
    /// Trained models' artifacts (`artifacts`).
    pub artifacts: PathBuf,
    /// `[serving]`.
    pub serving: ServingConfig,
    /// `[retention]`.
    pub retention: RetentionConfig,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let src = std::fs::read_to_string(path)
            .map_err(|error| ConfigError::Read { path: path.to_owned(), error })?;
        Self::parse(path, &src)
    }

    /// Validates `src` as if read from `path`.
    pub fn parse(path: &Path, src: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            toml::from_str(src).map_err(|e| ConfigError::from_toml(path, src, &e))?;
        let base = absolute(path.parent().unwrap_or(Path::new(".")));
        let resolve = |p: &Path| normalize(&base.join(p));
        let database = resolve(&raw.database);
        let artifacts = match &raw.artifacts {
            Some(dir) => resolve(dir),
            None => database.parent().unwrap_or(Path::new("/")).join("artifacts"),
        };
        Ok(Config {
            path: absolute(path),
            plugin_dirs: raw.plugin_dirs.iter().map(|p| resolve(p)).collect(),
            registry: resolve(&raw.registry),
            database,
            artifacts,
            serving: raw.serving,
            retention: raw.retention,
            eval: raw.eval,
            events: raw.events,
            api: ApiConfig {
                data_dirs: raw.api.data_dirs.iter().map(|p| resolve(p)).collect(),
                ..raw.api
            },
            plugins: raw.plugins,
        })
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Removes `.` and `..` components without touching the file system, so
/// reports show `/repo/plugins` rather than `/repo/config/../plugins`.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn bounded<'de, const MIN: u64, const MAX: u64, D, T>(d: D) -> Result<T, D::Error>
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

fn optional_bounded<'de, const MIN: u64, const MAX: u64, D>(d: D) -> Result<Option<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    bounded::<MIN, MAX, D, u64>(d).map(Some)
}

/// A model reference, `NAME[@ALIAS|:N]`, checked as the CLI checks one.
fn model_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<crate::domain::ModelRef>().map_err(de::Error::custom)?;
    Ok(Some(s))
}

fn token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let token = String::deserialize(d)?;
    if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
        return Err(de::Error::custom(
            "must be a non-empty token without spaces (e.g. `openssl rand -hex 32`); remove the key to serve without one",
        ));
    }
    Ok(Some(token))
}

fn redis_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(Some(url))
    } else {
        Err(de::Error::custom(format!("must start with redis:// or rediss://, got \"{url}\"")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &str) {
        let got = match Config::parse(Path::new("/etc/mlhost/mlhost.toml"), src) {
            Ok(c) => format!(
                "ok dirs={:?} registry={} workers={} isolation={:?}",
                c.plugin_dirs,
                c.registry.display(),
                c.eval.workers,
                c.eval.isolation
            ),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn defaults_and_relative_paths() {
        check(
            "",
            r#"ok dirs=["/etc/plugins"] registry=/etc/mlhost/models.toml workers=3 isolation=Thread"#,
        );
        check(
            "plugin_dirs = [\"p\", \"/abs\"]\n[eval]\nworkers = 1\nisolation = \"process\"\n",
            r#"ok dirs=["/etc/mlhost/p", "/abs"] registry=/etc/mlhost/models.toml workers=1 isolation=Process"#,
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        check(
            "\n[eval]\nworkers = 0\n",
            "/etc/mlhost/mlhost.toml:3: key `workers`: must be between 1 and 256, got 0",
        );
        check(
            "[eval]\nfolds = \"five\"\n",
            "/etc/mlhost/mlhost.toml:2: key `folds`: invalid type: string \"five\", expected i64",
        );
        check(
            "plugin_dir = []\n",
            "/etc/mlhost/mlhost.toml:1: key `plugin_dir`: unknown field `plugin_dir`, expected one of `plugin_dirs`, `registry`, `database`, `eval`, `events`, `api`, `plugins`, `artifacts`, `serving`, `retention`",
        );
        check(
            "[eval]\nisolation = \"vm\"\n",
            "/etc/mlhost/mlhost.toml:2: key `isolation`: unknown variant `vm`, expected `thread` or `process`",
        );
        check(
            "[events]\nredis_url = \"localhost\"\n",
            "/etc/mlhost/mlhost.toml:2: key `redis_url`: must start with redis:// or rediss://, got \"localhost\"",
        );
        check(
            "[api]\nbind = \"nowhere\"\n",
            "/etc/mlhost/mlhost.toml:2: key `bind`: invalid socket address syntax",
        );
        check(
            "[api]\ntoken = \"\"\n",
            "/etc/mlhost/mlhost.toml:2: key `token`: must be a non-empty token without spaces (e.g. `openssl rand -hex 32`); remove the key to serve without one",
        );
        check(
            "[serving]\nfallback = \"base line\"\n",
            "/etc/mlhost/mlhost.toml:2: key `fallback`: model 'base line' is not a valid name: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        );
        check(
            "workers = [",
            "/etc/mlhost/mlhost.toml:1: key `workers`: invalid array expected `]`",
        );
    }

    #[test]
    fn token_is_redacted_in_debug_output() {
        let c = Config::parse(Path::new("m.toml"), "[api]\ntoken = \"s3cret\"\n").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
