//! What compare reads from the pooled held-out predictions: McNemar's
//! counts and the bootstrap interval of a model's metric.

use std::collections::BTreeMap;

use super::labels::LabelGroup;
use crate::domain::FoldPredictions;
use crate::metrics::stats::{self, Resample};
use crate::metrics::{self, ClassInput, RegInput};

/// (b, c): rows only `model` gets right, rows only `reference` gets right;
/// `None` for regression. The folds hold the same rows (checked).
pub(super) fn mcnemar_counts(
    model: &[FoldPredictions],
    reference: &[FoldPredictions],
) -> Option<(u64, u64)> {
    if model.first()?.n_classes == 0 {
        return None;
    }
    let (mut b, mut c) = (0, 0);
    for (m, r) in model.iter().zip(reference) {
        for i in 0..m.rows.len() {
            let (mr, rr) = (m.y_pred[i] == m.y_true[i], r.y_pred[i] == r.y_true[i]);
            b += u64::from(mr && !rr);
            c += u64::from(rr && !mr);
        }
    }
    Some((b, c))
}

/// Whether the run's spec names a positive class (codes unknown here).
pub(super) fn pos_label_set(spec_json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(spec_json)
        .ok()
        .is_some_and(|v| v.get("pos_label").is_some_and(|p| !p.is_null()))
}

/// A model's statistic on one resample of its pooled rows.
type Stat<'a> = Box<dyn FnMut(&Resample<'_>) -> Option<f64> + 'a>;

/// Every model's bootstrap interval of `metric`, the models shared among
/// at most `available_parallelism` threads. Each thread draws the
/// resamples for its models once; every model's draw is the same seeded
/// one, so the intervals do not depend on the number of threads.
pub(super) fn bootstraps(
    models: &[&[FoldPredictions]],
    metric: &str,
    alpha: f64,
    pos_label_set: bool,
) -> Vec<Option<(f64, f64)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(models.len());
    let chunk = models.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = models
            .chunks(chunk)
            .map(|part| s.spawn(move || intervals(metric, part, alpha, pos_label_set, true)))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a bootstrap thread panicked")).collect()
    })
}

/// The percentile bootstrap interval of `metric` over each model's pooled
/// held-out rows (`None` where there is none), on this thread. Models with as many pooled
/// rows share one draw of the resamples (compare checked that all are
/// tested on the same rows); each model's draw is the same seeded one, so
/// an interval does not depend on the models it is computed with.
/// `counts`: score label metrics from the confusion counts of a resample
/// (the fast path, [`LabelGroup`]) rather than from its rows.
pub(super) fn intervals(
    metric: &str,
    models: &[&[FoldPredictions]],
    alpha: f64,
    pos_label_set: bool,
    counts: bool,
) -> Vec<Option<(f64, f64)>> {
    let mut by_rows: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, folds) in models.iter().enumerate() {
        by_rows.entry(folds.iter().map(|f| f.y_true.len()).sum()).or_default().push(i);
    }
    let mut out = vec![None; models.len()];
    for (n, index) in by_rows {
        let group: Vec<&[FoldPredictions]> = index.iter().map(|&i| models[i]).collect();
        let mut scorers = Scorers::new(metric, &group, pos_label_set, counts);
        if scorers.rows.is_empty() && scorers.labels.is_empty() {
            continue;
        }
        let (seed, resamples) = (0, stats::BOOTSTRAP_RESAMPLES);
        let intervals =
            stats::bootstrap_intervals(n, resamples, seed, alpha, group.len(), |r, v| {
                scorers.score(r, v)
            });
        for (i, interval) in index.into_iter().zip(intervals) {
            out[i] = interval;
        }
    }
    out
}

/// What scores a resample for each model of a group (`slot` = its place).
struct Scorers<'a> {
    /// Models scored from the rows of a resample.
    rows: Vec<(usize, Stat<'a>)>,
    /// Models whose label metric is scored from confusion counts.
    labels: Vec<LabelGroup>,
}

impl<'a> Scorers<'a> {
    fn new(
        metric: &'a str,
        models: &[&'a [FoldPredictions]],
        pos_label_set: bool,
        counts: bool,
    ) -> Self {
        let mut scorers = Scorers { rows: Vec::new(), labels: Vec::new() };
        let label = metrics::class_metric_named(metric).filter(|m| counts && !m.needs_proba);
        for (slot, &folds) in models.iter().enumerate() {
            let Some(k) = folds.first().map(|f| f.n_classes as usize) else { continue };
            let y_true: Vec<f64> = folds.iter().flat_map(|f| f.y_true.iter().copied()).collect();
            let y_pred: Vec<f64> = folds.iter().flat_map(|f| f.y_pred.iter().copied()).collect();
            if k == 0 {
                scorers.rows.push((slot, reg_stat(metric, y_true, y_pred)));
            } else if pos_label_set {
                // Codes of the positive class are unknown here: no interval.
            } else if let Some(m) = label
                && LabelGroup::add(&mut scorers.labels, m, slot, k, &y_true, &y_pred)
            {
                // Scored from counts.
            } else {
                scorers.rows.push((slot, class_stat(metric, folds, y_true, y_pred, k)));
            }
        }
        scorers
    }

    fn score(&mut self, r: &Resample<'_>, out: &mut [Option<f64>]) {
        for (slot, stat) in &mut self.rows {
            out[*slot] = stat(r);
        }
        for group in &mut self.labels {
            group.score(r, out);
        }
    }
}

/// A regression metric scored from the rows of each resample.
fn reg_stat(metric: &str, y_true: Vec<f64>, y_pred: Vec<f64>) -> Stat<'_> {
    let (mut t, mut p) = (Vec::new(), Vec::new());
    Box::new(move |r: &Resample<'_>| {
        t.clear();
        p.clear();
        t.extend(r.rows.iter().map(|&i| y_true[i]));
        p.extend(r.rows.iter().map(|&i| y_pred[i]));
        metrics::reg_metric(metric, RegInput { y_true: &t, y_pred: &p })?.ok()
    })
}

/// Any classification metric scored from the rows of each resample.
fn class_stat<'a>(
    metric: &'a str,
    folds: &'a [FoldPredictions],
    y_true: Vec<f64>,
    y_pred: Vec<f64>,
    k: usize,
) -> Stat<'a> {
    let needs_proba = metrics::class_metric_named(metric).is_some_and(|m| m.needs_proba);
    let proba: Option<Vec<f64>> = needs_proba
        .then(|| {
            folds.iter().map(|f| f.proba.clone()).collect::<Option<Vec<_>>>().map(|v| v.concat())
        })
        .flatten();
    let (mut t, mut p, mut q) = (Vec::new(), Vec::new(), Vec::new());
    Box::new(move |r: &Resample<'_>| {
        t.clear();
        p.clear();
        q.clear();
        t.extend(r.rows.iter().map(|&i| y_true[i] as u32));
        p.extend(r.rows.iter().map(|&i| y_pred[i] as u32));
        if let Some(all) = &proba {
            q.extend(r.rows.iter().flat_map(|&i| &all[i * k..(i + 1) * k]));
        }
        let input = ClassInput {
            y_true: &t,
            y_pred: &p,
            proba: proba.as_ref().map(|_| q.as_slice()),
            n_classes: k,
            pos_label: (k - 1) as u32,
        };
        metrics::class_metric(metric, input)?.ok()
    })
}
