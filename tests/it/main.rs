//! Integration tests: one binary, real `.so` plugins, the real `mlhost`.

mod loader;
mod registry;
