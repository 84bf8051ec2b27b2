//! Data drift between a reference and a current sample of one feature:
//! the population stability index (PSI), the two-sample
//! Kolmogorov–Smirnov test for numbers and the chi-square test of the
//! category counts. Every test equals SciPy's (`ks_2samp`,
//! `chi2_contingency`; fixtures from `tests/fixtures/scipy/drift.py`).
//! Pure: samples in, numbers out.

mod kolmogorov;
mod ks;
mod special;
#[cfg(test)]
mod tests;

pub use ks::{KsResult, ks_2samp};
pub use special::chi2_sf;

/// A bin's share below this counts as this: an empty bin would make PSI
/// infinite (ln 0). 1e-4 is the usual choice of PSI implementations (a
/// bin holding 0.01% of the rows); it bounds one empty bin's term at about
/// p ln(p / 1e-4).
pub const PSI_EPSILON: f64 = 1e-4;

/// The values of `column` sorted ascending, NaN (missing) left out and -0.0
/// written as 0.0. Radix-sorted: the time of a drift report is mostly this.
pub fn sorted(column: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut keys: Vec<u64> =
        column.filter(|v| !v.is_nan()).map(|v| super::ranking::ordered_bits(v + 0.0)).collect();
    super::ranking::radix_sort(&mut keys);
    keys.into_iter().map(from_ordered_bits).collect()
}

fn from_ordered_bits(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The deciles of a sorted sample (NumPy's default "linear" quantile).
pub fn deciles(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    (1..10)
        .map(|k| {
            let q = k as f64 / 10.0;
            // NumPy: virtual index n q + (1 - q) - 1, then a lerp that is
            // exact at both ends.
            let virtual_index = (n as f64 * q + (1.0 - q)) - 1.0;
            let lo = virtual_index.floor().clamp(0.0, (n - 1) as f64);
            let hi = (lo + 1.0).min((n - 1) as f64);
            let t = virtual_index - virtual_index.floor();
            let (a, b) = (sorted[lo as usize], sorted[hi as usize]);
            let diff = b - a;
            if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
        })
        .collect()
}

/// PSI of a numeric feature: 10 bins cut at the reference's deciles (equal
/// edges merged), bin i holding the values v with edge[i-1] <= v < edge[i];
/// both samples sorted as [`sorted`] returns them.
pub fn psi_numeric(reference: &[f64], current: &[f64]) -> Option<f64> {
    if reference.is_empty() || current.is_empty() {
        return None;
    }
    let mut edges = deciles(reference);
    edges.dedup();
    let counts = |s: &[f64]| -> Vec<u64> {
        let mut below: Vec<usize> = edges.iter().map(|&e| s.partition_point(|&v| v < e)).collect();
        below.push(s.len());
        let mut prev = 0;
        below
            .into_iter()
            .map(|b| {
                let c = (b - prev) as u64;
                prev = b;
                c
            })
            .collect()
    };
    Some(psi(&counts(reference), &counts(current)))
}

/// PSI from counts per bin (or per category) on each side:
/// Σ (c - r) ln(c / r) over the shares, each at least [`PSI_EPSILON`].
pub fn psi(reference: &[u64], current: &[u64]) -> f64 {
    let (nr, nc) = (reference.iter().sum::<u64>() as f64, current.iter().sum::<u64>() as f64);
    reference
        .iter()
        .zip(current)
        .map(|(&r, &c)| {
            let r = (r as f64 / nr).max(PSI_EPSILON);
            let c = (c as f64 / nc).max(PSI_EPSILON);
            (c - r) * (c / r).ln()
        })
        .sum()
}

/// A chi-square test's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chi2Result {
    /// The statistic (Yates-corrected on a 2x2 table).
    pub statistic: f64,
    /// P(χ² > statistic).
    pub p_value: f64,
    /// Degrees of freedom: categories - 1.
    pub dof: usize,
}

/// `scipy.stats.chi2_contingency([reference, current])` on the 2 x C table
/// of category counts (every category seen on at least one side): Yates'
/// correction when dof is 1, as SciPy's default; one category is dof 0,
/// statistic 0, p 1. `None` when a side is empty.
pub fn chi2_contingency(reference: &[u64], current: &[u64]) -> Option<Chi2Result> {
    let (nr, nc) = (reference.iter().sum::<u64>() as f64, current.iter().sum::<u64>() as f64);
    if nr == 0.0 || nc == 0.0 {
        return None;
    }
    let total = nr + nc;
    let dof = reference.len().saturating_sub(1);
    if dof == 0 {
        return Some(Chi2Result { statistic: 0.0, p_value: 1.0, dof });
    }
    let mut statistic = 0.0;
    for (&r, &c) in reference.iter().zip(current) {
        let col = (r + c) as f64;
        for (observed, row) in [(r as f64, nr), (c as f64, nc)] {
            let expected = row * col / total;
            let mut observed = observed;
            if dof == 1 {
                let diff = expected - observed;
                observed += diff.abs().min(0.5) * diff.signum() * f64::from(diff != 0.0);
            }
            statistic += (observed - expected).powi(2) / expected;
        }
    }
    Some(Chi2Result { statistic, p_value: chi2_sf(statistic, dof as f64), dof })
}
