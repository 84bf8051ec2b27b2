//! `mlhost compare` and `GET /evaluations/{id}/compare`: every succeeded
//! model of a stored run against a reference model, fold by fold, with the
//! statistics of [`crate::metrics::stats`].
//!
//! d = per-fold metric of the model minus the reference's. The t-test is
//! Nadeau & Bengio's corrected resampled one, with r = the mean over folds
//! of test rows / training rows (a fold trains on every row it does not
//! test). McNemar's test pools the held-out predictions of every fold,
//! matched row by row, each row once (at its first fold) when repeated or
//! shuffled splits hold it out again. The bootstrap interval of a model's metric resamples
//! the rows of its pooled held-out predictions (2,000 times, with
//! replacement, seeded with 0) and scores the metric on each resample.

use serde::Serialize;

use crate::domain::{Direction, FoldPredictions, JobStatus, once_per_row};
use crate::metrics::stats;
use pooled::{bootstraps, mcnemar_counts, pos_label_set};

mod labels;
mod pair;
mod pooled;
#[cfg(test)]
pub(crate) mod tests;
use crate::store::{Store, StoreError};
pub use pair::{JobRef, pair};

/// What to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRequest {
    /// The reference model (candidate id or job id); default the best.
    pub reference: Option<String>,
    /// The metric (default `f1`, `r2` for regression).
    pub metric: Option<String>,
    /// Significance level, 0 < alpha < 1.
    pub alpha: f64,
}

/// The answer of `compare --json`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompareReport {
    /// The run.
    pub run_id: String,
    /// The metric compared.
    pub metric: String,
    /// Whether larger (`maximize`) or smaller (`minimize`) is better.
    pub direction: String,
    /// The reference model.
    pub reference: String,
    /// The reference's mean metric over folds.
    pub reference_mean: f64,
    /// The reference's bootstrap interval of its metric.
    pub reference_bootstrap: Option<[f64; 2]>,
    /// Significance level.
    pub alpha: f64,
    /// `holm` when 2+ comparisons were corrected together, else `none`.
    pub correction: String,
    /// Folds per model.
    pub folds: usize,
    /// What the numbers mean and anything left out, one line each.
    pub notes: Vec<String>,
    /// One per model other than the reference.
    pub comparisons: Vec<ModelComparison>,
}

/// One model against the reference.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelComparison {
    /// Candidate id.
    pub model: String,
    /// Its job.
    pub job_id: String,
    /// Its mean metric over folds.
    pub mean: f64,
    /// mean(d).
    pub mean_diff: f64,
    /// Lower end of the `1 - alpha` interval of mean(d) (corrected t).
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Corrected t statistic (`null` when infinite: d constant, not zero).
    pub t_stat: Option<f64>,
    /// Two-sided p of the corrected t-test, uncorrected for multiplicity.
    pub p_value: f64,
    /// `pValue` after Holm's correction (equal to it for one comparison).
    pub p_value_adjusted: f64,
    /// Wilcoxon signed-rank p of d (`null` where SciPy gives NaN).
    pub wilcoxon_p: Option<f64>,
    /// McNemar's exact p on the pooled held-out predictions
    /// (classification only).
    pub mcnemar_p: Option<f64>,
    /// Rows only this model gets right, and only the reference.
    pub mcnemar_b: Option<u64>,
    /// Rows only the reference gets right.
    pub mcnemar_c: Option<u64>,
    /// `pValueAdjusted < alpha`.
    pub significant: bool,
    /// Better than the reference on average (in the metric's direction).
    pub better: bool,
    /// Bootstrap interval of this model's metric, lower end.
    pub bootstrap_low: Option<f64>,
    /// Upper end.
    pub bootstrap_high: Option<f64>,
}

/// Why a comparison cannot be made; all but `Store` are the caller's input.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Unknown run.
    #[error("no run '{0}'; `mlhost runs` lists them")]
    UnknownRun(String),
    /// Anything else wrong with the request or the run.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CompareError {
    /// The run does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CompareError::UnknownRun(_))
    }
    /// The caller's input is at fault (exit 2, HTTP 4xx).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, CompareError::Store(_))
    }
}

fn invalid(msg: String) -> CompareError {
    CompareError::Invalid(msg)
}

/// One succeeded model as stored.
struct Model {
    name: String,
    job_id: String,
    folds: Vec<f64>,
    mean: f64,
    predictions: Vec<FoldPredictions>,
}

