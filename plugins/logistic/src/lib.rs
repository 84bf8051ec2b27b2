//! Logistic regression: binary, or multinomial for more classes, fitted
//! with linfa-logistic (L-BFGS). `c` is scikit-learn's inverse regularization
//! strength (linfa's `alpha` = 1 / c; both penalize the summed log loss).
//!
//! After fitting, the weights are copied out of linfa into a plain struct,
//! [`Weights`]: prediction, probabilities and save/load then need nothing
//! but a dot product, and no ndarray type ever leaves this crate.
//!
//! Feature importances are the absolute coefficients (on the scale of the
//! features the model saw, so scale them to compare); for more than two
//! classes, the mean absolute coefficient of each feature across the classes.

use linfa::prelude::*;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use mlhost_plugin_api::{
    About, Classifier, Error, FitContext, FittedClassifier, Matrix, Params, Plugin, Proba, Result,
};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct Logistic;

/// The logistic regression's parameters.
#[derive(Params, Debug, Clone)]
pub struct LogisticParams {
    /// inverse L2 regularization strength, as scikit-learn's C
    #[param(default = 1.0, range = 1e-6..=1e6, log)]
    pub c: f64,
    /// L-BFGS iterations
    #[param(default = 100, range = 1..=100_000)]
    pub max_iter: u64,
    /// learn a bias term
    #[param(default = true)]
    pub fit_intercept: bool,
}

/// A fitted model: one weight row per output, bias per output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    cols: usize,
    /// Binary: one row, the positive class's logit. Multinomial: one row per
    /// class in `classes`.
    w: Vec<f64>,
    b: Vec<f64>,
    /// Class code of each output row (binary: the positive class).
    classes: Vec<usize>,
    binary: bool,
}

impl Plugin for Logistic {
    type Params = LogisticParams;
    fn about() -> About {
        About::new("logistic", env!("CARGO_PKG_VERSION"))
            .describe("logistic regression (linfa-logistic, L-BFGS), binary or multinomial")
    }
}

impl Classifier for Logistic {
    type Fitted = Weights;
    fn fit(
        p: &LogisticParams,
        x: Matrix<'_>,
        y: &[u32],
        ctx: &mut FitContext<'_>,
    ) -> Result<Weights> {
        let cols = x.cols();
        let xs = Array2::from_shape_vec((x.rows(), cols), x.to_vec()).map_err(Error::msg)?;
        let labels: Array1<usize> = y.iter().map(|&v| v as usize).collect();
        if y.iter().all(|&v| v == y[0]) {
            return Err(Error::invalid_input("the training rows hold one class only"));
        }
        let data = Dataset::new(xs, labels);
        let alpha = 1.0 / p.c;
        if ctx.n_classes() == 2 {
            let m = LogisticRegression::default()
                .alpha(alpha)
                .max_iterations(p.max_iter)
                .with_intercept(p.fit_intercept)
                .fit(&data)
                .map_err(Error::msg)?;
            Ok(Weights {
                cols,
                w: m.params().to_vec(),
                b: vec![m.intercept()],
                classes: vec![m.labels().pos.class],
                binary: true,
            })
        } else {
            let m = MultiLogisticRegression::default()
                .alpha(alpha)
                .max_iterations(p.max_iter)
                .with_intercept(p.fit_intercept)
                .fit(&data)
                .map_err(Error::msg)?;
            // params: features x classes; store one row per class.
            let w = m.params().columns().into_iter().flat_map(|c| c.to_vec()).collect();
            Ok(Weights {
                cols,
                w,
                b: m.intercept().to_vec(),
                classes: m.classes().to_vec(),
                binary: false,
            })
        }
    }
}

