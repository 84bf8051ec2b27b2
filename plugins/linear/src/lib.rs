//! Linear regression (smartcore): ordinary least squares when `alpha` is 0,
//! ridge (L2, on unnormalized features and, unlike scikit-learn's `Ridge`,
//! without an intercept) otherwise. Feature importances are the absolute
//! coefficients, in the features' units: scale them (`scale = "standard"`).

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};

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
            .describe("linear regression (smartcore): least squares, or ridge when alpha > 0")
    }
}

impl Regressor for Linear {
    type Fitted = Fitted;
    fn fit(p: &LinearParams, x: Matrix<'_>, y: &[f64], _: &mut FitContext<'_>) -> Result<Fitted> {
        let xs = DenseMatrix::new(x.rows(), x.cols(), x.to_vec(), false).map_err(Error::msg)?;
        let (w, intercept) = if p.alpha == 0.0 {
            let params =
                LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::QR);
            let m = LinearRegression::fit(&xs, &y.to_vec(), params).map_err(Error::msg)?;
            (m.coefficients().clone(), *m.intercept())
        } else {
            let params =
                RidgeRegressionParameters::default().with_alpha(p.alpha).with_normalize(false);
            let m = RidgeRegression::fit(&xs, &y.to_vec(), params).map_err(Error::msg)?;
            (m.coefficients().clone(), *m.intercept())
        };
        Ok(Fitted { coef: w.iterator(0).copied().collect(), intercept })
    }
}

/// Sums in smartcore's order (its `matmul`, then the intercept): the same bits.
impl FittedRegressor for Fitted {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let n = self.coef.len();
        if x.cols() != n {
            return Err(Error::invalid_input(format!("{} features; fitted on {n}", x.cols())));
        }
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
}
