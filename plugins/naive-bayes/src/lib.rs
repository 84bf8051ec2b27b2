//! Gaussian naive Bayes (linfa-bayes): per class, a normal distribution per
//! feature; `var_smoothing` adds a share of the largest feature variance to
//! every variance, as scikit-learn's `GaussianNB` does.

use linfa::prelude::*;
use linfa_bayes::{GaussianNb, NaiveBayes};
use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, Task,
};
use ndarray::{Array1, Array2};

/// See the crate docs.
#[derive(Debug, Clone)]
pub struct NaiveBayesModel {
    var_smoothing: f64,
    n_classes: usize,
    fitted: Option<GaussianNb<f64, usize>>,
}

fn to_array(x: Matrix<'_>) -> Result<Array2<f64>> {
    Array2::from_shape_vec((x.rows(), x.cols()), x.to_vec()).map_err(Error::msg)
}

impl Model for NaiveBayesModel {
    fn info() -> PluginInfo {
        PluginInfo::new("naive-bayes", env!("CARGO_PKG_VERSION"), Task::Classification)
            .describe("Gaussian naive Bayes (linfa-bayes)")
            .param(
                ParamSpec::float("var_smoothing", 1e-9)
                    .range(0.0, 1.0)
                    .log_scale()
                    .describe("share of the largest variance added to every variance"),
            )
    }

    fn new(p: &Params) -> Result<Self> {
        Ok(NaiveBayesModel { var_smoothing: p.float("var_smoothing")?, n_classes: 0, fitted: None })
    }

    fn fit(&mut self, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()> {
        self.n_classes = ctx.n_classes();
        let labels: Array1<usize> = y.iter().map(|&v| v as usize).collect();
        let data = Dataset::new(to_array(x)?, labels);
        let model = GaussianNb::params()
            .var_smoothing(self.var_smoothing)
            .fit(&data)
            .map_err(Error::msg)?;
        self.fitted = Some(model);
        Ok(())
    }

    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let mut proba = vec![0.0; x.rows() * self.n_classes];
        self.predict_proba(x, &mut proba)?;
        mlhost_plugin_api::argmax_rows(&proba, self.n_classes, out);
        Ok(())
    }

    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let model = self.fitted.as_ref().ok_or_else(|| Error::msg("predict called before fit"))?;
        let xs = to_array(x)?;
        let (proba, classes) = model.predict_proba(xs.view());
        // Columns follow the classes seen in training; a class missing from
        // the training rows gets probability 0.
        out.fill(0.0);
        for (r, row) in proba.rows().into_iter().enumerate() {
            for (p, &&c) in row.iter().zip(&classes) {
                out[r * self.n_classes + c] = *p;
            }
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        let model = self.fitted.as_ref().ok_or_else(|| Error::msg("save called before fit"))?;
        serde_json::to_vec(&(self.n_classes, model)).map_err(Error::msg)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let (k, model): (usize, GaussianNb<f64, usize>) = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_input(format!("not a saved naive-bayes model: {e}")))?;
        self.n_classes = k;
        self.fitted = Some(model);
        Ok(())
    }
}

mlhost_plugin_api::export_plugin!(NaiveBayesModel);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::StandaloneContext;

    #[test]
    fn classifies_and_round_trips() {
        let x = [0.0, 0.3, 0.1, 5.0, 5.2, 4.9];
        let y = [0.0, 0.0, 0.0, 2.0, 2.0, 2.0];
        let mut m = NaiveBayesModel::new(&NaiveBayesModel::info().defaults()).unwrap();
        m.fit(Matrix::new(&x, 6, 1).unwrap(), &y, &mut StandaloneContext::new(0, 3).context())
            .unwrap();
        let mut pred = [9.0; 6];
        m.predict(Matrix::new(&x, 6, 1).unwrap(), &mut pred).unwrap();
        assert_eq!(pred, y);
        let mut p = [0.0; 3];
        m.predict_proba(Matrix::new(&[0.05], 1, 1).unwrap(), &mut p).unwrap();
        assert_eq!(p[1], 0.0, "class 1 never seen in training");
        assert!(p[0] > 0.99);
        let mut r = NaiveBayesModel::new(&NaiveBayesModel::info().defaults()).unwrap();
        r.load(&m.save().unwrap()).unwrap();
        let mut again = [9.0; 6];
        r.predict(Matrix::new(&x, 6, 1).unwrap(), &mut again).unwrap();
        assert_eq!(again, y);
    }
}
