//! What compare reads from the pooled held-out predictions: McNemar's
//! counts and the bootstrap interval of a model's metric.

use crate::domain::FoldPredictions;
use crate::metrics::{self, ClassInput, RegInput, stats};

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

/// The percentile bootstrap interval of `metric` over the pooled rows.
pub(super) fn bootstrap(
    metric: &str,
    folds: &[FoldPredictions],
    alpha: f64,
    pos_label_set: bool,
) -> Option<(f64, f64)> {
    let y_true: Vec<f64> = folds.iter().flat_map(|f| f.y_true.iter().copied()).collect();
    let y_pred: Vec<f64> = folds.iter().flat_map(|f| f.y_pred.iter().copied()).collect();
    let k = folds.first()?.n_classes as usize;
    let (n, seed, b) = (y_true.len(), 0, stats::BOOTSTRAP_RESAMPLES);
    if k == 0 {
        let (mut t, mut p) = (Vec::with_capacity(n), Vec::with_capacity(n));
        return stats::bootstrap_interval(n, b, seed, alpha, |idx| {
            t.clear();
            p.clear();
            t.extend(idx.iter().map(|&i| y_true[i]));
            p.extend(idx.iter().map(|&i| y_pred[i]));
            metrics::reg_metric(metric, RegInput { y_true: &t, y_pred: &p })?.ok()
        });
    }
    if pos_label_set {
        return None;
    }
    let needs_proba = metrics::CLASSIFICATION.iter().any(|m| m.name == metric && m.needs_proba);
    let proba: Option<Vec<f64>> = needs_proba
        .then(|| {
            folds.iter().map(|f| f.proba.clone()).collect::<Option<Vec<_>>>().map(|v| v.concat())
        })
        .flatten();
    let (mut t, mut p, mut q) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
    stats::bootstrap_interval(n, b, seed, alpha, |idx| {
        t.clear();
        p.clear();
        q.clear();
        t.extend(idx.iter().map(|&i| y_true[i] as u32));
        p.extend(idx.iter().map(|&i| y_pred[i] as u32));
        if let Some(all) = &proba {
            q.extend(idx.iter().flat_map(|&i| &all[i * k..(i + 1) * k]));
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
