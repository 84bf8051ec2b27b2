//! Logistic regression: binary, or multinomial (softmax) for more classes,
//! on scikit-learn's objective: the summed log loss plus `||w||² / (2C)`,
//! intercepts not penalized, minimized by our own L-BFGS ([`lbfgs`]) from
//! zero with scikit-learn's stopping rule (largest gradient component of the
//! per-row objective at most 1e-4, or `max_iter` iterations).
//!
//! Loss and gradient come from one pass over the row-major rows the host
//! hands over ([`objective`]): no copy into another matrix type. The fitted
//! [`Weights`] need nothing but a dot product to predict.
//!
//! Feature importances are the absolute coefficients (on the scale of the
//! features the model saw, so scale them to compare); for more than two
//! classes, the mean absolute coefficient of each feature across the classes.

mod lbfgs;
mod objective;

use mlhost_plugin_api::{
    About, Classifier, Error, FitContext, FittedClassifier, Matrix, Params, Plugin, Proba, Result,
};
use objective::Problem;
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
    /// Binary: the negative then the positive class's code. Multinomial: the
    /// class code of each output row.
    classes: Vec<usize>,
    binary: bool,
}

impl Plugin for Logistic {
    type Params = LogisticParams;
    fn about() -> About {
        About::new("logistic", env!("CARGO_PKG_VERSION")).describe(
            "logistic regression (L-BFGS on scikit-learn's objective), binary or multinomial",
        )
    }
}

impl Classifier for Logistic {
    type Fitted = Weights;
    fn fit(
        p: &LogisticParams,
        x: Matrix<'_>,
        y: &[u32],
        _: &mut FitContext<'_>,
    ) -> Result<Weights> {
        // The classes present, ascending: scikit-learn's `classes_`.
        let mut classes: Vec<usize> = y.iter().map(|&v| v as usize).collect();
        classes.sort_unstable();
        classes.dedup();
        if classes.len() < 2 {
            return Err(Error::invalid_input("the training rows hold one class only"));
        }
        let binary = classes.len() == 2;
        let index = |v: u32| classes.binary_search(&(v as usize)).unwrap_or(0);
        let target: Vec<usize> = y.iter().map(|&v| index(v)).collect();
        let problem = Problem { x, target: &target, c: p.c, fit_intercept: p.fit_intercept };
        let outputs = if binary { 1 } else { classes.len() };
        let mut theta = vec![0.0; problem.len(outputs)];
        let opts = lbfgs::Options { max_iter: p.max_iter, ..lbfgs::Options::default() };
        let outcome = if binary {
            lbfgs::minimize(&mut theta, |t, g| problem.binary(t, g), opts)
        } else {
            lbfgs::minimize(&mut theta, |t, g| problem.multinomial(t, outputs, g), opts)
        };
        if !outcome.value.is_finite() {
            return Err(Error::msg(format!(
                "the loss is {} (non-finite features?)",
                outcome.value
            )));
        }
        let cols = x.cols();
        let mut b = theta.split_off(outputs * cols);
        b.resize(outputs, 0.0);
        Ok(Weights { cols, w: theta, b, classes, binary })
    }
}

/// The default `predict` takes the first of the most probable classes, as
/// numpy's argmax does.
impl FittedClassifier for Weights {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        x.expect_cols(self.cols)?;
        let mut logits = vec![0.0; self.b.len()];
        for (row, p) in x.iter_rows().zip(out.rows_mut()) {
            self.proba(row, p, &mut logits);
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
    /// Class probabilities of one row into `p` (one value per class code;
    /// classes not seen in training get 0), `logits` as scratch (one per
    /// output).
    fn proba(&self, row: &[f64], p: &mut [f64], logits: &mut [f64]) {
        for (c, l) in logits.iter_mut().enumerate() {
            *l = objective::dot(&self.w[c * self.cols..(c + 1) * self.cols], row) + self.b[c];
        }
        p.fill(0.0);
        if self.binary {
            let pos = 1.0 / (1.0 + (-logits[0]).exp());
            p[self.classes[1]] = pos;
            p[self.classes[0]] = 1.0 - pos;
            return;
        }
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        logits.iter_mut().for_each(|l| *l = (*l - max).exp());
        let total: f64 = logits.iter().sum();
        for (&c, e) in self.classes.iter().zip(logits.iter()) {
            p[c] = e / total;
        }
    }
}

mlhost_plugin_api::export_plugin!(Logistic: classifier);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_cart::testdata::{Labels, classify, fold0_proba};
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

    /// Standardizes the training rows and `others` with the training rows'
    /// statistics, fits, and returns the model.
    fn fit_scaled(x: &mut [f64], y: &[u32], others: &mut [&mut [f64]], k: usize) -> Weights {
        mlhost_cart::testdata::standardize(x, others);
        fit(x, y, k).unwrap()
    }

    fn predict_rows(m: &Weights, x: &[f64], k: usize) -> Vec<u32> {
        let mut pred = vec![0; x.len() / 20];
        m.predict(Matrix::new(x, pred.len(), 20).unwrap(), &mut pred, k).unwrap();
        pred
    }

    /// Cross-validated accuracy within 0.01 of scikit-learn's
    /// `make_pipeline(StandardScaler(), LogisticRegression())` on the
    /// generated data (`mlhost_cart::testdata`), two and three classes.
    #[test]
    fn accuracy_matches_scikit_learn_on_generated_data() {
        for (model, labels, k) in [
            ("logistic_regression", Labels::Binary, 2),
            ("logistic_regression_3class", Labels::ThreeClass, 3),
        ] {
            let (ours, theirs) = classify(model, labels, |x, y, q| {
                let (mut x, mut q) = (x.to_vec(), q.to_vec());
                let m = fit_scaled(&mut x, y, &mut [&mut q], k);
                predict_rows(&m, &q, k)
            });
            assert!(
                (ours - theirs).abs() <= 0.01,
                "{model}: {ours:.4} vs scikit-learn {theirs:.4}"
            );
        }
    }

    /// Same optimum as scikit-learn: probabilities within 1e-3 of its own.
    #[test]
    fn probabilities_match_scikit_learn() {
        for (model, labels, k) in [
            ("logistic_regression", Labels::Binary, 2),
            ("logistic_regression_3class", Labels::ThreeClass, 3),
        ] {
            let mut f = fold0_proba(model, labels);
            let m = fit_scaled(&mut f.train_x, &f.train_y, &mut [&mut f.test_x], k);
            let mut p = vec![0.0; f.proba.len() * k];
            let q = Matrix::new(&f.test_x, f.proba.len(), 20).unwrap();
            m.predict_proba(q, &mut Proba::new(&mut p, k).unwrap()).unwrap();
            let worst =
                p.iter().zip(f.proba.concat()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-3, "{model}: largest difference {worst:e}");
        }
    }
}
