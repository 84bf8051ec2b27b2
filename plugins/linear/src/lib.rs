//! Linear regression (smartcore): ordinary least squares when `alpha` is 0,
//! ridge (L2, on unnormalized features, as scikit-learn's `Ridge`) otherwise.

use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, Task,
};
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::linear_regression::{
    LinearRegression, LinearRegressionParameters, LinearRegressionSolverName,
};
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};

type Ols = LinearRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>;
type Ridge = RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>>;

#[derive(Debug, Serialize, Deserialize)]
enum Fitted {
    Ols(Ols),
    Ridge(Ridge),
}

/// See the crate docs.
#[derive(Debug)]
pub struct Linear {
    alpha: f64,
    fitted: Option<Fitted>,
}

fn dense(x: Matrix<'_>) -> Result<DenseMatrix<f64>> {
    DenseMatrix::new(x.rows(), x.cols(), x.to_vec(), false).map_err(Error::msg)
}

impl Model for Linear {
    fn info() -> PluginInfo {
        PluginInfo::new("linear", env!("CARGO_PKG_VERSION"), Task::Regression)
            .describe("linear regression (smartcore): least squares, or ridge when alpha > 0")
            .param(
                ParamSpec::float("alpha", 0.0)
                    .range(0.0, 1e6)
                    .describe("L2 penalty; 0 = ordinary least squares"),
            )
    }

    fn new(p: &Params) -> Result<Self> {
        Ok(Linear { alpha: p.float("alpha")?, fitted: None })
    }

    fn fit(&mut self, x: Matrix<'_>, y: &[f64], _ctx: &mut FitContext<'_>) -> Result<()> {
        let (xs, ys) = (dense(x)?, y.to_vec());
        self.fitted = Some(if self.alpha == 0.0 {
            let params =
                LinearRegressionParameters::default().with_solver(LinearRegressionSolverName::QR);
            Fitted::Ols(Ols::fit(&xs, &ys, params).map_err(Error::msg)?)
        } else {
            let params =
                RidgeRegressionParameters::default().with_alpha(self.alpha).with_normalize(false);
            Fitted::Ridge(Ridge::fit(&xs, &ys, params).map_err(Error::msg)?)
        });
        Ok(())
    }

    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let xs = dense(x)?;
        let pred =
            match self.fitted.as_ref().ok_or_else(|| Error::msg("predict called before fit"))? {
                Fitted::Ols(m) => m.predict(&xs),
                Fitted::Ridge(m) => m.predict(&xs),
            }
            .map_err(Error::msg)?;
        out.copy_from_slice(&pred);
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        let m = self.fitted.as_ref().ok_or_else(|| Error::msg("save called before fit"))?;
        serde_json::to_vec(m).map_err(Error::msg)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let m: Fitted = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_input(format!("not a saved linear model: {e}")))?;
        self.fitted = Some(m);
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(Linear);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::{ParamValue, StandaloneContext};

    #[test]
    fn recovers_a_line_and_ridge_shrinks() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 3.0, 5.0, 7.0, 9.0]; // y = 2x + 1
        let mut m = Linear::new(&Linear::info().defaults()).unwrap();
        m.fit(Matrix::new(&x, 5, 1).unwrap(), &y, &mut StandaloneContext::new(0, 0).context())
            .unwrap();
        let mut out = [0.0];
        m.predict(Matrix::new(&[10.0], 1, 1).unwrap(), &mut out).unwrap();
        assert!((out[0] - 21.0).abs() < 1e-9, "{out:?}");
        let mut r =
            Linear::new(&Linear::info().defaults().set("alpha", ParamValue::Float(100.0))).unwrap();
        r.fit(Matrix::new(&x, 5, 1).unwrap(), &y, &mut StandaloneContext::new(0, 0).context())
            .unwrap();
        let mut shrunk = [0.0];
        r.predict(Matrix::new(&[10.0], 1, 1).unwrap(), &mut shrunk).unwrap();
        assert!(shrunk[0] < 21.0);
        let mut l = Linear::new(&Linear::info().defaults()).unwrap();
        l.load(&m.save().unwrap()).unwrap();
        let mut again = [0.0];
        l.predict(Matrix::new(&[10.0], 1, 1).unwrap(), &mut again).unwrap();
        assert_eq!(again, out);
    }
}
