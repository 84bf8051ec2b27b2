//! The use cases the CLI and the HTTP API share: start or resume a run,
//! read runs back, relay the outbox.
//!
//! Depends on everything below it; nothing below depends on it.

pub mod automl;
pub mod compare;
pub mod confusion;
pub mod drift;
pub mod fairness;
pub mod gates;
pub mod gc;
pub mod models;
pub mod relay;
mod run_data;
pub mod runs;
pub mod tuning;
