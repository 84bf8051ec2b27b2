//! Issue 16's compare figure: `compare` of a stored run of 100 candidates
//! × 10 folds (target < 100 ms): 569 rows (breast_cancer's size), two
//! classes, accuracy and f1 per fold, held-out predictions with
//! probabilities; written through the Store API, then compared on f1 (every
//! statistic, Holm over 99 comparisons, 100 bootstrap intervals).
//!
//!     cargo bench -p mlhost --bench compare

use criterion::{Criterion, criterion_group, criterion_main};
use mlhost::domain::{FoldPredictions, MetricSet, RunId};
use mlhost::metrics::{ClassInput, classification};
use mlhost::service::compare::{CompareRequest, compare};
use mlhost::store::{JobEnd, NewJob, ResultRow, Store};
use mlhost_plugin_api::SeededRng;

const MODELS: usize = 100;
const FOLDS: u32 = 10;
const ROWS: u32 = 569;

/// One candidate's folds: row r is in fold r % FOLDS; the candidate is
/// right with probability 0.7 + 0.25 · m / MODELS.
fn job_outcome(
    job: &NewJob,
    m: usize,
    rng: &mut SeededRng,
) -> (Vec<ResultRow>, Vec<FoldPredictions>) {
    let (mut results, mut preds) = (Vec::new(), Vec::new());
    let skill = 0.7 + 0.25 * m as f64 / MODELS as f64;
    for f in 0..FOLDS {
        let rows: Vec<u32> = (0..ROWS).filter(|r| r % FOLDS == f).collect();
        let y_true: Vec<u32> = rows.iter().map(|r| r % 2).collect();
        let y_pred: Vec<u32> =
            y_true.iter().map(|&y| if rng.uniform() < skill { y } else { 1 - y }).collect();
        let proba: Vec<f64> =
            y_pred.iter().flat_map(|&p| if p == 1 { [0.2, 0.8] } else { [0.8, 0.2] }).collect();
        let input = ClassInput {
            y_true: &y_true,
            y_pred: &y_pred,
            proba: Some(&proba),
            n_classes: 2,
            pos_label: 1,
        };
        let metrics: MetricSet = classification(input).unwrap().to_set();
        results.push(ResultRow {
            job_id: job.job_id.clone(),
            model_id: job.model_id.clone(),
            model_version: "1".into(),
            fold: i64::from(f),
            metrics,
            duration_ms: 1,
        });
        let as_f64 = |v: &[u32]| v.iter().map(|&x| f64::from(x)).collect();
        let (y_true, y_pred) = (as_f64(&y_true), as_f64(&y_pred));
        preds.push(FoldPredictions {
            fold: i64::from(f),
            rows,
            y_true,
            y_pred,
            n_classes: 2,
            proba: Some(proba),
        });
    }
    (results, preds)
}

fn synthetic_run(store: &mut Store) -> String {
    let run = RunId::generate();
    let jobs: Vec<NewJob> = (0..MODELS)
        .map(|m| NewJob {
            job_id: format!("{run}-{m}").as_str().into(),
            model_id: format!("model-{m}"),
            model_version: "1".into(),
            params_json: "{}".into(),
        })
        .collect();
    store.create_run(&run, &"synthetic".into(), &serde_json::json!({}), &jobs).unwrap();
    let mut rng = SeededRng::new(16);
    for (m, job) in jobs.iter().enumerate() {
        let (results, predictions) = job_outcome(job, m, &mut rng);
        store.job_started(&job.job_id).unwrap();
        let end = mlhost::store::JobEnd {
            status: mlhost::domain::JobStatus::Succeeded,
            error: None,
            results: &results,
            predictions: &predictions,
        };
        let _: &JobEnd<'_> = &end;
        store.job_finished(&job.job_id, end).unwrap();
    }
    run.to_string()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("bench.db")).unwrap();
    let run = synthetic_run(&mut store);
    let req = CompareRequest { reference: None, metric: Some("f1".into()), alpha: 0.05 };
    let report = compare(&store, &run, &req).unwrap();
    assert_eq!(report.comparisons.len(), MODELS - 1);
    let mut group = c.benchmark_group("compare");
    group.sample_size(10);
    group.bench_function("100_candidates_x_10_folds", |b| {
        b.iter(|| compare(&store, &run, &req).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
