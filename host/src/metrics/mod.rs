//! Scoring predictions: every metric follows scikit-learn's definition
//! exactly (zero_division=0, ties in ROC AUC count one half, labels taken
//! from `y_true ∪ y_pred` as `unique_labels` does).
//!
//! Metrics live in one registry keyed by name ([`CLASSIFICATION`],
//! [`REGRESSION`]): adding a metric is one entry. A metric that is undefined
//! for the data is `None` plus a warning, never a silent 0. Owns no I/O.

use std::collections::BTreeMap;

use ranking::{log_loss, roc_auc_binary, roc_auc_ovr};

/// Class predictions to score. Labels are codes `0..n_classes`.
#[derive(Debug, Clone, Copy)]
pub struct ClassInput<'a> {
    /// True class codes.
    pub y_true: &'a [u32],
    /// Predicted class codes.
    pub y_pred: &'a [u32],
    /// Row-major `rows x n_classes` probabilities, when the model gives them.
    pub proba: Option<&'a [f64]>,
    /// Number of classes of the problem (binary mode when 2).
    pub n_classes: usize,
    /// The positive class in binary mode (default: the greater label, 1).
    pub pos_label: u32,
}

/// Real-valued predictions to score.
#[derive(Debug, Clone, Copy)]
pub struct RegInput<'a> {
    /// True values.
    pub y_true: &'a [f64],
    /// Predictions.
    pub y_pred: &'a [f64],
}

/// Metric values by name (`None` = undefined for this data) and why some are
/// undefined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// In registry order.
    pub values: Vec<(&'static str, Option<f64>)>,
    /// One line per undefined metric or suspicious input.
    pub warnings: Vec<String>,
}

impl Scores {
    /// The value of `name`, if computed and defined.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| *n == name).and_then(|(_, v)| *v)
    }
    /// Adds metric `name`'s value, or `None` and a warning saying why it
    /// is undefined.
    pub fn record(&mut self, name: &'static str, value: Result<f64, String>) {
        match value {
            Ok(v) => self.values.push((name, Some(v))),
            Err(why) => {
                self.warnings.push(format!("{name} is undefined: {why}"));
                self.values.push((name, None));
            }
        }
    }
    /// As a name → value map.
    pub fn to_map(&self) -> BTreeMap<String, Option<f64>> {
        self.values.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect()
    }
    /// As a metric record.
    pub fn to_set(&self) -> crate::domain::MetricSet {
        self.values.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect()
    }
}

/// Everything computed once per input and shared by the metrics.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The rows; empty when built from a confusion matrix (`counts.rs`).
    input: ClassInput<'a>,
    /// Rows scored.
    rows: u64,
    /// Per class: true positives, predicted count, true count.
    tp: Vec<u64>,
    pred: Vec<u64>,
    truth: Vec<u64>,
    /// Classes present in `y_true ∪ y_pred`, ascending.
    present: Vec<usize>,
}

type ClassFn = fn(&Prepared<'_>) -> Result<f64, String>;
type RegFn = fn(&RegInput<'_>) -> Result<f64, String>;

/// When a classification metric applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Always.
    Always,
    /// Two-class problems only.
    Binary,
    /// More than two classes only.
    Multiclass,
}

/// A classification metric.
#[derive(Debug)]
pub struct ClassMetric {
    /// Its name (scikit-learn's scorer name).
    pub name: &'static str,
    /// Needs probabilities.
    pub needs_proba: bool,
    /// Which problems it applies to.
    pub applies: Applies,
    compute: ClassFn,
}

/// A regression metric.
#[derive(Debug)]
pub struct RegMetric {
    /// Its name.
    pub name: &'static str,
    compute: RegFn,
}

const fn cm(name: &'static str, applies: Applies, compute: ClassFn) -> ClassMetric {
    ClassMetric { name, needs_proba: false, applies, compute }
}
const fn pm(name: &'static str, applies: Applies, compute: ClassFn) -> ClassMetric {
    ClassMetric { name, needs_proba: true, applies, compute }
}

/// The classification metrics, in report order.
pub const CLASSIFICATION: &[ClassMetric] = &[
    cm("accuracy", Applies::Always, accuracy),
    cm("balanced_accuracy", Applies::Always, balanced_accuracy),
    cm("precision", Applies::Always, |p| p.default_avg(Kind::Precision)),
    cm("recall", Applies::Always, |p| p.default_avg(Kind::Recall)),
    cm("f1", Applies::Always, |p| p.default_avg(Kind::F1)),
    cm("precision_macro", Applies::Always, |p| Ok(p.macro_avg(Kind::Precision))),
    cm("precision_micro", Applies::Always, |p| Ok(p.micro_avg(Kind::Precision))),
    cm("precision_weighted", Applies::Always, |p| Ok(p.weighted_avg(Kind::Precision))),
    cm("recall_macro", Applies::Always, |p| Ok(p.macro_avg(Kind::Recall))),
    cm("recall_micro", Applies::Always, |p| Ok(p.micro_avg(Kind::Recall))),
    cm("recall_weighted", Applies::Always, |p| Ok(p.weighted_avg(Kind::Recall))),
    cm("f1_macro", Applies::Always, |p| Ok(p.macro_avg(Kind::F1))),
    cm("f1_micro", Applies::Always, |p| Ok(p.micro_avg(Kind::F1))),
    cm("f1_weighted", Applies::Always, |p| Ok(p.weighted_avg(Kind::F1))),
    pm("roc_auc", Applies::Binary, roc_auc_binary),
    pm("roc_auc_ovr", Applies::Multiclass, roc_auc_ovr),
    pm("log_loss", Applies::Always, log_loss),
];

/// The regression metrics, in report order.
pub const REGRESSION: &[RegMetric] = &[
    RegMetric { name: "mae", compute: mae },
    RegMetric { name: "mse", compute: mse },
    RegMetric { name: "rmse", compute: |r| mse(r).map(f64::sqrt) },
    RegMetric { name: "r2", compute: r2 },
    RegMetric { name: "mape", compute: mape },
];

/// The metrics a job of `task` with `n_classes` classes reports (those
/// needing probabilities included: they are `null` for a model without
/// them), then `fit_seconds` and `predict_seconds`.
pub fn names(task: mlhost_plugin_api::Task, n_classes: usize) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = match task {
        mlhost_plugin_api::Task::Classification => CLASSIFICATION
            .iter()
            .filter(|m| match m.applies {
                Applies::Always => true,
                Applies::Binary => n_classes == 2,
                Applies::Multiclass => n_classes > 2,
            })
            .map(|m| m.name)
            .collect(),
        mlhost_plugin_api::Task::Regression => REGRESSION.iter().map(|m| m.name).collect(),
    };
    out.extend(["fit_seconds", "predict_seconds"]);
    out
}

