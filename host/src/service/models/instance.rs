//! One model instance for serving, in the server's process or in a child
//! process of its own (`[serving] isolation`), and how one is built from a
//! version's checked artifact.

use std::path::PathBuf;
use std::time::Duration;

use super::{ModelError, not_loaded, open};
use crate::config::ServingConfig;
use crate::domain::Isolation;
use crate::engine::predictor::{Predictions, Predictor, ready_plugin};
use crate::engine::serve_worker::{ChildPredictor, WorkerLimits};
use crate::engine::train::ModelHeader;
use crate::registry::Registry;
use crate::store::VersionRow;

/// Where instances run.
#[derive(Debug, Clone)]
pub(crate) enum Placement {
    /// In the server's process: a panic is caught, a crash is the server's.
    InProcess,
    /// Each in a child `exe serve-worker`, within `limits` (a call past
    /// its deadline gets the child killed).
    Child { exe: PathBuf, limits: WorkerLimits },
}

impl Placement {
    /// As `[serving]` says, children started from `exe` (this binary).
    pub(crate) fn new(serving: &ServingConfig, exe: PathBuf) -> Placement {
        match serving.isolation {
            Isolation::Thread => Placement::InProcess,
            Isolation::Process => Placement::Child {
                exe,
                limits: WorkerLimits {
                    timeout: Duration::from_secs(serving.timeout_secs),
                    max_memory_mb: serving.max_memory_mb,
                },
            },
        }
    }
}

/// A loaded model that predicts one call at a time.
#[derive(Debug)]
pub(crate) enum Instance {
    Local(Predictor),
    Child(ChildPredictor),
}

impl Instance {
    /// Version `v` from its artifact's `header` and `bytes`, placed as
    /// `placement` says, on `registry`'s plugin.
    pub(crate) fn build(
        placement: &Placement,
        registry: &Registry,
        v: &VersionRow,
        header: &ModelHeader,
        bytes: &[u8],
    ) -> Result<Instance, ModelError> {
        match placement {
            Placement::InProcess => open(registry, v, header.clone(), bytes).map(Instance::Local),
            Placement::Child { exe, limits } => {
                let Some(plugin) = ready_plugin(registry, &header.plugin) else {
                    return Err(not_loaded(v, header));
                };
                ChildPredictor::spawn(exe, (&plugin.image, &plugin.sha256), header, bytes, limits)
                    .map(Instance::Child)
                    .map_err(|e| ModelError::Unavailable(format!("{}:{}: {e}", v.name, v.version)))
            }
        }
    }

    /// Predictions for `rows` encoded rows of `x`, as
    /// [`Predictor::predict`] gives them.
    pub(crate) fn predict(
        &self,
        x: &[f64],
        rows: usize,
        proba: bool,
    ) -> Result<Predictions, String> {
        match self {
            Instance::Local(p) => p.predict(x, rows, proba),
            Instance::Child(c) => c.predict(x, rows, proba),
        }
    }
}
