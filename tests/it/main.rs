//! Integration tests: one binary, real `.so` plugins, the real `mlhost`.

mod eval;
mod loader;
mod quality;
mod registry;