/// An `overfit_gap` (training minus held-out score of F1, R² for
/// regression) above this is flagged under `eval`'s table.
pub const OVERFIT_GAP: f64 = 0.05;

/// The metrics a job of a run reports: [`names`], the trading metrics when
/// the run has returns, and `overfit_gap` (training minus held-out score).
pub fn run_names(
    task: mlhost_plugin_api::Task,
    n_classes: usize,
    trading: bool,
) -> Vec<&'static str> {
    let mut out = names(task, n_classes);
    if trading {
        out.extend(trading::TRADING.iter().map(|m| m.name));
    }
    out.push("overfit_gap");
    out
}

/// Scores class predictions with every applicable metric.
pub fn classification(input: ClassInput<'_>) -> Result<Scores, String> {
    let p = Prepared::new(input)?;
    let binary = input.n_classes == 2;
    let mut scores = Scores::default();
    for m in CLASSIFICATION {
        let applies = match m.applies {
            Applies::Always => true,
            Applies::Binary => binary,
            Applies::Multiclass => !binary,
        };
        if !applies || (m.needs_proba && input.proba.is_none()) {
            continue;
        }
        scores.record(m.name, (m.compute)(&p));
    }
    Ok(scores)
}

/// One classification metric by name: `None` when there is no such
/// metric, it needs probabilities `input` lacks, or the input is invalid;
/// `Some(Err)` when it is undefined for this data.
pub fn class_metric(name: &str, input: ClassInput<'_>) -> Option<Result<f64, String>> {
    class_metric_named(name)?.score(&Prepared::new(input).ok()?)
}

/// The classification metric `name` of the registry, if there is one.
pub fn class_metric_named(name: &str) -> Option<&'static ClassMetric> {
    CLASSIFICATION.iter().find(|m| m.name == name)
}

impl ClassMetric {
    /// Its value on `p`: `None` when it needs probabilities `p` lacks (a
    /// `Prepared` built from counts has none), `Some(Err)` when undefined.
    pub fn score(&self, p: &Prepared<'_>) -> Option<Result<f64, String>> {
        if self.needs_proba && p.input.proba.is_none() {
            return None;
        }
        Some((self.compute)(p))
    }
}

/// One regression metric by name (`None` when there is no such metric).
pub fn reg_metric(name: &str, input: RegInput<'_>) -> Option<Result<f64, String>> {
    REGRESSION.iter().find(|m| m.name == name).map(|m| (m.compute)(&input))
}

/// Scores real-valued predictions with every regression metric.
pub fn regression(input: RegInput<'_>) -> Result<Scores, String> {
    if input.y_true.len() != input.y_pred.len() {
        return Err(format!(
            "{} true values but {} predictions",
            input.y_true.len(),
            input.y_pred.len()
        ));
    }
    if input.y_true.is_empty() {
        return Err("no predictions to score".to_owned());
    }
    let mut scores = Scores::default();
    for m in REGRESSION {
        scores.record(m.name, (m.compute)(&input));
    }
    Ok(scores)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Precision,
    Recall,
    F1,
}

/// scikit-learn's `_prf_divide` with zero_division=0.
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

