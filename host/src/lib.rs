//! mlhost: a host for machine-learning models compiled as plugins.
//!
//! Plugins are `cdylib` crates built against `mlhost-plugin-api`. The host
//! finds them in the configured plugin folders, loads each through a
//! stable-ABI vtable, rejects broken ones with a reason, and reports the rest.
//!
//! ```no_run
//! use mlhost::registry::Loading;
//! use mlhost::{Config, Registry};
//!
//! let config = Config::load("config/mlhost.toml".as_ref())?;
//! // Each new plugin file is probed by `mlhost probe` in a child first.
//! let mut loading = Loading::probing(&config, "target/release/mlhost".into(), None);
//! let registry = Registry::discover_with(&config, &mut loading)?;
//! for c in &registry.candidates {
//!     println!("{} {}", c.id, c.reason().unwrap_or("ready"));
//! }
//! # Ok::<(), mlhost::ConfigError>(())
//! ```

pub mod api;
pub mod cli;
pub mod config;
pub mod data;
pub mod domain;
pub mod engine;
#[cfg(test)]
mod layers;
pub mod metrics;
pub mod plugin;
pub mod registry;
pub mod search;
pub mod service;
pub mod store;

pub use config::{Config, ConfigError};
pub use registry::{Candidate, Registry, State};
