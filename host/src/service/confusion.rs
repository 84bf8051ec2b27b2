//! `mlhost show RUN --confusion` and `GET /api/ml/evaluations/{id}/confusion`:
//! per-model diagnostics of a classification run, from the held-out
//! predictions stored with each job (pooled over folds, each row once at its
//! first prediction when a protocol repeats it), labelled with the
//! class labels of the run's dataset.

use serde::Serialize;

use super::run_data;
use crate::data::target::{Target, TaskHint};
use crate::domain::{FoldPredictions, JobId, JobStatus, RunId, RunSpec, once_per_row};
use crate::metrics::calibration::{self, Bin};
use crate::metrics::confusion::Confusion;
use crate::store::{RunRow, Store, StoreError};
use mlhost_plugin_api::Task;

/// The diagnostics of every succeeded job of a run.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfusionReport {
    /// Run id.
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// One entry per succeeded job.
    pub models: Vec<ModelConfusion>,
}

/// One job's confusion matrix, per-class numbers and calibration.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelConfusion {
    /// The job.
    #[schema(value_type = String)]
    pub job_id: JobId,
    /// Candidate id.
    pub model_id: String,
    /// The dataset's class labels, sorted as the run encoded them.
    pub labels: Vec<String>,
    /// `matrix[t][p]`: held-out rows of true label `t` predicted as `p`,
    /// pooled over folds.
    pub matrix: Vec<Vec<u64>>,
    /// Per label, as scikit-learn's `classification_report`.
    pub per_class: Vec<ClassLine>,
    /// Brier score when the model gave probabilities (binary: of the
    /// positive class; multiclass: mean over rows of the sum of squared
    /// differences to the one-hot truth).
    pub brier: Option<f64>,
    /// Non-empty reliability bins when the model gave probabilities.
    pub reliability: Option<Vec<Bin>>,
}

/// One label's precision, recall, F1 and support.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClassLine {
    /// The class label.
    pub label: String,
    /// tp / predicted (0 when never predicted).
    pub precision: f64,
    /// tp / true (0 when it never occurs).
    pub recall: f64,
    /// Harmonic mean of the two (0 when both are 0).
    pub f1: f64,
    /// Held-out rows of this label.
    pub support: u64,
}

/// Why there are no diagnostics; each a one-line message for the user but
/// `Store`.
#[derive(Debug, thiserror::Error)]
pub enum ConfusionError {
    /// Unknown run id.
    #[error("no run '{0}'")]
    UnknownRun(String),
    /// A regression run (or any the user cannot get a matrix for).
    #[error("{0}")]
    Unavailable(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The diagnostics of run `run_id` (an id or a unique prefix; a study's
/// id stands for its run).
pub fn confusion(store: &Store, run_id: &str) -> Result<ConfusionReport, ConfusionError> {
    let Some(run) = run_data::find(store, run_id)? else {
        return Err(ConfusionError::UnknownRun(run_id.to_owned()));
    };
    let spec = run_data::spec(&run).map_err(ConfusionError::Unavailable)?;
    if spec.task == Some(Task::Regression) {
        return Err(ConfusionError::Unavailable(format!(
            "no confusion matrix for regression: run {} predicts values, not classes",
            run.id
        )));
    }
    let mut jobs = Vec::new();
    for job in store.jobs(&run.id)?.into_iter().filter(|j| j.status == JobStatus::Succeeded) {
        let folds = store.predictions(&job.id)?;
        if folds.is_empty() {
            return Err(ConfusionError::Unavailable(format!(
                "run {} has no stored held-out predictions for {} (it was made before mlhost kept them); run it again with `mlhost eval`",
                run.id, job.model_id
            )));
        }
        // Repeated or shuffled splits hold a row out more than once.
        jobs.push((job, once_per_row(&folds)));
    }
    let labels = if jobs.is_empty() { Vec::new() } else { class_labels(&run, &spec)? };
    let pos_label = run_data::positive(&labels, spec.pos_label.as_deref());
    let models = jobs
        .into_iter()
        .map(|(job, folds)| model(job.id, job.model_id, &labels, pos_label, &folds))
        .collect::<Result<_, _>>()?;
    Ok(ConfusionReport { run_id: run.id, models })
}

/// The run's class labels, index = code: its dataset loaded again (key
/// columns read apart as the run read them) and checked against the run's
/// dataset id, so the labels are exactly the ones the run encoded.
fn class_labels(run: &RunRow, spec: &RunSpec) -> Result<Vec<String>, ConfusionError> {
    let unavailable = |why: String| {
        ConfusionError::Unavailable(format!(
            "cannot label run {}'s classes: {why}; restore the dataset or run it again with `mlhost eval`",
            run.id
        ))
    };
    let (data, _) =
        run_data::reload(run, spec, TaskHint::Force(Task::Classification)).map_err(unavailable)?;
    match data.target {
        Target::Classes { labels, .. } => Ok(labels),
        Target::Values(_) => Err(unavailable(format!("{} has no classes", spec.dataset))),
    }
}

/// One job's diagnostics from its folds' predictions.
fn model(
    job_id: JobId,
    model_id: String,
    labels: &[String],
    pos_label: u32,
    folds: &[FoldPredictions],
) -> Result<ModelConfusion, ConfusionError> {
    let k = labels.len();
    let bad = |why: String| {
        ConfusionError::Unavailable(format!("job {job_id} ({model_id}): stored predictions {why}"))
    };
    let code = |v: &f64| *v as u32;
    let y_true: Vec<u32> = folds.iter().flat_map(|f| f.y_true.iter().map(code)).collect();
    let y_pred: Vec<u32> = folds.iter().flat_map(|f| f.y_pred.iter().map(code)).collect();
    if let Some(f) = folds.iter().find(|f| f.n_classes as usize != k || !f.is_consistent()) {
        return Err(bad(format!("of fold {} do not fit the run's {k} classes", f.fold)));
    }
    let mut cm = Confusion::new(k);
    cm.add(&y_true, &y_pred).map_err(bad)?;
    let per_class = cm
        .per_class()
        .into_iter()
        .zip(labels)
        .map(|(s, label)| ClassLine {
            label: label.clone(),
            precision: s.precision,
            recall: s.recall,
            f1: s.f1,
            support: s.support,
        })
        .collect();
    let proba: Option<Vec<f64>> =
        folds.iter().map(|f| f.proba.as_deref()).collect::<Option<Vec<_>>>().map(|p| p.concat());
    let calibrated =
        proba.and_then(|p| match calibration::calibration(&y_true, &p, k, pos_label) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(%job_id, error = %e, "no calibration summary");
                None
            }
        });
    Ok(ModelConfusion {
        brier: calibrated.as_ref().map(|c| c.brier),
        reliability: calibrated.map(|c| c.reliability),
        matrix: cm.matrix,
        per_class,
        labels: labels.to_vec(),
        job_id,
        model_id,
    })
}
