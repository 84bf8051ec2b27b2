//! compare over runs written through the Store API.

use super::*;
use crate::domain::{FoldPredictions, MetricSet, RunId};
use crate::store::{JobEnd, NewJob, ResultRow};

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
