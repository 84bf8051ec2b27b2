//! Permutation importance (`mlhost importance RUN --model ID`), after
//! scikit-learn's `permutation_importance`, on the run's own held-out
//! folds: per fold the candidate is fitted again on the training rows (the
//! fitted models die with their jobs), scored on the test rows, then
//! scored again with one feature's test values shuffled among the rows,
//! `repeats` times per feature (each shuffle seeded by the seed, fold,
//! feature and repeat). A feature's importance is the score lost, as a
//! mean and population standard deviation over folds × repeats; the
//! plugin's own `feature_importances()` is reported beside, averaged over
//! folds, when it has them for the raw features.

use std::time::Instant;

use mlhost_plugin_api::{Matrix, SeededRng, Task};
use serde::Serialize;

use super::run::{EvalError, Loaded, load};
use crate::data::dataset::{Dataset, TaskHint};
use crate::data::prep::Prep;
use crate::data::split::Fold;
use crate::domain::{Direction, JobStatus, RunSpec};
use crate::metrics::{self, ClassInput, RegInput};
use crate::plugin::loader::{Model, PlainHooks};
use crate::registry::{Registry, State};
use crate::store::Store;

/// What to measure.
#[derive(Debug, Clone)]
pub struct ImportanceRequest {
    /// Candidate id (or a job id, for a study's trial).
    pub model: String,
    /// Shuffles per feature and fold.
    pub repeats: usize,
    /// The score (default f1, r2 for regression).
    pub metric: Option<String>,
    /// Seeds the shuffles.
    pub seed: u64,
}

/// `mlhost importance --json`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportanceReport {
    /// The run.
    pub run_id: String,
    /// The candidate.
    pub model: String,
    /// The score whose loss is measured.
    pub metric: String,
    /// Shuffles per feature and fold.
    pub repeats: usize,
    /// Folds refitted.
    pub folds: usize,
    /// Every raw feature, in file order.
    pub features: Vec<FeatureImportance>,
}

/// One feature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureImportance {
    /// Column name.
    pub name: String,
    /// Mean score lost when it is shuffled.
    pub importance_mean: f64,
    /// Population standard deviation over folds × repeats.
    pub importance_std: f64,
    /// The plugin's own importance (mean over folds), when it gives one.
    pub plugin_importance: Option<f64>,
}

/// Measures the permutation importance of `req.model` in run `run_id`.
pub fn importance(
    registry: &Registry,
    store: &Store,
    run_id: &str,
    req: &ImportanceRequest,
) -> Result<ImportanceReport, EvalError> {
    let bad = |m: String| EvalError::BadInput(m);
    let Some(run) = store.run(run_id)? else {
        return Err(bad(format!("no run '{run_id}'; `mlhost runs` lists them")));
    };
    let spec: RunSpec = serde_json::from_str(&run.spec_json)
        .map_err(|e| bad(format!("run {} was stored by another mlhost version ({e})", run.id)))?;
    let task = spec.task.unwrap_or(Task::Classification);
    let context = format!("cannot measure importance in run {}: ", run.id);
    let loaded = load(&spec, TaskHint::Force(task), &context)?;
    if loaded.data.id != run.dataset_id.as_str() {
        return Err(bad(format!("{context}{} changed since the run", spec.dataset)));
    }
    let jobs: Vec<_> = store
        .jobs(&run.id)?
        .into_iter()
        .filter(|j| {
            j.status == JobStatus::Succeeded
                && (j.model_id == req.model || j.id.as_str() == req.model)
        })
        .collect();
    let job = match jobs.as_slice() {
        [one] => one,
        [] => {
            return Err(bad(format!(
                "{context}no succeeded job of '{}'; `mlhost show {}` lists them",
                req.model, run.id
            )));
        }
        _ => {
            return Err(bad(format!(
                "{context}'{}' has {} jobs (a study's trials); pass one job id",
                req.model,
                jobs.len()
            )));
        }
    };
    let Some(c) = registry.candidates.iter().find(|c| c.id == job.model_id) else {
        return Err(bad(format!("{context}model '{}' is no longer in the registry", job.model_id)));
    };
    let State::Ready { plugin, .. } = &c.state else {
        return Err(bad(format!(
            "{context}model '{}' is rejected: {}",
            c.id,
            c.reason().unwrap_or("")
        )));
    };
    if c.version.as_deref() != Some(job.model_version.as_str()) {
        return Err(bad(format!(
            "{context}plugin '{}' is another version than the run's {}",
            c.id, job.model_version
        )));
    }
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&job.params_json).map_err(|e| bad(format!("{context}{e}")))?;
    let given =
        crate::plugin::wire::params_from_json(&map).map_err(|e| bad(format!("{context}{e}")))?;
    let params = plugin
        .info
        .resolve(given.iter().map(|(k, v)| (k.as_str(), v)))
        .map_err(|e| bad(format!("{context}parameters invalid: {e}")))?;
    let metric = req
        .metric
        .clone()
        .unwrap_or_else(|| if task == Task::Regression { "r2" } else { "f1" }.to_owned());
    let known = metrics::names(task, loaded.data.n_classes());
    if !known.contains(&metric.as_str()) || metric.ends_with("_seconds") {
        return Err(bad(format!(
            "--metric {metric}: not a score of this run; choose one of {}",
            known.join(", ")
        )));
    }
    if req.repeats == 0 {
        return Err(bad("--repeats must be at least 1".into()));
    }
    let started = Instant::now();
    let measure = Measure {
        loaded: &loaded,
        c_prep: c.prep,
        metric: &metric,
        req,
        seed: spec.seed.unwrap_or(0),
    };
    let mut losses: Vec<Vec<f64>> = vec![Vec::new(); loaded.data.columns.len()];
    let mut own: Vec<Vec<f64>> = Vec::new();
    for (f, fold) in loaded.folds.iter().enumerate() {
        let model = plugin.new_model(&params).map_err(|e| EvalError::Host(e.to_string()))?;
        measure.fold(f, fold, model, &mut losses, &mut own)?;
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "importance measured");
    let features = loaded
        .data
        .columns
        .iter()
        .enumerate()
        .map(|(j, col)| {
            let (mean, std) = mean_std(&losses[j]);
            let plugin_importance = (own.len() == loaded.folds.len())
                .then(|| own.iter().map(|v| v[j]).sum::<f64>() / own.len() as f64);
            FeatureImportance {
                name: col.name.clone(),
                importance_mean: mean,
                importance_std: std,
                plugin_importance,
            }
        })
        .collect();
    Ok(ImportanceReport {
        run_id: run.id.to_string(),
        model: job.model_id.clone(),
        metric,
        repeats: req.repeats,
        folds: loaded.folds.len(),
        features,
    })
}

