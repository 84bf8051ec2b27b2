//! Feature scaling, per candidate (`scale` in `models.toml`), fitted on the
//! training rows of each fold only so nothing of the test rows leaks into
//! training (`prep` applies it to the numeric columns). Definitions follow scikit-learn's
//! `StandardScaler`, `MinMaxScaler` and `RobustScaler` (a constant column is
//! left unscaled, as their `_handle_zeros_in_scale` does).

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

/// The `(offset, scale)` of one column for `kind` (`(0, 1)` for `None`);
/// may reorder `values`. A constant column keeps scale 1, as scikit-learn's
/// `_handle_zeros_in_scale` does.
pub fn column_stats(kind: Scale, values: &mut [f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let (offset, scale) = match kind {
        Scale::None => return (0.0, 1.0),
        Scale::Standard => {
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            (mean, var.sqrt())
        }
        Scale::Minmax => {
            let (lo, hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
            if values.is_empty() { (0.0, 1.0) } else { (lo, hi - lo) }
        }
        Scale::Robust => {
            values.sort_by(f64::total_cmp);
            (percentile(values, 50.0), percentile(values, 75.0) - percentile(values, 25.0))
        }
    };
    (offset, if scale.abs() < 10.0 * f64::EPSILON { 1.0 } else { scale })
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

    fn scaled(kind: Scale, column: &[f64]) -> Vec<f64> {
        let (offset, scale) = column_stats(kind, &mut column.to_vec());
        column.iter().map(|v| (v - offset) / scale).collect()
    }

    #[test]
    fn match_scikit_learn() {
        // StandardScaler().fit_transform([[1], [2], [3]]); a constant column stays
        let s = 1.0 / (2.0f64 / 3.0).sqrt();
        assert_eq!(scaled(Scale::Standard, &[1., 2., 3.]), [-s, 0., s]);
        assert_eq!(scaled(Scale::Standard, &[5., 5., 5.]), [0., 0., 0.]);
        // MinMaxScaler().fit_transform([[1], [3], [5]])
        assert_eq!(scaled(Scale::Minmax, &[1., 3., 5.]), [0., 0.5, 1.]);
        // RobustScaler().fit_transform([[1], [2], [3], [4], [100]]): median 3, IQR 4 - 2
        assert_eq!(scaled(Scale::Robust, &[1., 2., 3., 4., 100.]), [-1., -0.5, 0., 0.5, 48.5]);
        assert_eq!(column_stats(Scale::None, &mut [7.0]), (0.0, 1.0));
    }
}
