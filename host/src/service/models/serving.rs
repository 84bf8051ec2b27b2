//! Predictions for the serving API: a model reference resolved to a stored
//! version, the version taken from the loaded-model cache (loaded on first
//! use), the request's rows checked and encoded against its feature
//! columns, and its answer decoded into labels and probabilities by label.
//!
//! When the version cannot answer (its artifact is missing or corrupt, its
//! plugin is not loaded or refuses the bytes, or its call fails: a caught
//! panic, or with process isolation a crash or a timeout) and `[serving] fallback` names a model, that model
//! answers instead, marked `fallback`, and a WARN line says why. An
//! unknown model, alias or version and bad input are never answered by
//! the fallback: they are the caller's to fix.
//!
//! Everything here blocks (SQLite, the artifact file, the plugin): the API
//! calls it on tokio's blocking threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::cache::{Loaded, ModelCache};
use super::instance::Placement;
use super::{ModelError, find, lifecycle};
use crate::config::Config;
use crate::data::records::{self, Records};
use crate::domain::ModelRef;
use crate::engine::predictor::Predictions;
use crate::registry::Registry;
use crate::store::artifacts::Artifacts;
use crate::store::{Store, StoreError, VersionRow};

/// What a prediction request is answered with.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Served {
    /// The model that answered (the fallback's name when `fallback`).
    pub model: String,
    /// Its version number.
    pub version: i64,
    /// One per row: the label for classification, the value for regression.
    pub predictions: Vec<Prediction>,
    /// One per row, probability by label (classification, when the model
    /// gives them; else `null`).
    pub probabilities: Option<Vec<BTreeMap<String, f64>>>,
    /// Whether the fallback model answered because the requested one could not.
    pub fallback: bool,
}

/// One row's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Prediction {
    /// A class label (classification).
    Label(String),
    /// A value (regression).
    Value(f64),
}

/// The server's models: the cache, a store connection of its own (a slow
/// reader elsewhere never holds up a prediction) and the fallback.
#[derive(Debug)]
pub struct Serving {
    cache: ModelCache,
    store: Mutex<Store>,
    fallback: Option<ModelRef>,
}

impl Serving {
    /// Serving for `config`: `[serving] max_loaded` versions kept loaded,
    /// each with up to one instance per core, and `[serving] fallback`.
    /// A process-isolated instance runs `exe serve-worker` (this binary).
    pub fn open(config: &Config, exe: PathBuf) -> Result<Serving, StoreError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let fallback = config.serving.fallback.as_deref().and_then(|f| f.parse().ok());
        Ok(Serving {
            cache: ModelCache::new(
                Artifacts::new(&config.artifacts),
                config.serving.max_loaded as usize,
                cores.min(8),
                Placement::new(&config.serving, exe),
            ),
            store: Mutex::new(Store::open(&config.database)?),
            fallback,
        })
    }

    /// The versions of `name`, newest first.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionRow>, ModelError> {
        lifecycle::versions(&self.store(), name)
    }

    /// Loads started so far (one per version's first use).
    pub fn loads(&self) -> usize {
        self.cache.loads()
    }

    /// `(name, version, instances)` of every version loaded now.
    pub fn loaded(&self) -> Vec<(String, i64, usize)> {
        self.cache.loaded()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Predicts `records` with the version `r` names, loaded with
    /// `registry`'s plugins (or the fallback's answer, see the module).
    pub fn predict(
        &self,
        registry: &Arc<Registry>,
        r: &ModelRef,
        records: &Records,
    ) -> Result<Served, ModelError> {
        let row = find(&self.store(), r)?;
        match self.answer(registry, &row, records) {
            Err(ModelError::Unavailable(why)) => self.fall_back(registry, r, &row, why, records),
            other => other,
        }
    }

    /// The answer of version `row` itself.
    fn answer(
        &self,
        registry: &Arc<Registry>,
        row: &VersionRow,
        records: &Records,
    ) -> Result<Served, ModelError> {
        let loaded = self.cache.get(registry, row)?;
        let h = &loaded.header;
        let x = records::encode(&h.columns, records, h.imputes()).map_err(ModelError::BadInput)?;
        let model = loaded.checkout()?;
        match model.predict(&x, records.len(), true) {
            Ok(p) => Ok(decode(&loaded, row, p)),
            Err(e) => {
                model.discard();
                Err(ModelError::Unavailable(format!("{}:{}: {e}", row.name, row.version)))
            }
        }
    }

    /// The fallback's answer to a request `requested` (version `row`) could
    /// not answer because of `why`; without a fallback, or when it cannot
    /// answer either, the request is unavailable with every reason.
    fn fall_back(
        &self,
        registry: &Arc<Registry>,
        requested: &ModelRef,
        row: &VersionRow,
        why: String,
        records: &Records,
    ) -> Result<Served, ModelError> {
        let Some(fallback) = &self.fallback else { return Err(ModelError::Unavailable(why)) };
        let either = |e: ModelError| {
            ModelError::Unavailable(format!(
                "{why}; the fallback model {fallback} cannot answer either: {e}"
            ))
        };
        let fb = find(&self.store(), fallback).map_err(either)?;
        if (&fb.name, fb.version) == (&row.name, row.version) {
            return Err(ModelError::Unavailable(why));
        }
        let mut served = self.answer(registry, &fb, records).map_err(either)?;
        served.fallback = true;
        tracing::warn!(
            model = %requested,
            version = row.version,
            fallback = %format!("{}:{}", fb.name, fb.version),
            reason = %why,
            "answered by the fallback model"
        );
        Ok(served)
    }
}

/// Labels for class codes, probabilities keyed by label.
fn decode(loaded: &Loaded, row: &VersionRow, p: Predictions) -> Served {
    let labels = loaded.header.labels.as_deref();
    let predictions = p
        .values
        .iter()
        .map(|&v| match labels {
            Some(_) => Prediction::Label(label(labels, v)),
            None => Prediction::Value(v),
        })
        .collect();
    let probabilities = match (labels, p.proba) {
        (Some(names), Some(proba)) if !names.is_empty() => Some(
            proba
                .chunks(names.len())
                .map(|row| names.iter().cloned().zip(row.iter().copied()).collect())
                .collect(),
        ),
        _ => None,
    };
    Served {
        model: row.name.clone(),
        version: row.version,
        predictions,
        probabilities,
        fallback: false,
    }
}

fn label(labels: Option<&[String]>, code: f64) -> String {
    labels
        .and_then(|l| l.get(code as usize).filter(|_| code >= 0.0 && code.fract() == 0.0))
        .cloned()
        .unwrap_or_else(|| code.to_string())
}
