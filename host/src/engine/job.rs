//! One job, fold by fold: build the candidate's model, fit it on the
//! training rows (epochs reported through its fit context, early stopping
//! applied), predict the held-out rows, validate what the plugin returned,
//! and score it, keeping the held-out predictions. Runs the same in a
//! worker thread and in a `mlhost worker` process; knows nothing of runs,
//! plans or the store, so the executors and `worker` all stand on it.

use std::collections::BTreeMap;
use std::time::Instant;

use mlhost_plugin_api::{Control, ErrorKind, Matrix, Params};

use super::budget::Budget;
use crate::data::prep::{Prep, PrepSpec};
use crate::data::snapshot::DataView;
use crate::data::split::Fold;
use crate::domain::StopFlag;
use crate::domain::{FoldPredictions, JobStatus, MetricSet};
use crate::metrics::{self, ClassInput, RegInput};
use crate::plugin::loader::{FitHooks, Plugin};

/// What one fold of a job produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoldOutcome {
    /// Its scores, with `fit_seconds` and `predict_seconds`.
    pub metrics: MetricSet,
    /// Fit + predict time.
    pub duration_ms: i64,
    /// What the model said about the held-out rows.
    pub predictions: FoldPredictions,
}

/// A job's successful outcome: every fold's.
pub type FoldScores = Vec<FoldOutcome>;

/// Why a job did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    /// `Failed`, `TimedOut` or `Cancelled`.
    pub status: JobStatus,
    /// Why, in one line.
    pub error: String,
}

impl JobFailure {
    /// A plain failure.
    pub fn failed(error: String) -> Self {
        JobFailure { status: JobStatus::Failed, error }
    }
}

/// Where jobs send their epochs: a channel, so training never waits for
/// the database.
pub type EpochSink = std::sync::mpsc::Sender<crate::domain::EpochRow>;

struct JobHooks<'a> {
    seed: u64,
    n_classes: usize,
    stop: &'a StopFlag,
    job_id: &'a str,
    fold: usize,
    sink: Option<&'a EpochSink>,
    early: Option<Patience>,
    threads: usize,
    history: Vec<crate::metrics::trend::Epoch>,
    last: Instant,
    /// (stopped epoch, best epoch) when early stopping ended training.
    stopped: Option<(u32, Option<u32>)>,
}

impl FitHooks for JobHooks<'_> {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn n_classes(&self) -> usize {
        self.n_classes
    }
    fn should_stop(&self) -> bool {
        self.stop.is_set()
    }
    fn threads(&self) -> usize {
        self.threads
    }
    fn on_epoch(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        let now = Instant::now();
        let get = |name: &str| metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        self.history.push(crate::metrics::trend::Epoch {
            epoch,
            train_loss: get("train_loss"),
            val_loss: get("val_loss"),
        });
        if let Some(sink) = self.sink {
            let mut m: BTreeMap<&str, f64> = metrics.iter().copied().collect();
            m.insert("duration_ms", now.duration_since(self.last).as_secs_f64() * 1000.0);
            let _ = sink.send(crate::domain::EpochRow {
                job_id: self.job_id.to_owned(),
                fold: self.fold as i64,
                epoch: i64::from(epoch),
                metrics_json: serde_json::to_string(&m).expect("metrics serialize"),
                recorded_at: crate::domain::now(),
            });
        }
        self.last = now;
        if self.stop.is_set() {
            return Control::Stop;
        }
        if let Some(p) = self.early {
            let trend = crate::metrics::trend::analyze(&self.history, p);
            if trend.plateau {
                self.stopped = Some((epoch, trend.best_epoch));
                return Control::Stop;
            }
        }
        Control::Continue
    }
}

use crate::domain::Patience;

/// What one job runs.
pub(crate) struct Job<'a> {
    pub plugin: &'a Plugin,
    pub params: &'a Params,
    pub prep: PrepSpec,
    pub seed: u64,
    pub pos_label: u32,
    pub job_id: &'a str,
    pub epochs: Option<&'a EpochSink>,
    pub early: Option<Patience>,
    pub budget: &'a Budget,
}

