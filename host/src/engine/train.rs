//! Training for keeps (`mlhost train`): one candidate fitted on every row
//! of a dataset, its preparation fitted on the same rows, and everything a
//! later prediction needs (the feature columns, the label encoding, the
//! fitted preparation, the plugin's saved bytes) handed back as one piece.
//! Runs in this process, as `eval`'s thread isolation: a plugin's panic is
//! an error, never a crash.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use mlhost_plugin_api::{ParamValue, Params};
use serde::{Deserialize, Serialize};

use super::job::score;
use super::run::EvalError;
use crate::data::dataset::{self, Column, Dataset, Source, TaskHint};
use crate::data::prep::{Prep, PrepSpec};
use crate::data::target::Target;
use crate::domain::{MetricSet, RunSpec};
use crate::plugin::loader::{Model, PlainHooks, Plugin};
use crate::registry::{Candidate, Registry, State};

/// What a trained model carries besides the plugin's bytes: how to turn
/// raw input rows into the rows it was trained on, and its outputs back
/// into labels. Stored as the artifact's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelHeader {
    /// The header's format (1).
    pub format: u32,
    /// `classification` or `regression`.
    pub task: String,
    /// The feature columns, in order, with their categories.
    pub columns: Vec<Column>,
    /// Class labels, index = the code the model predicts.
    pub labels: Option<Vec<String>>,
    /// The label column's name.
    pub label: String,
    /// The fitted preparation (`None`: rows go to the model as they are).
    pub prep: Option<Prep>,
    /// The plugin that saved the bytes.
    pub plugin: String,
    /// Its version.
    pub plugin_version: String,
    /// The parameters it was built with.
    pub params: BTreeMap<String, serde_json::Value>,
}

impl ModelHeader {
    /// Whether a missing cell in a row to predict is imputed as in training
    /// (else the model cannot take one).
    pub fn imputes(&self) -> bool {
        self.prep.as_ref().is_some_and(Prep::imputes)
    }
}

/// A model fitted on a whole dataset.
#[derive(Debug)]
pub struct Trained {
    /// Everything but the plugin's bytes.
    pub header: ModelHeader,
    /// What the plugin's `save()` returned.
    pub bytes: Vec<u8>,
    /// The candidate.
    pub candidate: String,
    /// The candidate's data preparation, as configured.
    pub prep: PrepSpec,
    /// The loaded plugin.
    pub plugin: Arc<Plugin>,
    /// The training data's id.
    pub dataset_id: String,
    /// Rows trained on.
    pub rows: usize,
    /// Scores on the training rows (`train_*`) and `fit_seconds`.
    pub metrics: MetricSet,
}

/// Fits candidate `model` of `registry` on every row of `spec`'s dataset
/// with its configured parameters, then `overrides` on top (each checked
/// against the plugin's schema).
pub fn train(
    registry: &Registry,
    spec: &RunSpec,
    model: &str,
    overrides: &[(String, ParamValue)],
) -> Result<Trained, EvalError> {
    let bad = EvalError::BadInput;
    let c = candidate(registry, model)?;
    let State::Ready { plugin, params } = &c.state else { unreachable!("checked ready") };
    let hint = spec.task.map_or(TaskHint::Infer, TaskHint::Force);
    let source = Source::parse(&spec.dataset);
    let (data, _) = dataset::load_keyed(&source, spec.label.as_deref(), hint, &spec.key_columns())
        .map_err(|e| bad(e.to_string()))?;
    let task = data.task();
    if !c.tasks.contains(&task) {
        return Err(bad(format!(
            "model '{}' cannot do {task}, which {} is; choose another model or dataset",
            c.id, spec.dataset
        )));
    }
    let params = merged(plugin, params, overrides)?;
    let all: Vec<u32> = (0..data.rows as u32).collect();
    let preparing = |e| bad(format!("{}: preparing the data: {e}", spec.dataset));
    let prep = Prep::fit(c.prep, &data.columns, &data.x, &all).map_err(preparing)?;
    // What new rows go through: the same, with the imputer kept even when
    // the training rows had no gap to fill.
    let kept = match &prep {
        Some(p) => Some(p.clone()),
        None => Prep::fit_kept(c.prep, &data.columns, &data.x, &all).map_err(preparing)?,
    };
    let failed = |what: &str, e: mlhost_plugin_api::Error| {
        EvalError::BadInput(format!("model '{}': {what} failed: {}", c.id, e.message()))
    };
    let mut fitted = plugin.new_model(&params).map_err(|e| failed("the constructor", e))?;
    let owned;
    let x: &[f64] = match &prep {
        Some(p) => {
            owned = p.transform(&data.x, &all).map_err(bad)?;
            &owned
        }
        None => &data.x,
    };
    let cols = prep.as_ref().map_or(data.cols(), Prep::cols);
    let matrix = mlhost_plugin_api::Matrix::new(x, data.rows, cols)
        .map_err(|e| bad(e.message().to_owned()))?;
    let t0 = Instant::now();
    let mut hooks = PlainHooks { seed: spec.seed.unwrap_or(0), n_classes: data.n_classes() };
    fitted.fit(matrix, data.y(), &mut hooks).map_err(|e| failed("fit", e))?;
    let mut metrics = train_scores(&fitted, matrix, &data).map_err(|e| failed("predict", e))?;
    metrics.insert("fit_seconds", Some(t0.elapsed().as_secs_f64()));
    let bytes = fitted.save().map_err(|e| failed("save", e))?;
    let header = header(&data, kept, plugin, &params);
    Ok(Trained {
        header,
        bytes,
        candidate: c.id.clone(),
        prep: c.prep,
        plugin: plugin.clone(),
        dataset_id: data.id.clone(),
        rows: data.rows,
        metrics,
    })
}

