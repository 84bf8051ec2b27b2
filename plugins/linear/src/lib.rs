//! Linear regression: ordinary least squares when `alpha` is 0, ridge (L2)
//! otherwise, both with an unpenalized intercept, as scikit-learn's
//! `LinearRegression` and `Ridge` (smartcore's ridge without normalization,
//! used here before, dropped the intercept). Feature importances are the
//! absolute coefficients, in the features' units: scale them
//! (`scale = "standard"`).
//!
//! Solved by the normal equations of the centred data: one pass over the
//! row-major rows builds `XᵀX` and `Xᵀy` (features × features, small),
//! then a Cholesky factorization. A column that is, to rounding, a linear
//! combination of earlier ones (or constant) gets coefficient 0: the fitted
//! values are still the least-squares ones, where scikit-learn's `lstsq`
//! would spread the weight (minimum norm).

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct Linear;

/// The parameters.
#[derive(Params, Debug, Clone)]
pub struct LinearParams {
    #[param(default = 0.0, range = 0.0..=1e6, doc = "L2 penalty; 0 = ordinary least squares")]
    pub alpha: f64,
}

/// The fitted model: a coefficient per feature, and the intercept.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    coef: Vec<f64>,
    intercept: f64,
}

impl Plugin for Linear {
    type Params = LinearParams;
    fn about() -> About {
        About::new("linear", env!("CARGO_PKG_VERSION"))
            .describe("linear regression: least squares, or ridge when alpha > 0")
    }
}

/// Column means of `x` and the mean of `y`.
fn means(x: Matrix<'_>, y: &[f64]) -> (Vec<f64>, f64) {
    let mut mean = vec![0.0; x.cols()];
    for row in x.iter_rows() {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    let n = x.rows() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    (mean, y.iter().sum::<f64>() / n)
}

/// The centred `XᵀX` (upper triangle, row-major d × d) and `Xᵀy`.
fn normal_equations(x: Matrix<'_>, y: &[f64], mean: &[f64], y_mean: f64) -> (Vec<f64>, Vec<f64>) {
    let d = x.cols();
    let (mut gram, mut xty, mut c) = (vec![0.0; d * d], vec![0.0; d], vec![0.0; d]);
    for (row, t) in x.iter_rows().zip(y) {
        c.iter_mut().zip(row.iter().zip(mean)).for_each(|(c, (v, m))| *c = v - m);
        let t = t - y_mean;
        for i in 0..d {
            let ci = c[i];
            gram[i * d + i..(i + 1) * d].iter_mut().zip(&c[i..]).for_each(|(g, cj)| *g += ci * cj);
            xty[i] += ci * t;
        }
    }
    (gram, xty)
}

/// Solves `a w = b` for symmetric positive semi-definite `a` (upper triangle
/// read) by Cholesky; a pivot below `1e-12` of its diagonal entry marks a
/// dependent column, whose coefficient is 0.
fn solve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let d = b.len();
    // Lower factor, row-major; `kept[j]` false for a dependent column.
    let (mut l, mut kept) = (vec![0.0; d * d], vec![true; d]);
    for j in 0..d {
        let dot = |l: &[f64], p: usize, q: usize| {
            (0..j).map(|k| l[p * d + k] * l[q * d + k]).sum::<f64>()
        };
        let pivot = a[j * d + j] - dot(&l, j, j);
        if pivot <= 1e-12 * a[j * d + j] || pivot <= f64::MIN_POSITIVE {
            kept[j] = false;
            continue;
        }
        let diag = pivot.sqrt();
        l[j * d + j] = diag;
        for i in j + 1..d {
            l[i * d + j] = (a[j * d + i] - dot(&l, i, j)) / diag;
        }
    }
    // L z = b, then Lᵀ w = z, skipping dependent columns.
    let mut z = vec![0.0; d];
    for i in (0..d).filter(|&i| kept[i]) {
        z[i] = (b[i] - (0..i).map(|k| l[i * d + k] * z[k]).sum::<f64>()) / l[i * d + i];
    }
    let mut w = vec![0.0; d];
    for i in (0..d).rev().filter(|&i| kept[i]) {
        w[i] = (z[i] - (i + 1..d).map(|k| l[k * d + i] * w[k]).sum::<f64>()) / l[i * d + i];
    }
    w
}

