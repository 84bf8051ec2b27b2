//! Integration tests: one binary, real `.so` plugins, the real `mlhost`.

mod eval;
mod isolation;
mod loader;
mod quality;
mod registry;
