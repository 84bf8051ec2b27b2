//! compare over runs written through the Store API.

use super::*;
use crate::domain::{FoldPredictions, MetricSet, RunId};
use crate::store::{JobEnd, NewJob, ResultRow};
use mlhost_plugin_api::SeededRng;

const ROWS: u32 = 40;
const K: u32 = 4;

/// A model's name and which rows it classifies correctly.
pub(crate) type Fake<'a> = (&'a str, fn(u32) -> bool);

/// Fold f tests rows with `row % K == f`; `right(model, row)` says whether
/// a model predicts a row's class correctly. Stores accuracy per fold.
pub(crate) fn run(store: &mut Store, models: &[Fake<'_>], shift_folds_of: Option<&str>) -> String {
    let run = RunId::generate();
    let jobs: Vec<NewJob> = models
        .iter()
        .map(|(m, _)| NewJob {
            job_id: format!("{run}-{m}").as_str().into(),
            model_id: (*m).into(),
            model_version: "1".into(),
            params_json: "{}".into(),
        })
        .collect();
    store.create_run(&run, &"d".into(), &serde_json::json!({}), &jobs).unwrap();
    for (job, (model, right)) in jobs.iter().zip(models) {
        let offset = u32::from(shift_folds_of == Some(*model));
        let (mut results, mut preds) = (Vec::new(), Vec::new());
        for f in 0..K {
            let rows: Vec<u32> = (0..ROWS).filter(|r| (r + offset) % K == f).collect();
            let y_true: Vec<f64> = rows.iter().map(|r| f64::from(r % 2)).collect();
            let y_pred: Vec<f64> = rows
                .iter()
                .map(|&r| if right(r) { f64::from(r % 2) } else { f64::from(1 - r % 2) })
                .collect();
            let acc = rows.iter().filter(|&&r| right(r)).count() as f64 / rows.len() as f64;
            let metrics: MetricSet = [("accuracy".to_owned(), Some(acc))].into_iter().collect();
            results.push(ResultRow {
                job_id: job.job_id.clone(),
                model_id: (*model).into(),
                model_version: "1".into(),
                fold: i64::from(f),
                metrics,
                duration_ms: 1,
            });
            preds.push(FoldPredictions {
                fold: i64::from(f),
                rows,
                y_true,
                y_pred,
                n_classes: 2,
                proba: None,
            });
        }
        store.job_started(&job.job_id).unwrap();
        let end = JobEnd {
            status: JobStatus::Succeeded,
            error: None,
            results: &results,
            predictions: &preds,
        };
        store.job_finished(&job.job_id, end).unwrap();
    }
    run.to_string()
}

fn req(reference: Option<&str>) -> CompareRequest {
    CompareRequest {
        reference: reference.map(Into::into),
        metric: Some("accuracy".into()),
        alpha: 0.05,
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, store)
}

#[test]
fn every_model_against_the_best_with_holm_and_mcnemar() {
    let (_d, mut s) = store();
    let id = run(
        &mut s,
        &[("good", |r| r % 10 != 0), ("bad", |r| r % 3 == 0), ("mid", |r| r % 5 != 0)],
        None,
    );
    let report = compare(&s, &id, &req(None)).unwrap();
    assert_eq!((report.reference.as_str(), report.correction.as_str()), ("good", "holm"));
    assert_eq!(report.comparisons.len(), 2);
    assert!(report.notes.iter().any(|n| n.contains("Holm")));
    let bad = report.comparisons.iter().find(|c| c.model == "bad").unwrap();
    // good is right on 36 rows, bad on 14; bad is right only where good is
    // too except rows 0 and 30 (r % 10 == 0 and r % 3 == 0).
    assert_eq!((bad.mcnemar_b, bad.mcnemar_c), (Some(2), Some(24)));
    assert!(bad.mean_diff < 0.0 && !bad.better && bad.ci_high < 0.0);
    let (lo, hi) = (bad.bootstrap_low.unwrap(), bad.bootstrap_high.unwrap());
    assert!(lo < bad.mean && bad.mean < hi, "{lo} {} {hi}", bad.mean);
    let raw: Vec<f64> = report.comparisons.iter().map(|c| c.p_value).collect();
    let adjusted = stats::holm(&raw);
    for (c, a) in report.comparisons.iter().zip(adjusted) {
        assert_eq!(c.p_value_adjusted, a);
        assert_eq!(c.significant, a < 0.05);
    }
    // r = (10/30) per fold.
    assert!(report.notes[0].contains("r = 0.3333"));
}

#[test]
fn a_named_reference_and_one_comparison_is_not_corrected() {
    let (_d, mut s) = store();
    let id = run(&mut s, &[("a", |r| r % 10 != 0), ("b", |r| r % 4 != 0)], None);
    let report = compare(&s, &id, &req(Some("b"))).unwrap();
    assert_eq!((report.reference.as_str(), report.correction.as_str()), ("b", "none"));
    let c = &report.comparisons[0];
    assert_eq!((c.model.as_str(), c.p_value_adjusted), ("a", c.p_value));
}

#[test]
fn bad_requests_are_one_line_each() {
    let (_d, mut s) = store();
    let id = run(&mut s, &[("a", |r| r % 10 != 0), ("b", |r| r % 4 != 0)], None);
    let one = run(&mut s, &[("a", |r| r % 10 != 0)], None);
    let shifted = run(&mut s, &[("a", |r| r % 10 != 0), ("b", |r| r % 4 != 0)], Some("b"));
    let err = |r: &CompareRequest, run: &str| compare(&s, run, r).unwrap_err().to_string();
    assert!(err(&req(Some("zzz")), &id).contains("no succeeded model 'zzz'"));
    let mut m = req(None);
    m.metric = Some("f1".into());
    assert!(err(&m, &id).contains("has no metric 'f1'; it has accuracy"));
    m.alpha = 1.5;
    assert!(err(&m, &id).contains("alpha 1.5"));
    assert!(err(&req(None), "nope").contains("no run 'nope'"));
    assert!(err(&req(None), &one).contains("compare needs at least 2"));
    let e = err(&req(None), &shifted);
    assert!(e.contains("tested on different folds"), "{e}");
    assert!(!e.contains('\n'));
}

/// Pooled predictions of one model: `folds` folds of `rows` rows, `k`
/// classes, true codes drawn with `SeededRng(truth)`, predictions with
/// `SeededRng(seed)`, right about 70% of the time.
fn pooled(k: u32, folds: u32, rows: u32, truth: u64, seed: u64) -> Vec<FoldPredictions> {
    let (mut t, mut rng) = (SeededRng::new(truth), SeededRng::new(seed));
    let draw = |r: &mut SeededRng| r.below(k as usize) as f64;
    (0..folds)
        .map(|f| {
            let y_true: Vec<f64> = (0..rows).map(|_| draw(&mut t)).collect();
            let y_pred = y_true
                .iter()
                .map(|&t| if rng.uniform() < 0.7 { t } else { draw(&mut rng) })
                .collect();
            FoldPredictions {
                fold: i64::from(f),
                rows: (f * rows..(f + 1) * rows).collect(),
                y_true,
                y_pred,
                n_classes: k,
                proba: None,
            }
        })
        .collect()
}

/// The counts path (confusion cells of a resample) gives the intervals the
/// rows path gives, binary and multiclass, for models on the same rows and
/// one on other true labels; and a model's interval does not depend on the
/// models it is drawn with (threads split them freely).
#[test]
fn bootstrap_from_counts_equals_bootstrap_from_rows() {
    let metrics = [
        "accuracy",
        "balanced_accuracy",
        "f1",
        "precision",
        "recall_macro",
        "f1_weighted",
        "precision_micro",
    ];
    for (k, rows) in [(2, 23), (3, 17), (5, 9)] {
        let models: Vec<Vec<FoldPredictions>> = (0..4)
            .map(|s| pooled(k, 4, rows, u64::from(k) + u64::from(s == 3), 10 * u64::from(k) + s))
            .collect();
        let folds: Vec<&[FoldPredictions]> = models.iter().map(Vec::as_slice).collect();
        for metric in metrics {
            let fast = pooled::intervals(metric, &folds, 0.05, false, true);
            let slow = pooled::intervals(metric, &folds, 0.05, false, false);
            assert_eq!(fast.len(), 4);
            for (f, s) in fast.iter().zip(&slow) {
                let ((fl, fh), (sl, sh)) = (f.unwrap(), s.unwrap());
                assert!((fl - sl).abs() <= 1e-12 && (fh - sh).abs() <= 1e-12, "{metric} k={k}");
            }
            let alone = pooled::intervals(metric, &folds[1..2], 0.05, false, true);
            assert_eq!(alone[0], fast[1], "{metric} k={k}");
            assert_eq!(pooled::bootstraps(&folds, metric, 0.05, false), fast, "{metric} k={k}");
        }
    }
}

/// A code outside `0..k` leaves the counts path for the rows path, which
/// refuses the resamples that draw it, exactly as before (a resample misses
/// one given row about 37% of the time: fewer than half count, no interval).
#[test]
fn bootstrap_with_a_bad_code_takes_the_rows_path() {
    let mut model = pooled(2, 2, 30, 1, 2);
    model[0].y_pred[3] = 7.0;
    let folds = [model.as_slice()];
    let fast = pooled::intervals("f1", &folds, 0.05, false, true);
    assert_eq!(fast, pooled::intervals("f1", &folds, 0.05, false, false));
    assert_eq!(fast, vec![None]);
    assert_eq!(pooled::intervals("f1", &folds, 0.05, true, true), vec![None]);
}
