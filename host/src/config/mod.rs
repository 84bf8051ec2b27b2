//! Host settings from `config/mlhost.toml`, parsed once into validated types.
//!
//! Owns the file format and its error messages (file, line, key). Relative
//! paths resolve against the config file's own folder, so the host behaves
//! the same from any working directory. Never reads the environment or
//! touches plugins. `sections.rs` holds the tables (`[eval]`, `[serving]`,
//! …) and their bounds.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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

mod sections;
#[cfg(test)]
mod tests;

pub use sections::{
    ApiConfig, EvalConfig, EventsConfig, PluginsConfig, RetentionConfig, ServingConfig,
};

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