/// The header of a model fitted on `data` with `prep` for new rows.
fn header(data: &Dataset, prep: Option<Prep>, plugin: &Plugin, params: &Params) -> ModelHeader {
    ModelHeader {
        format: 1,
        task: data.task().as_str().to_owned(),
        columns: data.columns.clone(),
        labels: match &data.target {
            Target::Classes { labels, .. } => Some(labels.clone()),
            Target::Values(_) => None,
        },
        label: data.label.clone(),
        prep,
        plugin: plugin.info.name.clone(),
        plugin_version: plugin.info.version.clone(),
        params: crate::plugin::wire::params_json(params),
    }
}

fn candidate<'r>(registry: &'r Registry, model: &str) -> Result<&'r Candidate, EvalError> {
    let Some(c) = registry.candidates.iter().find(|c| c.id == model) else {
        let known: Vec<&str> = registry.ready().map(|c| c.id.as_str()).collect();
        return Err(EvalError::BadInput(format!(
            "unknown model '{model}'; the ready candidates are {}",
            known.join(", ")
        )));
    };
    match &c.state {
        State::Ready { .. } => Ok(c),
        State::Rejected { reason } => {
            Err(EvalError::BadInput(format!("model '{model}' is rejected: {reason}")))
        }
    }
}

/// The candidate's params with `overrides` on top, checked by the plugin's
/// schema.
fn merged(
    plugin: &Plugin,
    base: &Params,
    overrides: &[(String, ParamValue)],
) -> Result<Params, EvalError> {
    let mut values: BTreeMap<&str, &ParamValue> = base.iter().collect();
    for (k, v) in overrides {
        values.insert(k, v);
    }
    plugin
        .info
        .resolve(values)
        .map_err(|e| EvalError::BadInput(format!("--param: {}", e.message())))
}

/// `train_<metric>` on the rows it was fitted on.
fn train_scores(
    model: &Model,
    x: mlhost_plugin_api::Matrix<'_>,
    data: &Dataset,
) -> Result<MetricSet, mlhost_plugin_api::Error> {
    let k = data.n_classes();
    let mut pred = vec![0.0; data.rows];
    model.predict(x, &mut pred)?;
    let mut proba = vec![0.0; data.rows * k];
    let has_proba = k > 0 && model.predict_proba(x, &mut proba)?;
    let pos_label = (k.max(1) - 1) as u32;
    let mut m = MetricSet::default();
    if let Ok(s) = score(data.y(), &pred, has_proba.then_some(&proba[..]), k, pos_label) {
        for (name, v) in s.values {
            m.insert(format!("train_{name}"), v);
        }
    }
    Ok(m)
}
