//! Gaussian naive Bayes, as scikit-learn's `GaussianNB`: per class, a
//! normal distribution per feature (the class's mean and population
//! variance) and the class's share of the rows as its prior;
//! `var_smoothing` adds that share of the largest feature variance (over
//! all rows) to every variance.
//!
//! Fitting is two passes over the row-major rows (means, then squared
//! deviations, which keeps the variances accurate when a feature's mean is
//! large); prediction one pass, with the per-class constants worked out once.

use mlhost_plugin_api::{
    About, Classifier, Error, FitContext, FittedClassifier, Matrix, Params, Plugin, Proba, Result,
};
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct NaiveBayesModel;

/// The naive Bayes parameters.
#[derive(Params, Debug, Clone)]
pub struct NaiveBayesParams {
    /// share of the largest variance added to every variance
    #[param(default = 1e-9, range = 0.0..=1.0, log)]
    pub var_smoothing: f64,
}

/// The fitted model: per class seen in training, its prior and a mean and a
/// (smoothed) variance per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    cols: usize,
    /// Class codes seen in training, ascending.
    classes: Vec<usize>,
    log_prior: Vec<f64>,
    /// `mean[c * cols + j]`, likewise `var`.
    mean: Vec<f64>,
    var: Vec<f64>,
}

impl Plugin for NaiveBayesModel {
    type Params = NaiveBayesParams;
    fn about() -> About {
        About::new("naive-bayes", env!("CARGO_PKG_VERSION")).describe("Gaussian naive Bayes")
    }
}

