//! Gaussian naive Bayes (linfa-bayes): per class, a normal distribution per
//! feature; `var_smoothing` adds a share of the largest feature variance to
//! every variance, as scikit-learn's `GaussianNB` does.

use linfa::prelude::*;
use linfa_bayes::{GaussianNb, NaiveBayes};
use mlhost_plugin_api::{
    About, Classifier, Error, FitContext, FittedClassifier, Matrix, Params, Plugin, Proba, Result,
};
use ndarray::{Array1, Array2};
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

/// The fitted linfa model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted(GaussianNb<f64, usize>);

fn to_array(x: Matrix<'_>) -> Result<Array2<f64>> {
    Array2::from_shape_vec((x.rows(), x.cols()), x.to_vec()).map_err(Error::msg)
}

impl Plugin for NaiveBayesModel {
    type Params = NaiveBayesParams;
    fn about() -> About {
        About::new("naive-bayes", env!("CARGO_PKG_VERSION"))
            .describe("Gaussian naive Bayes (linfa-bayes)")
    }
}

impl Classifier for NaiveBayesModel {
    type Fitted = Fitted;
    fn fit(p: &Self::Params, x: Matrix<'_>, y: &[u32], _: &mut FitContext<'_>) -> Result<Fitted> {
        let labels: Array1<usize> = y.iter().map(|&v| v as usize).collect();
        let data = Dataset::new(to_array(x)?, labels);
        let model = GaussianNb::params().var_smoothing(p.var_smoothing).fit(&data);
        model.map(Fitted).map_err(Error::msg)
    }
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        let (proba, classes) = self.0.predict_proba(to_array(x)?.view());
        // Columns follow the classes seen in training; a class missing from
        // the training rows gets probability 0.
        for (row, o) in proba.rows().into_iter().zip(out.rows_mut()) {
            o.fill(0.0);
            for (p, &&c) in row.iter().zip(&classes) {
                o[c] = *p;
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
}
