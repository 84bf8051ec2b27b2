//! k-nearest neighbours (smartcore, cover tree, Euclidean distance):
//! uniform votes or votes weighted by inverse distance. Probabilities are the
//! (weighted) vote shares; the prediction is the class with the largest
//! share, the lowest label on a tie, as scikit-learn's.

use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, Task,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::metrics::distance::euclidian::Euclidian;
use smartcore::neighbors::KNNWeightFunction;
use smartcore::neighbors::knn_classifier::{KNNClassifier, KNNClassifierParameters};

type Knn = KNNClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>, Euclidian<f64>>;

/// See the crate docs.
#[derive(Debug)]
pub struct Neighbours {
    k: usize,
    distance_weights: bool,
    n_classes: usize,
    classes: Vec<u32>,
    fitted: Option<Knn>,
}

fn dense(x: Matrix<'_>) -> Result<DenseMatrix<f64>> {
    DenseMatrix::new(x.rows(), x.cols(), x.to_vec(), false).map_err(Error::msg)
}

impl Model for Neighbours {
    fn info() -> PluginInfo {
        PluginInfo::new("knn", env!("CARGO_PKG_VERSION"), Task::Classification)
            .describe("k-nearest neighbours (smartcore); scale the features")
            .param(ParamSpec::int("k", 5).range(1.0, 10_000.0).describe("neighbours that vote"))
            .param(
                ParamSpec::choice("weights", "uniform", &["uniform", "distance"])
                    .describe("equal votes, or votes weighted by inverse distance"),
            )
    }

    fn new(p: &Params) -> Result<Self> {
        Ok(Neighbours {
            k: p.int("k")? as usize,
            distance_weights: p.choice("weights")? == "distance",
            n_classes: 0,
            classes: Vec::new(),
            fitted: None,
        })
    }

    fn fit(&mut self, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()> {
        if x.rows() < self.k {
            return Err(Error::invalid_param(
                "k",
                format!("{} exceeds the {} training rows", self.k, x.rows()),
            ));
        }
        self.n_classes = ctx.n_classes();
        let labels: Vec<u32> = y.iter().map(|&v| v as u32).collect();
        let mut classes = labels.clone();
        classes.sort_unstable();
        classes.dedup();
        self.classes = classes;
        let weight = if self.distance_weights {
            KNNWeightFunction::Distance
        } else {
            KNNWeightFunction::Uniform
        };
        let params = KNNClassifierParameters::default().with_k(self.k).with_weight(weight);
        self.fitted = Some(Knn::fit(&dense(x)?, &labels, params).map_err(Error::msg)?);
        Ok(())
    }

    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let mut proba = vec![0.0; x.rows() * self.n_classes];
        self.predict_proba(x, &mut proba)?;
        mlhost_plugin_api::argmax_rows(&proba, self.n_classes, out);
        Ok(())
    }

    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let knn = self.fitted.as_ref().ok_or_else(|| Error::msg("predict called before fit"))?;
        let p = knn.predict_proba(&dense(x)?).map_err(Error::msg)?;
        out.fill(0.0);
        for (r, row) in p.iter().enumerate() {
            for (share, &c) in row.iter().zip(&self.classes) {
                out[r * self.n_classes + c as usize] = *share;
            }
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        let knn = self.fitted.as_ref().ok_or_else(|| Error::msg("save called before fit"))?;
        serde_json::to_vec(&(self.n_classes, &self.classes, knn)).map_err(Error::msg)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (k, classes, knn): (usize, Vec<u32>, Knn) = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_input(format!("not a saved knn model: {e}")))?;
        (self.n_classes, self.classes, self.fitted) = (k, classes, Some(knn));
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(Neighbours);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::{ParamValue, StandaloneContext};

    #[test]
    fn votes_of_the_nearest_and_round_trip() {
        let x = [0.0, 0.5, 1.0, 10.0, 10.5, 11.0];
        let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let params = Neighbours::info().defaults().set("k", ParamValue::Int(3));
        let mut m = Neighbours::new(&params).unwrap();
        m.fit(Matrix::new(&x, 6, 1).unwrap(), &y, &mut StandaloneContext::new(0, 2).context())
            .unwrap();
        let mut p = [0.0; 2];
        m.predict_proba(Matrix::new(&[2.0], 1, 1).unwrap(), &mut p).unwrap();
        assert_eq!(p, [1.0, 0.0]);
        let mut r = Neighbours::new(&params).unwrap();
        r.load(&m.save().unwrap()).unwrap();
        let mut pred = [9.0; 6];
        r.predict(Matrix::new(&x, 6, 1).unwrap(), &mut pred).unwrap();
        assert_eq!(pred, y);
        let mut big =
            Neighbours::new(&Neighbours::info().defaults().set("k", ParamValue::Int(50))).unwrap();
        let e = big.fit(
            Matrix::new(&x, 6, 1).unwrap(),
            &y,
            &mut StandaloneContext::new(0, 2).context(),
        );
        assert_eq!(e.unwrap_err().to_string(), "parameter 'k': 50 exceeds the 6 training rows");
    }
}
