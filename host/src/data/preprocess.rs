//! Feature scaling applied by the host, per candidate (`scale` in
//! `models.toml`), fitted on the training rows of each fold only so nothing
//! of the test rows leaks into training. Definitions follow scikit-learn's
//! `StandardScaler`, `MinMaxScaler` and `RobustScaler` (a constant column is
//! left unscaled, as their `_handle_zeros_in_scale` does).

use mlhost_plugin_api::Matrix;
use serde::{Deserialize, Serialize};

/// How a candidate's features are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Unchanged (no copy of the data is made).
    #[default]
    None,
    /// Zero mean, unit variance (population std).
    Standard,
    /// Into [0, 1] by each column's min and max.
    Minmax,
    /// Median removed, divided by the interquartile range.
    Robust,
}

impl Scale {
    /// The name used in config and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::None => "none",
            Scale::Standard => "standard",
            Scale::Minmax => "minmax",
            Scale::Robust => "robust",
        }
    }
}

/// A fitted scaler: `(x - offset) / scale`, column by column.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    offset: Vec<f64>,
    scale: Vec<f64>,
}

impl Scaler {
    /// Fits `kind` on `x`; `None` when there is nothing to do.
    pub fn fit(kind: Scale, x: Matrix<'_>) -> Option<Scaler> {
        let cols = x.cols();
        let n = x.rows() as f64;
        let column = |j: usize| x.iter_rows().map(move |r| r[j]);
        let (offset, scale): (Vec<f64>, Vec<f64>) = match kind {
            Scale::None => return None,
            Scale::Standard => (0..cols)
                .map(|j| {
                    let mean = column(j).sum::<f64>() / n;
                    let var = column(j).map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                    (mean, var.sqrt())
                })
                .unzip(),
            Scale::Minmax => (0..cols)
                .map(|j| {
                    let (lo, hi) = column(j)
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                            (lo.min(v), hi.max(v))
                        });
                    (lo, hi - lo)
                })
                .unzip(),
            Scale::Robust => (0..cols)
                .map(|j| {
                    let mut v: Vec<f64> = column(j).collect();
                    v.sort_by(f64::total_cmp);
                    (percentile(&v, 50.0), percentile(&v, 75.0) - percentile(&v, 25.0))
                })
                .unzip(),
        };
        // A constant column keeps scale 1, as scikit-learn does.
        let scale = scale
            .into_iter()
            .map(|s| if s.abs() < 10.0 * f64::EPSILON { 1.0 } else { s })
            .collect();
        Some(Scaler { offset, scale })
    }

    /// `x` scaled, as one contiguous row-major buffer.
    pub fn transform(&self, x: Matrix<'_>) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.rows() * x.cols());
        for row in x.iter_rows() {
            out.extend(
                row.iter().zip(&self.offset).zip(&self.scale).map(|((v, o), s)| (v - o) / s),
            );
        }
        out
    }
}

/// numpy's default (linear) percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(kind: Scale, data: &[f64], cols: usize) -> Vec<f64> {
        let m = Matrix::new(data, data.len() / cols, cols).unwrap();
        Scaler::fit(kind, m).unwrap().transform(m)
    }

    #[test]
    fn match_scikit_learn() {
        // StandardScaler().fit_transform([[1, 5], [2, 5], [3, 5]])
        let s = 1.0 / (2.0f64 / 3.0).sqrt();
        assert_eq!(scaled(Scale::Standard, &[1., 5., 2., 5., 3., 5.], 2), [-s, 0., 0., 0., s, 0.]);
        // MinMaxScaler().fit_transform([[1], [3], [5]])
        assert_eq!(scaled(Scale::Minmax, &[1., 3., 5.], 1), [0., 0.5, 1.]);
        // RobustScaler().fit_transform([[1], [2], [3], [4], [100]]): median 3, IQR 4 - 2
        assert_eq!(scaled(Scale::Robust, &[1., 2., 3., 4., 100.], 1), [-1., -0.5, 0., 0.5, 48.5]);
        assert!(Scaler::fit(Scale::None, Matrix::new(&[1.0], 1, 1).unwrap()).is_none());
    }

    #[test]
    fn fitted_on_training_rows_only() {
        let data = [0.0, 10.0, 1000.0];
        let train = Matrix::select(&data, 1, &[0, 1]).unwrap();
        let test = Matrix::select(&data, 1, &[2]).unwrap();
        let scaler = Scaler::fit(Scale::Minmax, train).unwrap();
        assert_eq!(scaler.transform(test), [100.0], "the test row is scaled by train stats");
    }
}
