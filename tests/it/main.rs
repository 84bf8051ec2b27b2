//! Integration tests: one binary, real `.so` plugins, the real `mlhost`.

mod api;
mod eval;
mod events;
mod isolation;
mod loader;
mod quality;
mod registry;
mod training;