/// Compares every succeeded model of run `run_id` with the reference.
pub fn compare(
    store: &Store,
    run_id: &str,
    req: &CompareRequest,
) -> Result<CompareReport, CompareError> {
    if !(req.alpha > 0.0 && req.alpha < 1.0) {
        return Err(invalid(format!("alpha {} is not between 0 and 1; use e.g. 0.05", req.alpha)));
    }
    let Some(run) = store.run(run_id)? else { return Err(CompareError::UnknownRun(run_id.into())) };
    let (metric, mut models) = load(store, run.id.as_str(), req.metric.as_deref())?;
    let direction = Direction::of(&metric);
    let r_index = reference(&models, req.reference.as_deref(), direction)?;
    let ratio = check_folds(&models, &models[r_index])?;
    // Pooled tests count a row held out by several repetitions once; every
    // model has the same folds (checked), so the rows stay matched.
    for m in &mut models {
        m.predictions = once_per_row(&m.predictions);
    }
    let reference = &models[r_index];
    let k = reference.folds.len();
    let pos_label_set = pos_label_set(&run.spec_json);
    let mut notes = Vec::new();
    let predictions: Vec<&[FoldPredictions]> =
        models.iter().map(|m| m.predictions.as_slice()).collect();
    let boots = bootstraps(&predictions, &metric, req.alpha, pos_label_set);
    let mut comparisons: Vec<ModelComparison> = models
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != r_index)
        .map(|(i, m)| one(m, reference, ratio, req.alpha, direction, boots[i]))
        .collect();
    let holm = comparisons.len() >= 2;
    let adjusted = stats::holm(&comparisons.iter().map(|c| c.p_value).collect::<Vec<_>>());
    for (c, p) in comparisons.iter_mut().zip(adjusted) {
        c.p_value_adjusted = if holm { p } else { c.p_value };
        c.significant = c.p_value_adjusted < req.alpha;
    }
    notes.push(format!(
        "corrected resampled t-test (Nadeau & Bengio) over {k} folds, r = {ratio:.4}; interval {:.0}% of the mean difference",
        100.0 * (1.0 - req.alpha)
    ));
    if holm {
        notes.push(format!(
            "Holm's correction applied across {} comparisons: significant means adjusted p < {}",
            comparisons.len(),
            req.alpha
        ));
    }
    notes.push(format!(
        "bootstrap: {} resamples of each model's pooled held-out rows (seed 0), percentile interval",
        stats::BOOTSTRAP_RESAMPLES
    ));
    if pos_label_set {
        notes.push(
            "the run set --pos-label: bootstrap intervals of classification metrics are left out"
                .into(),
        );
    }
    Ok(CompareReport {
        run_id: run.id.to_string(),
        direction: direction.as_str().into(),
        reference: reference.name.clone(),
        reference_mean: reference.mean,
        reference_bootstrap: boots[r_index].map(|(l, h)| [l, h]),
        alpha: req.alpha,
        correction: if holm { "holm" } else { "none" }.into(),
        folds: k,
        notes,
        comparisons,
        metric,
    })
}

