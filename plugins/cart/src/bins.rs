//! Features as bin codes: one byte per value, column by column, and the
//! real-valued edges between the bins. Two ways to cut: [`Binned::new`]
//! (the CART trees': midpoints between distinct values, or between
//! quantiles of them) and [`Binned::quantiles`] (scikit-learn's
//! HistGradientBoosting: midpoints between distinct values, or percentiles
//! of all values). A NaN falls in the top bin: above every edge, where a
//! tree's `x <= threshold` test sends it too.

use mlhost_plugin_api::Matrix;

/// Most bins per feature (bin codes are `u8`).
pub const MAX_BINS: usize = 255;

/// The training data as bin codes, column by column.
#[derive(Debug)]
pub struct Binned {
    /// `codes[f][row]`: column-major, so one feature's codes of a node's
    /// rows are read from one array.
    pub codes: Vec<Vec<u8>>,
    /// `edges[f][b]`: the upper bound of bin `b` (values ≤ it fall in `b` or
    /// lower); one fewer than the feature's bins.
    pub edges: Vec<Vec<f64>>,
    /// `nan[f]`: whether feature `f` had a NaN (binned into the top bin).
    pub nan: Vec<bool>,
}

impl Binned {
    /// Bins every column of `x` (the CART trees' cuts, at most
    /// [`MAX_BINS`] bins).
    pub fn new(x: Matrix<'_>) -> Binned {
        let rows: Vec<u32> = (0..x.rows() as u32).collect();
        Binned::build(x, &rows, cut_points)
    }

    /// Bins the rows `rows` of `x` (codes in that order) as scikit-learn's
    /// HistGradientBoosting does, into at most `max_bins` (≤ [`MAX_BINS`])
    /// bins per feature: midpoints between distinct values when there are
    /// at most `max_bins` of them, else the `max_bins - 1` inner percentiles
    /// (numpy's `averaged_inverted_cdf`) of all the values, deduplicated.
    /// Unlike scikit-learn, every row is used (no subsample of 200,000).
    pub fn quantiles(x: Matrix<'_>, rows: &[u32], max_bins: usize) -> Binned {
        let max_bins = max_bins.clamp(2, MAX_BINS);
        Binned::build(x, rows, |column| percentile_cuts(column, max_bins))
    }

    fn build(x: Matrix<'_>, rows: &[u32], cuts: impl Fn(&[f64]) -> Vec<f64>) -> Binned {
        let cols = x.cols();
        let mut binned = Binned {
            codes: Vec::with_capacity(cols),
            edges: Vec::with_capacity(cols),
            nan: Vec::with_capacity(cols),
        };
        let mut column = vec![0.0; rows.len()];
        for f in 0..cols {
            for (v, &r) in column.iter_mut().zip(rows) {
                *v = x.row(r as usize)[f];
            }
            let e = cuts(&column);
            binned.codes.push(column.iter().map(|&v| bin_of(&e, v)).collect());
            binned.nan.push(column.iter().any(|v| v.is_nan()));
            binned.edges.push(e);
        }
        binned
    }

    /// Bins of feature `f` (edges + 1).
    pub fn bins(&self, f: usize) -> usize {
        self.edges[f].len() + 1
    }
}

/// The bin of `v` among `edges` (values ≤ `edges[b]` fall in `b` or lower);
/// NaN in the top bin.
fn bin_of(edges: &[f64], v: f64) -> u8 {
    if v.is_nan() { edges.len() as u8 } else { edges.partition_point(|edge| *edge < v) as u8 }
}

/// Up to `MAX_BINS - 1` thresholds: midpoints between consecutive distinct
/// values, or between quantiles of them when there are too many.
fn cut_points(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted.dedup();
    if sorted.len() <= MAX_BINS {
        return sorted.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect();
    }
    let mut cuts: Vec<f64> = (1..MAX_BINS)
        .map(|i| {
            let at = i * (sorted.len() - 1) / MAX_BINS;
            sorted[at] + (sorted[at + 1] - sorted[at]) / 2.0
        })
        .collect();
    cuts.dedup();
    cuts
}

/// scikit-learn's `_find_binning_thresholds` without sample weights, with
/// numpy's float operations in the same order so the edges are the same
/// bits: `linspace(0, 100, max_bins + 1)[1:-1]` as percentiles, virtual
/// index `n * q - 1`, the mean of two neighbours on an exact index.
fn percentile_cuts(values: &[f64], max_bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    }
    let n = sorted.len() as f64;
    let step = 100.0 / max_bins as f64;
    let last = sorted.len() - 1;
    let mut cuts: Vec<f64> = (1..max_bins)
        .map(|i| {
            let index = n * ((i as f64 * step) / 100.0) - 1.0;
            let below = index.floor();
            let at = (below.max(0.0) as usize).min(last);
            let (a, b) = (sorted[at], sorted[(at + 1).min(last)]);
            // numpy's lerp with gamma 0.5 (exact index) or 1 (between two).
            if index == below { b - (b - a) * 0.5 } else { b }
        })
        .collect();
    cuts.dedup();
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_edges_are_numpys() {
        // np.percentile(np.arange(1000.0) ** 2, np.linspace(0, 100, 6)[1:-1],
        //               method="averaged_inverted_cdf") == [39800.5, 159600.5, 359400.5, 639200.5]
        let values: Vec<f64> = (0..1000).map(|i| f64::from(i) * f64::from(i)).collect();
        assert_eq!(percentile_cuts(&values, 5), [39800.5, 159600.5, 359400.5, 639200.5]);
        // np.percentile(np.arange(10.0), np.linspace(0, 100, 4)[1:-1], ...) == [3.0, 6.0]
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(percentile_cuts(&values, 3), [3.0, 6.0]);
        assert_eq!(percentile_cuts(&[1.0, 3.0, 3.0, f64::NAN], 255), [2.0]);
    }

    #[test]
    fn nan_falls_above_every_edge() {
        let x = [1.0, f64::NAN, 3.0, 2.0];
        let b = Binned::quantiles(Matrix::new(&x, 4, 1).unwrap(), &[0, 1, 2, 3], 255);
        assert_eq!((b.codes[0].as_slice(), b.nan[0]), (&[0, 2, 2, 1][..], true));
        assert_eq!(b.edges[0], [1.5, 2.5]);
    }
}
