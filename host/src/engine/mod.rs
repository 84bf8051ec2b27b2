//! Runs: a plan of jobs (one trial each: a candidate, one parameter set,
//! the protocol), executed on a bounded pool of threads or child
//! processes, with every outcome flowing back to the one thread that
//! writes the store.
//!
//! Depends on `domain`, `plugin`, `registry`, `data`, `metrics`, `store`.

pub mod eval;
pub mod job;
pub mod pool;
pub mod worker;
