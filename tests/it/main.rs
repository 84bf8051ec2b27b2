//! Integration tests: one binary, real `.so` plugins, the real `mlhost`.

mod api;
mod compare;
mod confusion;
mod drift;
mod eval;
mod events;
mod fairness;
mod folds;
mod gates;
mod hostile_api;
mod hostile_db;
mod importance;
mod isolation;
mod loader;
mod loadtime;
mod logging;
mod mixed;
mod persistence;
mod plugin_new;
mod predict;
mod quality;
mod registry;
mod trading;
mod training;
mod tune;
