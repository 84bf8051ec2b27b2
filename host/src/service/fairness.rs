//! `mlhost eval|show --fairness-col COL` and `GET
//! /api/ml/evaluations/{id}/fairness?column=COL`: the bias check of a
//! binary classification run. Each succeeded model's held-out predictions
//! (pooled over folds) are grouped by the cells of column COL of the run's
//! dataset, matched by row number, and [`crate::metrics::fairness`] gives
//! each group's rates and the differences between groups.

use serde::Serialize;

use super::run_data;
use crate::data::dataset::{ColumnKind, Dataset};
use crate::data::target::{Target, TaskHint};
use crate::domain::{FoldPredictions, JobId, JobStatus, RunId, RunSpec};
use crate::metrics::fairness;
use crate::store::{RunRow, Store, StoreError};
use mlhost_plugin_api::Task;

/// The bias check of every succeeded job of a run.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FairnessReport {
    /// Run id.
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// The column whose cells are the groups.
    pub column: String,
    /// The class counted as selected (the run's positive class).
    pub positive_label: String,
    /// One entry per succeeded job.
    pub models: Vec<ModelFairness>,
}

/// One job's rates per group and the differences between groups.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelFairness {
    /// Candidate id.
    pub model_id: String,
    /// The job.
    #[schema(value_type = String)]
    pub job_id: JobId,
    /// Every group with held-out rows, sorted by its cell text.
    pub groups: Vec<GroupLine>,
    /// Max − min selection rate over the groups (fairlearn's
    /// `demographic_parity_difference`); `null` without rows.
    pub demographic_parity_difference: Option<f64>,
    /// The greater of the TPR and FPR differences (fairlearn's
    /// `equalized_odds_difference`), each over the groups where the rate is
    /// defined; `null` when neither is anywhere.
    pub equalized_odds_difference: Option<f64>,
    /// Groups left out of a rate's difference, and why.
    pub warnings: Vec<String>,
}

/// One group's rates.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupLine {
    /// The cell text of the group.
    pub group: String,
    /// Held-out rows of the group, pooled over folds.
    pub rows: u64,
    /// Share of its rows predicted positive.
    pub selection_rate: f64,
    /// Share of its positive rows predicted positive; `null` without
    /// positive rows.
    pub tpr: Option<f64>,
    /// Share of its negative rows predicted positive; `null` without
    /// negative rows.
    pub fpr: Option<f64>,
}