/// The metric to compare and every succeeded model's folds of it.
fn load(
    store: &Store,
    run_id: &str,
    wanted: Option<&str>,
) -> Result<(String, Vec<Model>), CompareError> {
    let results = store.results(run_id)?;
    let jobs: Vec<_> =
        store.jobs(run_id)?.into_iter().filter(|j| j.status == JobStatus::Succeeded).collect();
    if jobs.len() < 2 {
        return Err(invalid(format!(
            "run '{run_id}' has {} succeeded model(s); compare needs at least 2 (evaluate more with `mlhost eval --models A,B`)",
            jobs.len()
        )));
    }
    let fold_sets = |job: &str| {
        let mut rows: Vec<_> =
            results.iter().filter(|r| r.job_id.as_str() == job && r.fold >= 0).collect();
        rows.sort_by_key(|r| r.fold);
        rows
    };
    let first = fold_sets(jobs[0].id.as_str());
    let known: Vec<String> = first
        .first()
        .map(|r| r.metrics.iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default();
    let metric = match wanted {
        Some(m) => m.to_owned(),
        None if known.iter().any(|m| m == "f1") => "f1".into(),
        None => "r2".into(),
    };
    if !known.contains(&metric) {
        return Err(invalid(format!(
            "run '{run_id}' has no metric '{metric}'; it has {}",
            known.join(", ")
        )));
    }
    let mut models = Vec::new();
    for job in jobs {
        let mut folds = Vec::new();
        for row in fold_sets(job.id.as_str()) {
            let Some(v) = row.metrics.get(&metric) else {
                return Err(invalid(format!(
                    "{metric} is undefined on fold {} of model '{}'; compare on another --metric",
                    row.fold, job.model_id
                )));
            };
            folds.push(v);
        }
        let mean = folds.iter().sum::<f64>() / folds.len().max(1) as f64;
        let predictions = store.predictions(job.id.as_str())?;
        models.push(Model {
            name: job.model_id,
            job_id: job.id.to_string(),
            folds,
            mean,
            predictions,
        });
    }
    Ok((metric, models))
}

/// The index of the reference: the one named, or the best mean.
fn reference(models: &[Model], named: Option<&str>, dir: Direction) -> Result<usize, CompareError> {
    if let Some(name) = named {
        let hits: Vec<usize> = (0..models.len())
            .filter(|&i| models[i].name == name || models[i].job_id == name)
            .collect();
        return match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(invalid(format!(
                "no succeeded model '{name}' in this run; --reference takes one of {}",
                models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            ))),
            _ => Err(invalid(format!(
                "'{name}' names {} jobs of this run; give --reference a job id (`mlhost show RUN --json`)",
                hits.len()
            ))),
        };
    }
    let better = |a: f64, b: f64| if dir == Direction::Maximize { a > b } else { a < b };
    let mut best = 0;
    for (i, m) in models.iter().enumerate() {
        if better(m.mean, models[best].mean) {
            best = i;
        }
    }
    Ok(best)
}

/// Checks every model was tested on the reference's folds, row for row;
/// returns r, the mean over folds of test rows / training rows.
fn check_folds(models: &[Model], reference: &Model) -> Result<f64, CompareError> {
    let k = reference.folds.len();
    if k < 2 {
        return Err(invalid(format!(
            "model '{}' has {k} fold(s); the t-test needs at least 2 (evaluate with --folds K, not --holdout)",
            reference.name
        )));
    }
    if reference.predictions.len() != k {
        return Err(invalid(format!(
            "model '{}' has no stored held-out predictions for every fold (a run from before they were stored); run it again with `mlhost eval`",
            reference.name
        )));
    }
    for m in models {
        let same = m.folds.len() == k
            && m.predictions.len() == k
            && m.predictions
                .iter()
                .zip(&reference.predictions)
                .all(|(a, b)| a.fold == b.fold && a.rows == b.rows);
        if !same {
            return Err(invalid(format!(
                "models '{}' and '{}' were tested on different folds; compare needs one protocol for every model (run them in one `mlhost eval`)",
                m.name, reference.name
            )));
        }
    }
    let mut all: Vec<u32> =
        reference.predictions.iter().flat_map(|p| p.rows.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    let n = all.len() as f64;
    let ratios = reference.predictions.iter().map(|p| {
        let test = p.rows.len() as f64;
        test / (n - test)
    });
    Ok(ratios.sum::<f64>() / k as f64)
}

fn one(
    m: &Model,
    reference: &Model,
    ratio: f64,
    alpha: f64,
    dir: Direction,
    boot: Option<(f64, f64)>,
) -> ModelComparison {
    let d: Vec<f64> = m.folds.iter().zip(&reference.folds).map(|(a, b)| a - b).collect();
    let t = stats::corrected_t_test(&d, ratio, alpha);
    let wilcoxon = stats::wilcoxon(&d);
    let counts = mcnemar_counts(&m.predictions, &reference.predictions);
    ModelComparison {
        model: m.name.clone(),
        job_id: m.job_id.clone(),
        mean: m.mean,
        mean_diff: t.mean,
        ci_low: t.ci_low,
        ci_high: t.ci_high,
        t_stat: t.t.is_finite().then_some(t.t),
        p_value: t.p,
        p_value_adjusted: t.p,
        wilcoxon_p: wilcoxon.is_finite().then_some(wilcoxon),
        mcnemar_p: counts.map(|(b, c)| stats::mcnemar_exact(b, c)),
        mcnemar_b: counts.map(|(b, _)| b),
        mcnemar_c: counts.map(|(_, c)| c),
        significant: false,
        better: if dir == Direction::Maximize { t.mean > 0.0 } else { t.mean < 0.0 },
        bootstrap_low: boot.map(|b| b.0),
        bootstrap_high: boot.map(|b| b.1),
    }
}
