//! k-nearest neighbours (smartcore, cover tree, Euclidean distance):
//! uniform votes or votes weighted by inverse distance. Probabilities are the
//! (weighted) vote shares; the prediction is the class with the largest
//! share, the lowest label on a tie, as scikit-learn's.

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::KNNWeightFunction;
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};

type Knn = KNNClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>, Euclidian<f64>>;

/// See the crate docs.
#[derive(Debug)]
pub struct Neighbours;

/// The parameters.
#[derive(Params, Debug, Clone)]
pub struct KnnParams {
    #[param(default = 5, range = 1..=10_000, doc = "neighbours that vote")]
    pub k: usize,
    #[param(default = Weights::Uniform, doc = "equal votes, or votes weighted by inverse distance")]
    pub weights: Weights,
}

/// How the neighbours' votes count: one each, or 1 / distance.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    #[default]
    Uniform,
    Distance,
}

/// The fitted model and the classes of its vote columns (seen in training).
#[derive(Debug, Serialize, Deserialize)]
pub struct Fitted {
    classes: Vec<u32>,
    knn: Knn,
}

fn dense(x: Matrix<'_>) -> Result<DenseMatrix<f64>> {
    DenseMatrix::new(x.rows(), x.cols(), x.to_vec(), false).map_err(Error::msg)
}

impl Plugin for Neighbours {
    type Params = KnnParams;
    fn about() -> About {
        About::new("knn", env!("CARGO_PKG_VERSION"))
            .describe("k-nearest neighbours (smartcore); scale the features")
    }
}

impl Classifier for Neighbours {
    type Fitted = Fitted;
    fn fit(p: &KnnParams, x: Matrix<'_>, y: &[u32], _: &mut FitContext<'_>) -> Result<Fitted> {
        if x.rows() < p.k {
            return Err(Error::invalid_param(
                "k",
                format!("{} exceeds the {} training rows", p.k, x.rows()),
            ));
        }
        let weight = match p.weights {
            Weights::Uniform => KNNWeightFunction::Uniform,
            Weights::Distance => KNNWeightFunction::Distance,
        };
        let params = KNNClassifierParameters::default().with_k(p.k).with_weight(weight);
        let mut classes = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let knn = Knn::fit(&dense(x)?, &y.to_vec(), params).map_err(Error::msg)?;
        Ok(Fitted { classes, knn })
    }
}

impl FittedClassifier for Fitted {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        let p = self.knn.predict_proba(&dense(x)?).map_err(Error::msg)?;
        for (shares, row) in p.iter().zip(out.rows_mut()) {
            row.fill(0.0);
            shares.iter().zip(&self.classes).for_each(|(share, &c)| row[c as usize] = *share);
        }
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(Neighbours: classifier);

#[cfg(test)]
mod tests {
    use super::*;

    const X: [f64; 6] = [0.0, 0.5, 1.0, 10.0, 10.5, 11.0];
    const Y: [u32; 6] = [0, 0, 0, 1, 1, 1];

    fn fit(k: usize) -> Result<Fitted> {
        let params = KnnParams { k, weights: Weights::Uniform };
        let mut ctx = StandaloneContext::new(0, 2);
        <Neighbours as Classifier>::fit(&params, Matrix::new(&X, 6, 1)?, &Y, &mut ctx.context())
    }

    fn predict(m: &Fitted) -> [u32; 6] {
        let mut pred = [9; 6];
        m.predict(Matrix::new(&X, 6, 1).unwrap(), &mut pred, 2).unwrap();
        pred
    }

    #[test]
    fn votes_of_the_nearest() {
        let m = fit(3).unwrap();
        let mut p = [0.0; 2];
        m.predict_proba(Matrix::new(&[2.0], 1, 1).unwrap(), &mut Proba::new(&mut p, 2).unwrap())
            .unwrap();
        assert_eq!(p, [1.0, 0.0]);
        assert_eq!(predict(&m), Y);
        let e = fit(50).unwrap_err();
        assert_eq!(e.to_string(), "parameter 'k': 50 exceeds the 6 training rows");
    }

    #[test]
    fn round_trips_through_serde() {
        let m = fit(3).unwrap();
        let back: Fitted = postcard::from_bytes(&postcard::to_allocvec(&m).unwrap()).unwrap();
        assert_eq!(predict(&back), Y);
    }
}
