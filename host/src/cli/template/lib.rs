//! {{name}}: a nearest-centroid classifier, written by `mlhost plugin new`.
//! Each class is the mean of its rows; a row belongs to the nearest mean.
//! Change `fit` and `predict_proba` to make it your model.

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};

pub struct {{Type}};

#[derive(Params, Clone)]
pub struct {{Type}}Params {
    /// Softmax temperature turning distances into probabilities.
    #[param(default = 1.0, range = 1e-3..=1e3, log)]
    temperature: f64,
}

#[derive(Serialize, Deserialize)]
pub struct Centroids {
    means: Vec<Vec<f64>>,
    temperature: f64,
}

impl Plugin for {{Type}} {
    type Params = {{Type}}Params;
    fn about() -> About {
        About::new("{{name}}", env!("CARGO_PKG_VERSION")).describe("nearest centroid")
    }
}

impl Classifier for {{Type}} {
    type Fitted = Centroids;
    fn fit(p: &{{Type}}Params, x: Matrix<'_>, y: &[u32], ctx: &mut FitContext<'_>) -> Result<Centroids> {
        let (k, cols) = (ctx.n_classes(), x.cols());
        let mut means = vec![vec![0.0; cols]; k];
        let mut counts = vec![0.0; k];
        for (r, &c) in y.iter().enumerate() {
            counts[c as usize] += 1.0;
            means[c as usize].iter_mut().zip(x.row(r)).for_each(|(m, v)| *m += v);
        }
        for (mean, n) in means.iter_mut().zip(&counts) {
            mean.iter_mut().for_each(|m| *m /= f64::max(*n, 1.0));
        }
        Ok(Centroids { means, temperature: p.temperature })
    }
}

impl FittedClassifier for Centroids {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        for r in 0..x.rows() {
            let row = out.row_mut(r);
            for (p, mean) in row.iter_mut().zip(&self.means) {
                let d2: f64 = mean.iter().zip(x.row(r)).map(|(m, v)| (m - v).powi(2)).sum();
                *p = -d2.sqrt() / self.temperature;
            }
            let top = row.iter().copied().fold(f64::MIN, f64::max);
            row.iter_mut().for_each(|p| *p = (*p - top).exp());
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|p| *p /= sum);
        }
        Ok(())
    }
}

export_plugin!({{Type}}: classifier);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_goes_to_the_nearest_mean() {
        let x = [0.0, 0.2, 5.0, 5.2];
        let m = Matrix::new(&x, 4, 1).unwrap();
        let p = {{Type}}Params::from_params(&Params::default().set("temperature", ParamValue::Float(1.0))).unwrap();
        let fitted = {{Type}}::fit(&p, m, &[0, 0, 1, 1], &mut StandaloneContext::new(0, 2).context()).unwrap();
        let mut labels = [9; 4];
        fitted.predict(m, &mut labels, 2).unwrap();
        assert_eq!(labels, [0, 0, 1, 1]);
    }
}