/// The default `predict` takes the first of the most probable classes, as
/// numpy's argmax does.
impl FittedClassifier for Weights {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        for (row, p) in x.iter_rows().zip(out.rows_mut()) {
            self.proba(row, p);
        }
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        let mut sum = vec![0.0; self.cols];
        for row in self.w.chunks_exact(self.cols.max(1)) {
            sum.iter_mut().zip(row).for_each(|(s, w)| *s += w.abs());
        }
        Some(sum.into_iter().map(|s| s / self.b.len() as f64).collect())
    }
}

impl Weights {
    fn logit(&self, row: &[f64], out: usize) -> f64 {
        let w = &self.w[out * self.cols..(out + 1) * self.cols];
        row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + self.b[out]
    }

    /// Class probabilities of one row into `p` (one value per class).
    fn proba(&self, row: &[f64], p: &mut [f64]) {
        p.fill(0.0);
        if self.binary {
            let pos = 1.0 / (1.0 + (-self.logit(row, 0)).exp());
            let pos_class = self.classes[0];
            p[pos_class] = pos;
            p[1 - pos_class] = 1.0 - pos;
            return;
        }
        let logits: Vec<f64> = (0..self.classes.len()).map(|c| self.logit(row, c)).collect();
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        for (c, e) in self.classes.iter().zip(exp) {
            p[*c] = e / total;
        }
    }
}

mlhost_plugin_api::export_plugin!(Logistic: classifier);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::{ErrorKind, StandaloneContext};

    fn fit(x: &[f64], y: &[u32], k: usize) -> Result<Weights> {
        let p = LogisticParams { c: 1.0, max_iter: 100, fit_intercept: true };
        let x = Matrix::new(x, y.len(), x.len() / y.len()).unwrap();
        Logistic::fit(&p, x, y, &mut StandaloneContext::new(0, k).context())
    }

    /// Labels and probabilities for a one-feature `x`.
    fn predict(m: &Weights, x: &[f64], k: usize) -> (Vec<u32>, Vec<f64>) {
        let x = Matrix::new(x, x.len(), 1).unwrap();
        let (mut pred, mut proba) = (vec![9; x.rows()], vec![0.0; x.rows() * k]);
        m.predict(x, &mut pred, k).unwrap();
        m.predict_proba(x, &mut Proba::new(&mut proba, k).unwrap()).unwrap();
        (pred, proba)
    }

    #[test]
    fn separates_two_classes_with_probabilities() {
        let x = [0.0, 0.2, 0.4, 2.0, 2.2, 2.4];
        let m = fit(&x, &[0, 0, 0, 1, 1, 1], 2).unwrap();
        assert_eq!(predict(&m, &x, 2).0, [0, 0, 0, 1, 1, 1]);
        let p = predict(&m, &[-1.0, 3.0], 2).1;
        assert!(p[0] > 0.8 && p[3] > 0.8, "{p:?}");
        assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
        assert_eq!(m.feature_importances(), Some(vec![m.w[0].abs()]));
        let e = fit(&x, &[1; 6], 2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "one class only");
    }

    #[test]
    fn multinomial_with_mean_absolute_importances() {
        let x = [0.0, 0.1, 5.0, 5.1, 10.0, 10.1];
        let y = [0, 0, 1, 1, 2, 2];
        let m = fit(&x, &y, 3).unwrap();
        assert_eq!(predict(&m, &x, 3).0, y);
        let mean = (m.w[0].abs() + m.w[1].abs() + m.w[2].abs()) / 3.0;
        assert_eq!(m.feature_importances(), Some(vec![mean]));
    }

    #[test]
    fn fitted_model_round_trips_through_serde() {
        let x = [0.0, 0.1, 5.0, 5.1, 10.0, 10.1];
        for (y, k) in [([0, 0, 0, 1, 1, 1], 2), ([0, 0, 1, 1, 2, 2], 3)] {
            let m = fit(&x, &y, k).unwrap();
            let restored: Weights =
                serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
            assert_eq!(restored, m);
            assert_eq!(predict(&restored, &x, k), predict(&m, &x, k));
        }
    }
}