/// One candidate, every fold: a fresh model per fold, fitted on the
/// training rows and scored on the test rows (views into the shared
/// snapshot; a prepared copy of the fold only when the candidate's data
/// preparation changes something).
pub(crate) fn run_job(
    job: &Job<'_>,
    data: DataView<'_>,
    folds: &[Fold],
    stop: &StopFlag,
) -> Result<FoldScores, JobFailure> {
    let Job { plugin, params, prep, seed, pos_label, job_id, epochs, early, budget } = *job;
    let y = data.y;
    let k = data.n_classes;
    let stopped =
        || JobFailure { status: JobStatus::TimedOut, error: "stopped at its deadline".to_owned() };
    let mut out = Vec::with_capacity(folds.len());
    for (f, fold) in folds.iter().enumerate() {
        let _fold = tracing::debug_span!("fold", fold = f).entered();
        if stop.is_set() {
            return Err(stopped());
        }
        let fail = |what: &str, e: &mlhost_plugin_api::Error| {
            if e.kind() == ErrorKind::Stopped && stop.is_set() {
                stopped()
            } else {
                JobFailure::failed(format!("fold {f}: {what}: {}", e.message()))
            }
        };
        let mut model = plugin.new_model(params).map_err(|e| fail("constructor", &e))?;
        let prep_failed =
            |e: String| JobFailure::failed(format!("fold {f}: preparing the data: {e}"));
        // Fitted on the training rows only: nothing of the test fold leaks.
        let fitted = Prep::fit(prep, data.columns, data.x, &fold.train).map_err(prep_failed)?;
        let mut buf = Vec::new();
        let x_train = rows(fitted.as_ref(), data, &fold.train, &mut buf).map_err(prep_failed)?;
        let y_train: Vec<f64> = fold.train.iter().map(|&i| y[i as usize]).collect();
        let t0 = Instant::now();
        let mut hooks = JobHooks {
            seed,
            n_classes: k,
            stop,
            job_id,
            fold: f,
            sink: epochs,
            early,
            threads: budget.threads(),
            history: Vec::new(),
            last: Instant::now(),
            stopped: None,
        };
        model.fit(x_train, &y_train, &mut hooks).map_err(|e| fail("fit", &e))?;
        let fit_seconds = t0.elapsed().as_secs_f64();
        drop(buf); // one prepared copy at a time: the training rows' goes first
        let mut buf = Vec::new();
        let x_test = rows(fitted.as_ref(), data, &fold.test, &mut buf).map_err(prep_failed)?;
        let t1 = Instant::now();
        let mut pred = vec![0.0; fold.test.len()];
        model.predict(x_test, &mut pred).map_err(|e| fail("predict", &e))?;
        let mut proba = vec![0.0; if k > 0 { fold.test.len() * k } else { 0 }];
        let has_proba = k > 0
            && model.predict_proba(x_test, &mut proba).map_err(|e| fail("predict_proba", &e))?;
        let predict_seconds = t1.elapsed().as_secs_f64();
        check_predictions(&pred, k).map_err(|e| JobFailure::failed(format!("fold {f}: {e}")))?;
        if has_proba {
            check_proba(&proba, k).map_err(|e| JobFailure::failed(format!("fold {f}: {e}")))?;
        }
        let y_test: Vec<f64> = fold.test.iter().map(|&i| y[i as usize]).collect();
        let proba_given = has_proba.then_some(&proba[..]);
        let scores = score(&y_test, &pred, proba_given, k, pos_label)
            .map_err(|e| JobFailure::failed(format!("fold {f}: scoring: {e}")))?;
        drop(buf);
        let mut m = scores.to_set();
        let train = train_scores(&model, fitted.as_ref(), data, &fold.train, k, pos_label)
            .map_err(|(what, e)| fail(what, &e))?;
        add_train_scores(&mut m, &train, k);
        m.insert("fit_seconds", Some(fit_seconds));
        if let Some((stopped, best)) = hooks.stopped {
            m.insert("stopped_epoch", Some(f64::from(stopped)));
            m.insert("best_epoch", best.map(f64::from));
        }
        m.insert("predict_seconds", Some(predict_seconds));
        let predictions = FoldPredictions {
            fold: f as i64,
            rows: fold.test.clone(),
            y_true: y_test,
            y_pred: pred,
            n_classes: k as u32,
            proba: has_proba.then_some(proba),
        };
        tracing::debug!(fit_seconds, predict_seconds, "fold scored");
        out.push(FoldOutcome {
            metrics: m,
            duration_ms: ((fit_seconds + predict_seconds) * 1000.0).round() as i64,
            predictions,
        });
    }
    Ok(out)
}

/// The rows `idx` as the model sees them: prepared into `buf` when the
/// candidate prepares its data, else a view of the shared snapshot.
fn rows<'a>(
    prep: Option<&Prep>,
    data: DataView<'a>,
    idx: &'a [u32],
    buf: &'a mut Vec<f64>,
) -> Result<Matrix<'a>, String> {
    let m = match prep {
        Some(p) => {
            *buf = p.transform(data.x, idx)?;
            Matrix::new(buf, idx.len(), p.cols())
        }
        None => Matrix::select(data.x, data.cols, idx),
    };
    m.map_err(|e| e.message().to_owned())
}

/// At most this many training rows are scored for `train_*` metrics
/// (evenly spaced through the fold), so the overfitting check costs at
/// most one extra predict of this size per fold.
pub const TRAIN_SCORE_ROWS: usize = 5_000;