struct Measure<'a> {
    loaded: &'a Loaded,
    c_prep: crate::data::prep::PrepSpec,
    metric: &'a str,
    req: &'a ImportanceRequest,
    seed: u64,
}

impl Measure<'_> {
    /// Fits fold `f`, then records each feature's score loss per repeat
    /// and the plugin's own importances.
    fn fold(
        &self,
        f: usize,
        fold: &Fold,
        mut model: Model,
        losses: &mut [Vec<f64>],
        own: &mut Vec<Vec<f64>>,
    ) -> Result<(), EvalError> {
        let data: &Dataset = &self.loaded.data;
        let view = data.view();
        let host = |e: String| EvalError::Host(format!("fold {f}: {e}"));
        let prep = Prep::fit(self.c_prep, view.columns, view.x, &fold.train).map_err(host)?;
        let cols = view.cols;
        let raw = |idx: &[u32]| -> Vec<f64> {
            idx.iter()
                .flat_map(|&r| view.x[r as usize * cols..(r as usize + 1) * cols].iter().copied())
                .collect()
        };
        let all = |n: usize| (0..n as u32).collect::<Vec<u32>>();
        let prepared = |x: &[f64], n: usize| -> Result<Vec<f64>, EvalError> {
            match &prep {
                Some(p) => p.transform(x, &all(n)).map_err(host),
                None => Ok(x.to_vec()),
            }
        };
        let width = prep.as_ref().map_or(cols, |p| p.cols());
        let x_train = prepared(&raw(&fold.train), fold.train.len())?;
        let y_train: Vec<f64> = fold.train.iter().map(|&i| view.y[i as usize]).collect();
        let mut hooks = PlainHooks { seed: self.seed, n_classes: view.n_classes };
        let train =
            Matrix::new(&x_train, fold.train.len(), width).map_err(|e| host(e.to_string()))?;
        model.fit(train, &y_train, &mut hooks).map_err(|e| host(format!("fit: {e}")))?;
        let test_raw = raw(&fold.test);
        let n = fold.test.len();
        let y_test: Vec<f64> = fold.test.iter().map(|&i| view.y[i as usize]).collect();
        let base = self.score(&model, &prepared(&test_raw, n)?, n, width, &y_test, f)?;
        let sign = match Direction::of(self.metric) {
            Direction::Maximize => 1.0,
            Direction::Minimize => -1.0,
        };
        for (j, loss) in losses.iter_mut().enumerate() {
            for r in 0..self.req.repeats {
                let mut x = test_raw.clone();
                let mut column: Vec<f64> = (0..n).map(|i| x[i * cols + j]).collect();
                let s = self.req.seed ^ ((f as u64) << 40 | (j as u64) << 16 | r as u64);
                SeededRng::new(s).shuffle(&mut column);
                for (i, v) in column.into_iter().enumerate() {
                    x[i * cols + j] = v;
                }
                let permuted = self.score(&model, &prepared(&x, n)?, n, width, &y_test, f)?;
                loss.push(sign * (base - permuted));
            }
        }
        if let Ok(Some(v)) = model.feature_importances()
            && v.len() == cols
        {
            own.push(v);
        }
        Ok(())
    }

    fn score(
        &self,
        model: &Model,
        x: &[f64],
        n: usize,
        width: usize,
        y: &[f64],
        f: usize,
    ) -> Result<f64, EvalError> {
        let host = |e: String| EvalError::Host(format!("fold {f}: {e}"));
        let m = Matrix::new(x, n, width).map_err(|e| host(e.to_string()))?;
        let mut pred = vec![0.0; n];
        model.predict(m, &mut pred).map_err(|e| host(format!("predict: {e}")))?;
        let k = self.loaded.data.n_classes();
        let scores = if k > 0 {
            let mut proba = vec![0.0; n * k];
            let has = model
                .predict_proba(m, &mut proba)
                .map_err(|e| host(format!("predict_proba: {e}")))?;
            let codes = |v: &[f64]| v.iter().map(|&c| c as u32).collect::<Vec<u32>>();
            metrics::classification(ClassInput {
                y_true: &codes(y),
                y_pred: &codes(&pred),
                proba: has.then_some(&proba[..]),
                n_classes: k,
                pos_label: self.loaded.pos_label,
            })
        } else {
            metrics::regression(RegInput { y_true: y, y_pred: &pred })
        }
        .map_err(host)?;
        scores.get(self.metric).ok_or_else(|| {
            EvalError::BadInput(format!(
                "--metric {}: undefined for this model (no probabilities?)",
                self.metric
            ))
        })
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    (mean, var.sqrt())
}
