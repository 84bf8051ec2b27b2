//! Statistics for comparing models: the corrected resampled t-test
//! (Nadeau & Bengio), the Wilcoxon signed-rank test, McNemar's exact test,
//! a percentile bootstrap interval and Holm's step-down correction. Pure
//! functions over numbers; every value equals SciPy's (or statsmodels'
//! formula) to 1e-9 (`host/tests/data/scipy_stats.json`, made by
//! `tests/fixtures/scipy/stats.py`).

mod bootstrap;
pub mod special;
mod wilcoxon;

#[cfg(test)]
mod tests;

pub use bootstrap::{BOOTSTRAP_RESAMPLES, Resample, bootstrap_interval, bootstrap_intervals};
pub use special::{t_cdf, t_ppf};
pub use wilcoxon::wilcoxon;

/// The corrected resampled t-test of per-fold differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// mean(d).
    pub mean: f64,
    /// t = mean(d) / sqrt((1/k + r) · var(d, ddof=1)); infinite when every
    /// difference is the same non-zero value, 0 when all are zero.
    pub t: f64,
    /// Two-sided p with k − 1 degrees of freedom.
    pub p: f64,
    /// mean(d) − t(1 − alpha/2, k − 1) · sqrt((1/k + r) · var).
    pub ci_low: f64,
    /// mean(d) + the same half-width.
    pub ci_high: f64,
}

/// Nadeau & Bengio's corrected resampled t-test of the differences `d`
/// (one per fold, k ≥ 2), `r` = the mean over folds of test size / train
/// size, with a `1 - alpha` interval for the mean difference.
pub fn corrected_t_test(d: &[f64], r: f64, alpha: f64) -> TTest {
    let k = d.len() as f64;
    let mean = d.iter().sum::<f64>() / k;
    let var = d.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (k - 1.0);
    let se = ((1.0 / k + r) * var).sqrt();
    let df = k - 1.0;
    let half = t_ppf(1.0 - alpha / 2.0, df) * se;
    let (t, p) = if se > 0.0 {
        let t = mean / se;
        (t, (2.0 * special::t_tail(t, df)).min(1.0))
    } else if mean == 0.0 {
        (0.0, 1.0)
    } else {
        (mean.signum() * f64::INFINITY, 0.0)
    };
    TTest { mean, t, p, ci_low: mean - half, ci_high: mean + half }
}

/// McNemar's exact test (statsmodels' `mcnemar(exact=True)`): `b` rows
/// only the first model gets right, `c` rows only the second;
/// p = min(1, 2 · P(X ≤ min(b, c))) for X ~ Binomial(b + c, 1/2).
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    (2.0 * special::binom_cdf(b.min(c), b + c, 0.5)).min(1.0)
}

/// Holm's step-down adjusted p-values, in the order given: the i-th
/// smallest p times (m − i + 1), made non-decreasing, at most 1
/// (statsmodels' `multipletests(method="holm")`).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (i, &o) in order.iter().enumerate() {
        running = running.max(((m - i) as f64 * p[o]).min(1.0));
        adjusted[o] = running;
    }
    adjusted
}

/// The `q`-quantile (0..=1) of sorted `v` with linear interpolation
/// between the two nearest ranks (numpy's default `percentile`).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}