/// Per-group means and population variances of `x`'s columns, rows grouped
/// by `group` (in `0..groups`); groups without rows get zeros.
fn moments(x: Matrix<'_>, group: impl Fn(usize) -> usize, groups: usize) -> (Vec<f64>, Vec<f64>) {
    let cols = x.cols();
    let (mut mean, mut var) = (vec![0.0; groups * cols], vec![0.0; groups * cols]);
    let mut count = vec![0.0_f64; groups];
    for (r, row) in x.iter_rows().enumerate() {
        let g = group(r);
        count[g] += 1.0;
        mean[g * cols..(g + 1) * cols].iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    for (g, n) in count.iter().enumerate() {
        mean[g * cols..(g + 1) * cols].iter_mut().for_each(|m| *m /= n.max(1.0));
    }
    for (r, row) in x.iter_rows().enumerate() {
        let g = group(r);
        let (m, v) = (&mean[g * cols..(g + 1) * cols], &mut var[g * cols..(g + 1) * cols]);
        v.iter_mut().zip(row.iter().zip(m)).for_each(|(v, (x, m))| *v += (x - m) * (x - m));
    }
    for (g, n) in count.iter().enumerate() {
        var[g * cols..(g + 1) * cols].iter_mut().for_each(|v| *v /= n.max(1.0));
    }
    (mean, var)
}

impl Classifier for NaiveBayesModel {
    type Fitted = Fitted;
    fn fit(p: &Self::Params, x: Matrix<'_>, y: &[u32], _: &mut FitContext<'_>) -> Result<Fitted> {
        if x.rows() == 0 {
            return Err(Error::invalid_input("no training rows"));
        }
        let mut classes: Vec<usize> = y.iter().map(|&v| v as usize).collect();
        classes.sort_unstable();
        classes.dedup();
        let index: Vec<usize> =
            y.iter().map(|&v| classes.binary_search(&(v as usize)).unwrap_or(0)).collect();
        let (mean, mut var) = moments(x, |r| index[r], classes.len());
        let (_, overall) = moments(x, |_| 0, 1);
        let epsilon = p.var_smoothing * overall.iter().copied().fold(0.0, f64::max);
        var.iter_mut().for_each(|v| *v += epsilon);
        let n = y.len() as f64;
        let log_prior = (0..classes.len())
            .map(|c| (index.iter().filter(|&&i| i == c).count() as f64 / n).ln())
            .collect();
        Ok(Fitted { cols: x.cols(), classes, log_prior, mean, var })
    }
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        x.expect_cols(self.cols)?;
        let cols = self.cols;
        // Per class: log prior - Σ log(2π var) / 2, and 1 / var.
        let constant: Vec<f64> = (0..self.classes.len())
            .map(|c| {
                let v = &self.var[c * cols..(c + 1) * cols];
                self.log_prior[c]
                    - 0.5 * v.iter().map(|v| (2.0 * std::f64::consts::PI * v).ln()).sum::<f64>()
            })
            .collect();
        let inverse: Vec<f64> = self.var.iter().map(|v| 1.0 / v).collect();
        let mut joint = vec![0.0; self.classes.len()];
        for (row, o) in x.iter_rows().zip(out.rows_mut()) {
            for (c, j) in joint.iter_mut().enumerate() {
                let (m, inv) =
                    (&self.mean[c * cols..(c + 1) * cols], &inverse[c * cols..(c + 1) * cols]);
                let distance: f64 =
                    row.iter().zip(m).zip(inv).map(|((x, m), i)| (x - m) * (x - m) * i).sum();
                *j = constant[c] - 0.5 * distance;
            }
            // Softmax of the joint log likelihoods; a class missing from the
            // training rows gets probability 0.
            let max = joint.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = joint.iter().map(|j| (j - max).exp()).sum();
            o.fill(0.0);
            for (&c, j) in self.classes.iter().zip(&joint) {
                o[c] = (j - max).exp() / total;
            }
        }
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(NaiveBayesModel: classifier);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::StandaloneContext;

    const X: [f64; 6] = [0.0, 0.3, 0.1, 5.0, 5.2, 4.9];
    const Y: [u32; 6] = [0, 0, 0, 2, 2, 2];

    fn fit() -> Fitted {
        let p = NaiveBayesParams { var_smoothing: 1e-9 };
        let mut ctx = StandaloneContext::new(0, 3);
        NaiveBayesModel::fit(&p, Matrix::new(&X, 6, 1).unwrap(), &Y, &mut ctx.context()).unwrap()
    }

    fn predict(m: &Fitted) -> (Vec<u32>, Vec<f64>) {
        let x = Matrix::new(&X, 6, 1).unwrap();
        let (mut pred, mut proba) = (vec![9; 6], vec![0.0; 18]);
        m.predict(x, &mut pred, 3).unwrap();
        m.predict_proba(x, &mut Proba::new(&mut proba, 3).unwrap()).unwrap();
        (pred, proba)
    }

    #[test]
    fn classifies_with_probabilities() {
        let m = fit();
        assert_eq!(predict(&m).0, Y);
        let mut p = [0.0; 3];
        let one = Matrix::new(&[0.05], 1, 1).unwrap();
        m.predict_proba(one, &mut Proba::new(&mut p, 3).unwrap()).unwrap();
        assert_eq!(p[1], 0.0, "class 1 never seen in training");
        assert!(p[0] > 0.99);
    }

    #[test]
    fn fitted_model_round_trips_through_serde() {
        let m = fit();
        let restored: Fitted = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(restored, m);
        assert_eq!(predict(&restored), predict(&m));
    }

    /// Cross-validated accuracy within 0.01 of scikit-learn's `GaussianNB()`
    /// on the generated data (`mlhost_cart::testdata`).
    #[test]
    fn accuracy_matches_scikit_learn_on_generated_data() {
        let (ours, theirs) = mlhost_cart::testdata::cross_validate("gaussian_nb", |x, y, q| {
            let p = NaiveBayesParams { var_smoothing: 1e-9 };
            let x = Matrix::new(x, y.len(), 20).unwrap();
            let mut ctx = StandaloneContext::new(0, 2);
            let m = NaiveBayesModel::fit(&p, x, y, &mut ctx.context()).unwrap();
            let mut pred = vec![0; q.len() / 20];
            m.predict(Matrix::new(q, pred.len(), 20).unwrap(), &mut pred, 2).unwrap();
            pred
        });
        assert!((ours - theirs).abs() <= 0.01, "naive-bayes {ours:.4} vs scikit-learn {theirs:.4}");
    }
}
