//! Trend analysis of per-epoch training metrics: the best epoch (lowest
//! validation loss), epochs since it, overfitting (training loss falling
//! while validation loss rises over a window), a plateau (no improvement
//! larger than `min_delta` for `patience` epochs), and what to do about it.
//!
//! Pure functions over a history; the host calls them as epochs arrive
//! (early stopping) and when asked (`mlhost analyze`, the API).

use serde::Serialize;

/// One recorded epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// Counts from 1.
    pub epoch: u32,
    /// `train_loss`, if reported.
    pub train_loss: Option<f64>,
    /// `val_loss`, if reported.
    pub val_loss: Option<f64>,
}

use crate::domain::Patience;

/// What the history says. Fields in alphabetical order, the order its JSON
/// has always had.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    /// The epoch with the lowest validation loss.
    pub best_epoch: Option<u32>,
    /// Its validation loss.
    pub best_val_loss: Option<f64>,
    /// Epochs seen.
    pub epochs: usize,
    /// Epochs since the last improvement larger than `min_delta`.
    pub epochs_since_improvement: u32,
    /// Training loss falling while validation loss rises over the window.
    pub overfitting: bool,
    /// No improvement larger than `min_delta` for `patience` epochs.
    pub plateau: bool,
    /// `continue`, `stop: plateau` or `stop: overfitting`.
    pub recommendation: &'static str,
}

/// Least-squares slope of `ys` against 0, 1, 2, …
fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    if ys.len() < 2 {
        return 0.0;
    }
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mean_x;
        num += dx * (y - mean_y);
        den += dx * dx;
    }
    num / den
}

/// Analyzes `history` (in epoch order).
pub fn analyze(history: &[Epoch], p: Patience) -> Trend {
    let mut best: Option<(u32, f64)> = None;
    let mut since = 0u32;
    for e in history {
        let Some(v) = e.val_loss else { continue };
        match best {
            Some((_, b)) if v < b - p.min_delta => {
                best = Some((e.epoch, v));
                since = 0;
            }
            Some((_, b)) => {
                since += 1;
                // A smaller, sub-threshold dip still moves the best epoch.
                if v < b {
                    best = Some((e.epoch, v));
                }
            }
            None => {
                best = Some((e.epoch, v));
                since = 0;
            }
        }
    }
    // Over the last `patience` epochs (at least 3): train falling, val rising.
    let window = (p.patience.max(3)) as usize;
    let recent: Vec<&Epoch> =
        history.iter().filter(|e| e.train_loss.is_some() && e.val_loss.is_some()).collect();
    let overfitting = recent.len() >= window && {
        let tail = &recent[recent.len() - window..];
        let train: Vec<f64> = tail.iter().filter_map(|e| e.train_loss).collect();
        let val: Vec<f64> = tail.iter().filter_map(|e| e.val_loss).collect();
        slope(&train) < 0.0 && slope(&val) > 0.0 && since >= 1
    };
    let plateau = best.is_some() && since >= p.patience;
    let recommendation = if overfitting {
        "stop: overfitting"
    } else if plateau {
        "stop: plateau"
    } else {
        "continue"
    };
    Trend {
        epochs: history.len(),
        best_epoch: best.map(|b| b.0),
        best_val_loss: best.map(|b| b.1),
        epochs_since_improvement: since,
        overfitting,
        plateau,
        recommendation,
    }
}

/// A job's (operation's) epochs grouped by fold, each fold with its trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendReport {
    /// One entry per fold, by fold.
    pub folds: Vec<FoldTrend>,
    /// The thresholds the trends were computed with.
    pub patience: Patience,
}

/// One fold's epochs and their trend. Fields in alphabetical order, the
/// order its JSON has always had.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FoldTrend {
    /// The recorded epochs, in order.
    pub epochs: Vec<EpochRecord>,
    /// The fold (from 0).
    pub fold: i64,
    /// What the epochs say.
    pub trend: Trend,
}