/// Every metric of `k`-class (0: regression) predictions.
pub(crate) fn score(
    y_true: &[f64],
    pred: &[f64],
    proba: Option<&[f64]>,
    k: usize,
    pos_label: u32,
) -> Result<metrics::Scores, String> {
    if k == 0 {
        return metrics::regression(RegInput { y_true, y_pred: pred });
    }
    let codes = |v: &[f64]| v.iter().map(|&c| c as u32).collect::<Vec<u32>>();
    metrics::classification(ClassInput {
        y_true: &codes(y_true),
        y_pred: &codes(pred),
        proba,
        n_classes: k,
        pos_label,
    })
}

/// The fitted model's scores on (at most [`TRAIN_SCORE_ROWS`] of) its own
/// training rows, as scikit-learn's `cross_validate(return_train_score=True)`.
/// `None` when the plugin's output there is unusable (the held-out scores
/// stand; the check is skipped).
fn train_scores(
    model: &crate::plugin::loader::Model,
    prep: Option<&Prep>,
    data: DataView<'_>,
    train: &[u32],
    k: usize,
    pos_label: u32,
) -> Result<Option<metrics::Scores>, (&'static str, mlhost_plugin_api::Error)> {
    let step = train.len().div_ceil(TRAIN_SCORE_ROWS).max(1);
    let idx: Vec<u32> = train.iter().step_by(step).copied().collect();
    let mut buf = Vec::new();
    let Ok(x) = rows(prep, data, &idx, &mut buf) else { return Ok(None) };
    let mut pred = vec![0.0; idx.len()];
    model.predict(x, &mut pred).map_err(|e| ("predict (training rows)", e))?;
    let mut proba = vec![0.0; idx.len() * k];
    let has_proba = k > 0
        && model.predict_proba(x, &mut proba).map_err(|e| ("predict_proba (training rows)", e))?;
    if check_predictions(&pred, k).is_err() || (has_proba && check_proba(&proba, k).is_err()) {
        return Ok(None);
    }
    let y: Vec<f64> = idx.iter().map(|&i| data.y[i as usize]).collect();
    Ok(score(&y, &pred, has_proba.then_some(&proba[..]), k, pos_label).ok())
}

/// `train_<metric>` for every scored metric, and `overfit_gap`: the
/// training score minus the held-out score of the table's sort metric (F1,
/// R² for regression), the number `--gate overfit_gap<=X` checks.
fn add_train_scores(m: &mut MetricSet, train: &Option<metrics::Scores>, k: usize) {
    let Some(train) = train else { return };
    for (name, v) in &train.values {
        m.insert(format!("train_{name}"), *v);
    }
    let primary = if k == 0 { "r2" } else { "f1" };
    let gap = train.get(primary).zip(m.get(primary)).map(|(t, h)| t - h);
    m.insert("overfit_gap", gap);
}

fn check_predictions(pred: &[f64], k: usize) -> Result<(), String> {
    if let Some((i, v)) = pred.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(format!("predict returned {v} for test row {i}; predictions must be finite"));
    }
    if k > 0
        && let Some((i, v)) =
            pred.iter().enumerate().find(|(_, v)| v.fract() != 0.0 || **v < 0.0 || **v >= k as f64)
    {
        return Err(format!("predict returned {v} for test row {i}, not a class code in 0..{k}"));
    }
    Ok(())
}

fn check_proba(proba: &[f64], k: usize) -> Result<(), String> {
    for (i, row) in proba.chunks_exact(k).enumerate() {
        // A rounding error's worth outside [0, 1] is float noise, not a bug.
        if let Some(p) = row.iter().find(|p| !(-1e-9..=1.0 + 1e-9).contains(*p)) {
            return Err(format!(
                "predict_proba returned {p} for test row {i}; probabilities lie in [0, 1]"
            ));
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!("predict_proba row {i} sums to {sum}, not 1"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_output_is_validated() {
        assert_eq!(check_predictions(&[0.0, 1.0], 2), Ok(()));
        assert_eq!(
            check_predictions(&[0.0, f64::NAN], 2).unwrap_err(),
            "predict returned NaN for test row 1; predictions must be finite"
        );
        assert_eq!(
            check_predictions(&[0.5], 2).unwrap_err(),
            "predict returned 0.5 for test row 0, not a class code in 0..2"
        );
        assert_eq!(check_predictions(&[2.5], 0), Ok(()));
        assert_eq!(check_proba(&[0.25, 0.75], 2), Ok(()));
        assert_eq!(
            check_proba(&[0.5, 0.6], 2).unwrap_err(),
            "predict_proba row 0 sums to 1.1, not 1"
        );
        assert_eq!(
            check_proba(&[1.5, -0.5], 2).unwrap_err(),
            "predict_proba returned 1.5 for test row 0; probabilities lie in [0, 1]"
        );
    }
}