impl<'a> Prepared<'a> {
    fn new(input: ClassInput<'a>) -> Result<Self, String> {
        let k = input.n_classes;
        let n = input.y_true.len();
        if input.y_pred.len() != n {
            return Err(format!("{n} true labels but {} predictions", input.y_pred.len()));
        }
        if n == 0 {
            return Err("no predictions to score".to_owned());
        }
        if let Some(proba) = input.proba
            && proba.len() != n * k
        {
            return Err(format!(
                "probabilities hold {} values, need {n} rows x {k} classes",
                proba.len()
            ));
        }
        let (mut tp, mut pred, mut truth) = (vec![0u64; k], vec![0u64; k], vec![0u64; k]);
        for (&t, &p) in input.y_true.iter().zip(input.y_pred) {
            let (t, p) = (t as usize, p as usize);
            if t >= k || p >= k {
                return Err(format!("label code {} outside 0..{k}", t.max(p)));
            }
            truth[t] += 1;
            pred[p] += 1;
            tp[t] += u64::from(t == p);
        }
        let mut prepared = Prepared { input, rows: n as u64, tp, pred, truth, present: Vec::new() };
        prepared.find_present();
        Ok(prepared)
    }

    /// `present` from the counts: classes in `y_true ∪ y_pred`.
    fn find_present(&mut self) {
        let (truth, pred) = (&self.truth, &self.pred);
        self.present.clear();
        self.present.extend((0..truth.len()).filter(|&c| truth[c] > 0 || pred[c] > 0));
    }

    fn score(&self, kind: Kind, tp: f64, pred: f64, truth: f64) -> f64 {
        match kind {
            Kind::Precision => ratio(tp, pred),
            Kind::Recall => ratio(tp, truth),
            Kind::F1 => ratio(2.0 * tp, pred + truth),
        }
    }
    fn per_class(&self, kind: Kind, c: usize) -> f64 {
        self.score(kind, self.tp[c] as f64, self.pred[c] as f64, self.truth[c] as f64)
    }
    fn macro_avg(&self, kind: Kind) -> f64 {
        let sum: f64 = self.present.iter().map(|&c| self.per_class(kind, c)).sum();
        sum / self.present.len() as f64
    }
    fn micro_avg(&self, kind: Kind) -> f64 {
        let total = |v: &[u64]| self.present.iter().map(|&c| v[c]).sum::<u64>() as f64;
        self.score(kind, total(&self.tp), total(&self.pred), total(&self.truth))
    }
    fn weighted_avg(&self, kind: Kind) -> f64 {
        let support: f64 = self.present.iter().map(|&c| self.truth[c] as f64).sum();
        let sum: f64 =
            self.present.iter().map(|&c| self.per_class(kind, c) * self.truth[c] as f64).sum();
        ratio(sum, support)
    }
    /// Binary (the positive class) on two classes, macro otherwise.
    fn default_avg(&self, kind: Kind) -> Result<f64, String> {
        if self.input.n_classes == 2 {
            Ok(self.per_class(kind, self.input.pos_label as usize))
        } else {
            Ok(self.macro_avg(kind))
        }
    }
}

fn accuracy(p: &Prepared<'_>) -> Result<f64, String> {
    Ok(p.tp.iter().sum::<u64>() as f64 / p.rows as f64)
}

fn balanced_accuracy(p: &Prepared<'_>) -> Result<f64, String> {
    // Classes only predicted (no true rows) drop out, as in scikit-learn.
    let recalls: Vec<f64> = p
        .present
        .iter()
        .filter(|&&c| p.truth[c] > 0)
        .map(|&c| p.per_class(Kind::Recall, c))
        .collect();
    Ok(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

fn mae(r: &RegInput<'_>) -> Result<f64, String> {
    let s: f64 = r.y_true.iter().zip(r.y_pred).map(|(t, p)| (t - p).abs()).sum();
    Ok(s / r.y_true.len() as f64)
}

fn mse(r: &RegInput<'_>) -> Result<f64, String> {
    let s: f64 = r.y_true.iter().zip(r.y_pred).map(|(t, p)| (t - p) * (t - p)).sum();
    Ok(s / r.y_true.len() as f64)
}

fn r2(r: &RegInput<'_>) -> Result<f64, String> {
    let n = r.y_true.len();
    if n < 2 {
        return Err("R² needs at least two samples".to_owned());
    }
    let mean = r.y_true.iter().sum::<f64>() / n as f64;
    let num: f64 = r.y_true.iter().zip(r.y_pred).map(|(t, p)| (t - p) * (t - p)).sum();
    let den: f64 = r.y_true.iter().map(|t| (t - mean) * (t - mean)).sum();
    // scikit-learn's force_finite: a constant y_true scores 1 if predicted
    // perfectly, else 0.
    Ok(if den == 0.0 { if num == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - num / den })
}

fn mape(r: &RegInput<'_>) -> Result<f64, String> {
    let eps = f64::EPSILON;
    let s: f64 = r.y_true.iter().zip(r.y_pred).map(|(t, p)| (t - p).abs() / t.abs().max(eps)).sum();
    Ok(s / r.y_true.len() as f64)
}

#[cfg(test)]
use crate::domain::mean_std;

pub mod calibration;
pub mod confusion;
mod counts;
pub mod drift;
pub mod fairness;
#[cfg(test)]
mod fixture;
mod ranking;
pub mod stats;
#[cfg(test)]
mod tests;
pub mod trading;
pub mod trend;