/// One recorded epoch as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochRecord {
    /// Counts from 1.
    pub epoch: i64,
    /// Named values (`train_loss`, `val_loss`, ...), as recorded.
    pub metrics: serde_json::Value,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

/// A job's (operation's) epochs grouped by fold, each with its trend.
pub fn report(rows: &[crate::domain::EpochRow], p: Patience) -> TrendReport {
    let mut folds: std::collections::BTreeMap<i64, Vec<(Epoch, EpochRecord)>> = Default::default();
    for r in rows {
        // Written by the host from numbers; a row something else damaged is
        // shown as it is (a string) and counts as an epoch without losses.
        let metrics: serde_json::Value = serde_json::from_str(&r.metrics_json).unwrap_or_else(|e| {
            tracing::warn!(job_id = %r.job_id, epoch = r.epoch, error = %e, "unreadable epoch metrics");
            r.metrics_json.clone().into()
        });
        let epoch = Epoch {
            epoch: r.epoch as u32,
            train_loss: metrics["train_loss"].as_f64(),
            val_loss: metrics["val_loss"].as_f64(),
        };
        let record = EpochRecord { epoch: r.epoch, metrics, recorded_at: r.recorded_at.clone() };
        folds.entry(r.fold).or_default().push((epoch, record));
    }
    let folds = folds
        .into_iter()
        .map(|(fold, list)| {
            let history: Vec<Epoch> = list.iter().map(|(e, _)| e.clone()).collect();
            let trend = analyze(&history, p);
            FoldTrend { epochs: list.into_iter().map(|(_, r)| r).collect(), fold, trend }
        })
        .collect();
    TrendReport { folds, patience: p }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(train: &[f64], val: &[f64]) -> Vec<Epoch> {
        train
            .iter()
            .zip(val)
            .enumerate()
            .map(|(i, (t, v))| Epoch {
                epoch: i as u32 + 1,
                train_loss: Some(*t),
                val_loss: Some(*v),
            })
            .collect()
    }

    #[test]
    fn steady_improvement_continues() {
        let t = analyze(
            &history(&[1.0, 0.8, 0.6, 0.5, 0.4, 0.3], &[1.1, 0.9, 0.7, 0.6, 0.5, 0.45]),
            Patience::default(),
        );
        assert_eq!(
            (t.best_epoch, t.epochs_since_improvement, t.recommendation),
            (Some(6), 0, "continue")
        );
        assert!(!t.overfitting && !t.plateau);
    }

    #[test]
    fn overfitting_is_train_down_val_up() {
        let train = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1];
        let val = [1.0, 0.8, 0.6, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8];
        let t = analyze(&history(&train, &val), Patience::default());
        assert_eq!(t.best_epoch, Some(4));
        assert_eq!(t.epochs_since_improvement, 5);
        assert!(t.overfitting);
        assert_eq!(t.recommendation, "stop: overfitting");
    }

    #[test]
    fn a_plateau_is_no_real_improvement_for_patience_epochs() {
        let train = [1.0, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85];
        let val = [1.0, 0.9, 0.8, 0.7999, 0.8001, 0.7998, 0.8, 0.7997];
        let t = analyze(&history(&train, &val), Patience { patience: 5, min_delta: 0.001 });
        assert!(t.plateau, "{t:?}");
        assert!(!t.overfitting);
        assert_eq!(t.recommendation, "stop: plateau");
        assert_eq!(t.best_epoch, Some(8), "the lowest loss, even by less than min_delta");
        let short =
            analyze(&history(&train[..6], &val[..6]), Patience { patience: 5, min_delta: 0.001 });
        assert_eq!(short.recommendation, "continue");
    }

    #[test]
    fn empty_or_train_only_histories() {
        let t = analyze(&[], Patience::default());
        assert_eq!((t.epochs, t.best_epoch, t.recommendation), (0, None, "continue"));
        let only_train = [Epoch { epoch: 1, train_loss: Some(1.0), val_loss: None }];
        assert_eq!(analyze(&only_train, Patience::default()).best_epoch, None);
    }
}