/// Why there is no bias check; each a one-line message for the user but
/// `Store`.
#[derive(Debug, thiserror::Error)]
pub enum FairnessError {
    /// Unknown run id.
    #[error("no run '{0}'")]
    UnknownRun(String),
    /// The column is not one of the dataset's, or is its label.
    #[error("{0}")]
    BadColumn(String),
    /// Not a binary classification run, no stored predictions, or a
    /// dataset that is not the run's any more.
    #[error("{0}")]
    Unavailable(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bias check of run `run_id` (an id or a unique prefix; a study's id
/// stands for its run) by the cells of `column`.
pub fn fairness(
    store: &Store,
    run_id: &str,
    column: &str,
) -> Result<FairnessReport, FairnessError> {
    let Some(run) = run_data::find(store, run_id)? else {
        return Err(FairnessError::UnknownRun(run_id.to_owned()));
    };
    let spec = run_data::spec(&run).map_err(FairnessError::Unavailable)?;
    if spec.task == Some(Task::Regression) {
        return Err(FairnessError::Unavailable(format!(
            "no bias check for regression: run {} predicts values, not classes",
            run.id
        )));
    }
    let jobs = predictions(store, &run)?;
    let (data, cells) = run_data::reload(&run, &spec, TaskHint::Force(Task::Classification))
        .map_err(|why| {
            FairnessError::Unavailable(format!(
                "cannot read run {}'s dataset again: {why}; restore it or run it again with `mlhost eval`",
                run.id
            ))
        })?;
    let labels = binary_labels(&run, &data)?;
    let pos = run_data::positive(labels, spec.pos_label.as_deref());
    let (names, codes) = group_codes(column_cells(&data, &spec, cells, column)?);
    let models = jobs
        .into_iter()
        .map(|(job_id, model_id, folds)| model(job_id, model_id, pos, &codes, &names, &folds))
        .collect::<Result<_, _>>()?;
    Ok(FairnessReport {
        run_id: run.id,
        column: column.to_owned(),
        positive_label: labels[pos as usize].clone(),
        models,
    })
}

/// The bias check a run asked for with `eval --fairness-col` (its stored
/// `fairnessCol`); `None` when it asked for none.
pub fn requested(store: &Store, run_id: &str) -> Result<Option<FairnessReport>, FairnessError> {
    let Some(run) = run_data::find(store, run_id)? else {
        return Err(FairnessError::UnknownRun(run_id.to_owned()));
    };
    let spec: RunSpec = run_data::spec(&run).map_err(FairnessError::Unavailable)?;
    spec.fairness_col.map(|col| fairness(store, &run.id, &col)).transpose()
}

/// Each succeeded job with its stored folds; a run with a class count
/// other than two is refused here, before its dataset is read.
fn predictions(
    store: &Store,
    run: &RunRow,
) -> Result<Vec<(JobId, String, Vec<FoldPredictions>)>, FairnessError> {
    let mut jobs = Vec::new();
    for job in store.jobs(&run.id)?.into_iter().filter(|j| j.status == JobStatus::Succeeded) {
        let folds = store.predictions(&job.id)?;
        if folds.is_empty() {
            return Err(FairnessError::Unavailable(format!(
                "run {} has no stored held-out predictions for {} (it was made before mlhost kept them); run it again with `mlhost eval`",
                run.id, job.model_id
            )));
        }
        if let Some(f) = folds.iter().find(|f| f.n_classes != 2) {
            return Err(not_binary(run, f.n_classes as usize));
        }
        jobs.push((job.id, job.model_id, folds));
    }
    Ok(jobs)
}

fn not_binary(run: &RunRow, k: usize) -> FairnessError {
    FairnessError::Unavailable(format!(
        "no bias check for run {}: it has {k} classes, and selection rate, TPR and FPR need a positive class of two",
        run.id
    ))
}

/// The run's two class labels, index = code.
fn binary_labels<'a>(run: &RunRow, data: &'a Dataset) -> Result<&'a [String], FairnessError> {
    match &data.target {
        Target::Classes { labels, .. } if labels.len() == 2 => Ok(labels),
        Target::Classes { labels, .. } => Err(not_binary(run, labels.len())),
        Target::Values(_) => Err(not_binary(run, 0)),
    }
}

/// The cells of `column` in row order: a key column the run read apart
/// (its `--fairness-col`, `--group-col` or `--time-col`), or one of its
/// features (categories by name, numbers as written back).
fn column_cells(
    data: &Dataset,
    spec: &RunSpec,
    keys: Vec<Vec<String>>,
    column: &str,
) -> Result<Vec<String>, FairnessError> {
    let names = spec.key_columns();
    if let Some(i) = names.iter().position(|k| *k == column) {
        return Ok(keys.into_iter().nth(i).unwrap_or_default());
    }
    if column == data.label {
        return Err(FairnessError::BadColumn(format!(
            "{}: '{column}' is the label; choose another column",
            data.source
        )));
    }
    let Some(j) = data.columns.iter().position(|c| c.name == column) else {
        let all: Vec<&str> = data
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .chain(names.iter().copied())
            .chain([data.label.as_str()])
            .collect();
        return Err(FairnessError::BadColumn(format!(
            "{}: no column '{column}'; the columns are {}",
            data.source,
            all.join(", ")
        )));
    };
    let cell = |v: f64| match &data.columns[j].kind {
        _ if v.is_nan() => String::new(),
        ColumnKind::Categorical(categories) => categories[v as usize].clone(),
        ColumnKind::Numeric => v.to_string(),
    };
    Ok(data.x.chunks_exact(data.cols()).map(|row| cell(row[j])).collect())
}

/// The distinct cells sorted (the group names) and each row's index into
/// them.
fn group_codes(cells: Vec<String>) -> (Vec<String>, Vec<u32>) {
    let mut names = cells.clone();
    names.sort_unstable();
    names.dedup();
    let codes = cells.iter().map(|c| names.binary_search(c).expect("a cell") as u32).collect();
    (names, codes)
}

/// One job's bias check from its folds' predictions.
fn model(
    job_id: JobId,
    model_id: String,
    pos: u32,
    codes: &[u32],
    names: &[String],
    folds: &[FoldPredictions],
) -> Result<ModelFairness, FairnessError> {
    let bad = |why: String| {
        FairnessError::Unavailable(format!("job {job_id} ({model_id}): stored predictions {why}"))
    };
    if let Some(f) = folds.iter().find(|f| !f.is_consistent()) {
        return Err(bad(format!("of fold {} do not fit together", f.fold)));
    }
    let code = |v: &f64| *v as u32;
    let y_true: Vec<u32> = folds.iter().flat_map(|f| f.y_true.iter().map(code)).collect();
    let y_pred: Vec<u32> = folds.iter().flat_map(|f| f.y_pred.iter().map(code)).collect();
    let groups = folds
        .iter()
        .flat_map(|f| &f.rows)
        .map(|&r| codes.get(r as usize).copied())
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| bad(format!("name a row past the dataset's {}", codes.len())))?;
    let f = fairness::fairness(&y_true, &y_pred, pos, &groups, names).map_err(bad)?;
    Ok(ModelFairness {
        groups: f
            .groups
            .iter()
            .map(|g| GroupLine {
                group: names[g.group as usize].clone(),
                rows: g.rows,
                selection_rate: g.selection_rate,
                tpr: g.tpr,
                fpr: g.fpr,
            })
            .collect(),
        demographic_parity_difference: f.demographic_parity_difference,
        equalized_odds_difference: f.equalized_odds_difference,
        warnings: f.warnings,
        model_id,
        job_id,
    })
}
