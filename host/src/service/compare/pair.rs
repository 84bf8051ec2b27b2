//! Two jobs of any runs against each other: the comparison `compare` makes
//! within one run, for jobs that were not run together but were tested on
//! the same folds row for row (two studies of one dataset and protocol, or
//! a study and an eval of it: `mlhost automl`'s best trials and its
//! baseline). The folds are checked as `compare` checks them.

use super::{CompareError, Model, ModelComparison, check_folds, invalid, one};
use crate::domain::Direction;
use crate::store::Store;

/// One job as [`pair`] names it.
#[derive(Debug, Clone, Copy)]
pub struct JobRef<'a> {
    /// What to call it (a candidate id).
    pub name: &'a str,
    /// Its run (a study's run for a trial).
    pub run_id: &'a str,
    /// The job.
    pub job_id: &'a str,
}

/// `model` against `reference` on `metric` at `alpha`: mean difference over
/// folds, the corrected resampled t-test and its interval, Wilcoxon and
/// McNemar, with `significant` = p < alpha (one comparison, no Holm).
/// Refused when the jobs were not tested on the same folds, when there are
/// fewer than 2 folds, or when the metric is undefined on a fold.
pub fn pair(
    store: &Store,
    model: JobRef<'_>,
    reference: JobRef<'_>,
    metric: &str,
    alpha: f64,
) -> Result<ModelComparison, CompareError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(invalid(format!("alpha {alpha} is not between 0 and 1; use e.g. 0.05")));
    }
    let m = load(store, model, metric)?;
    let r = load(store, reference, metric)?;
    let ratio = check_folds(std::slice::from_ref(&m), &r)?;
    let mut c = one(&m, &r, ratio, alpha, Direction::of(metric), None);
    c.significant = c.p_value < alpha;
    Ok(c)
}

/// A job's per-fold values of `metric` and its held-out predictions.
fn load(store: &Store, job: JobRef<'_>, metric: &str) -> Result<Model, CompareError> {
    let mut rows: Vec<_> = store
        .results(job.run_id)?
        .into_iter()
        .filter(|r| r.job_id.as_str() == job.job_id && r.fold >= 0)
        .collect();
    if rows.is_empty() {
        return Err(invalid(format!(
            "job {} of run {} has no stored folds",
            job.job_id, job.run_id
        )));
    }
    rows.sort_by_key(|r| r.fold);
    let mut folds = Vec::with_capacity(rows.len());
    for row in &rows {
        let v = row.metrics.get(metric).ok_or_else(|| {
            invalid(format!("{metric} is undefined on fold {} of '{}'", row.fold, job.name))
        })?;
        folds.push(v);
    }
    let mean = folds.iter().sum::<f64>() / folds.len() as f64;
    Ok(Model {
        name: job.name.to_owned(),
        job_id: job.job_id.to_owned(),
        folds,
        mean,
        predictions: store.predictions(job.job_id)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::compare::tests::run;

    /// Two models of two runs on the same folds compare as they would in
    /// one run; shifted folds are refused.
    #[test]
    fn jobs_of_two_runs_compare_as_in_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        let a = run(&mut store, &[("good", |r| r % 10 != 0)], None);
        let b = run(&mut store, &[("bad", |r| r % 2 == 0)], None);
        let both = run(&mut store, &[("good", |r| r % 10 != 0), ("bad", |r| r % 2 == 0)], None);
        let job = |run: &str, m: &str| format!("{run}-{m}");
        let (ja, jb) = (job(&a, "good"), job(&b, "bad"));
        let good = JobRef { name: "good", run_id: &a, job_id: &ja };
        let bad = JobRef { name: "bad", run_id: &b, job_id: &jb };
        let c = pair(&store, good, bad, "accuracy", 0.05).unwrap();
        let req = crate::service::compare::CompareRequest {
            reference: Some("bad".into()),
            metric: Some("accuracy".into()),
            alpha: 0.05,
        };
        let within = crate::service::compare::compare(&store, &both, &req).unwrap();
        let w = &within.comparisons[0];
        assert_eq!((c.mean_diff, c.p_value, c.ci_low), (w.mean_diff, w.p_value, w.ci_low));
        assert_eq!((c.better, c.significant), (true, w.p_value < 0.05));
        let s = run(&mut store, &[("shifted", |r| r % 2 == 0)], Some("shifted"));
        let js = job(&s, "shifted");
        let shifted = JobRef { name: "shifted", run_id: &s, job_id: &js };
        let e = pair(&store, good, shifted, "accuracy", 0.05).unwrap_err();
        assert!(e.to_string().contains("tested on different folds"), "{e}");
        let e = pair(&store, good, bad, "f1", 0.05).unwrap_err();
        assert!(e.to_string().contains("f1 is undefined on fold 0 of 'good'"), "{e}");
    }
}