impl Regressor for Linear {
    type Fitted = Fitted;
    fn fit(p: &LinearParams, x: Matrix<'_>, y: &[f64], _: &mut FitContext<'_>) -> Result<Fitted> {
        if x.rows() == 0 {
            return Err(Error::invalid_input("no training rows"));
        }
        let (mean, y_mean) = means(x, y);
        let (mut gram, xty) = normal_equations(x, y, &mean, y_mean);
        let d = x.cols();
        (0..d).for_each(|i| gram[i * d + i] += p.alpha);
        let coef = solve(&gram, &xty);
        if coef.iter().any(|c| !c.is_finite()) {
            return Err(Error::invalid_input("non-finite coefficients (non-finite features?)"));
        }
        let intercept = y_mean - coef.iter().zip(&mean).map(|(w, m)| w * m).sum::<f64>();
        Ok(Fitted { coef, intercept })
    }
}

impl FittedRegressor for Fitted {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        x.expect_cols(self.coef.len())?;
        for (o, row) in out.iter_mut().zip(x.iter_rows()) {
            *o = row.iter().zip(&self.coef).fold(0.0, |s, (v, w)| s + v * w) + self.intercept;
        }
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        Some(self.coef.iter().map(|c| c.abs()).collect())
    }
}

mlhost_plugin_api::export_plugin!(Linear: regressor);

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(x: &[f64], cols: usize, y: &[f64], alpha: f64) -> Fitted {
        let (x, mut ctx) = (Matrix::new(x, y.len(), cols).unwrap(), StandaloneContext::new(0, 0));
        <Linear as Regressor>::fit(&LinearParams { alpha }, x, y, &mut ctx.context()).unwrap()
    }

    fn at_ten(m: &Fitted) -> f64 {
        let mut out = [0.0];
        m.predict(Matrix::new(&[10.0], 1, 1).unwrap(), &mut out).unwrap();
        out[0]
    }

    #[test]
    fn recovers_a_line_and_ridge_shrinks_and_round_trips() {
        let (x, y) = ([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 5.0, 7.0, 9.0]); // y = 2x + 1
        let (ols, ridge) = (fit(&x, 1, &y, 0.0), fit(&x, 1, &y, 100.0));
        assert!((at_ten(&ols) - 21.0).abs() < 1e-9);
        // scikit-learn's Ridge(1.0): slope 20 / 11 on centred x, unpenalized intercept.
        let ridge_one = fit(&x, 1, &y, 1.0);
        assert!((at_ten(&ridge_one) - (200.0 / 11.0 + 5.0 - 40.0 / 11.0)).abs() < 1e-9);
        assert!(at_ten(&ridge) < 21.0);
        for m in [ols, ridge] {
            let saved: Fitted = postcard::from_bytes(&postcard::to_allocvec(&m).unwrap()).unwrap();
            assert_eq!(at_ten(&saved), at_ten(&m));
        }
    }

    #[test]
    fn importances_are_the_absolute_coefficients() {
        // y = 3 a - 0.5 b + 0 c + 2
        let x: Vec<f64> =
            (0..20).flat_map(|i| [f64::from(i), f64::from(i * i % 11), f64::from(i % 4)]).collect();
        let y: Vec<f64> = x.chunks(3).map(|r| 3.0 * r[0] - 0.5 * r[1] + 2.0).collect();
        let imp = fit(&x, 3, &y, 0.0).feature_importances().unwrap();
        assert!(imp.iter().zip([3.0, 0.5, 0.0]).all(|(a, b)| (a - b).abs() < 1e-9), "{imp:?}");
    }

    #[test]
    fn a_dependent_column_gets_zero_and_the_fit_stays_exact() {
        // b = 2a and c constant: y = 3a + 1 is still recovered.
        let x: Vec<f64> = (0..10).flat_map(|i| [f64::from(i), 2.0 * f64::from(i), 4.0]).collect();
        let y: Vec<f64> = x.chunks(3).map(|r| 3.0 * r[0] + 1.0).collect();
        let m = fit(&x, 3, &y, 0.0);
        assert_eq!((m.coef[1], m.coef[2]), (0.0, 0.0), "{m:?}");
        assert!((m.coef[0] - 3.0).abs() < 1e-9 && (m.intercept - 1.0).abs() < 1e-9, "{m:?}");
    }

    /// Cross-validated R² within 0.01 of scikit-learn's `LinearRegression()`
    /// on the generated regression target (`mlhost_cart::testdata`).
    #[test]
    fn r2_matches_scikit_learn_on_generated_data() {
        let (ours, theirs) = mlhost_cart::testdata::regress("linear_regression_r2", |x, y, q| {
            let m = fit(x, 20, y, 0.0);
            let mut pred = vec![0.0; q.len() / 20];
            m.predict(Matrix::new(q, pred.len(), 20).unwrap(), &mut pred).unwrap();
            pred
        });
        assert!((ours - theirs).abs() <= 0.01, "linear {ours:.4} vs scikit-learn {theirs:.4}");
    }
}
