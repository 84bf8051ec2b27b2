//! Runs: a plan of trials (one job each: a candidate, one parameter set,
//! the protocol), executed on a bounded pool by an executor (threads or
//! child processes), with every outcome flowing back to the one thread that
//! writes the store.
//!
//! `plan` decides the trials, `executor` turns one into work, `pool` runs
//! the work, `job` is what a worker does fold by fold (the same in a thread
//! and in a `mlhost worker` process, whose side is `worker`), `writer`
//! records outcomes, and `run` ties them together; `budget` shares the
//! pool's threads among the running jobs. Beside runs: `train` fits a
//! model on a whole dataset, `predictor` loads a stored one to predict,
//! `serve_worker` runs a predictor in a child process for serving,
//! `importance` is permutation importance, `tune` runs studies.

mod budget;
pub(crate) mod child_process;
mod executor;
pub mod importance;
pub mod job;
mod plan;
pub mod pool;
pub mod predictor;
mod run;
pub mod serve_worker;
mod trading;
pub mod train;
pub mod tune;
pub mod worker;
mod writer;

pub use run::{EvalError, Progress, Quiet, RunContext, WorkerSetup, evaluate, folds, resume};
