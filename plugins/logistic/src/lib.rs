//! Logistic regression: binary, or multinomial for more classes, fitted
//! with linfa-logistic (L-BFGS). `c` is scikit-learn's inverse regularization
//! strength (linfa's `alpha` = 1 / c; both penalize the summed log loss).
//!
//! After fitting, the weights are copied out of linfa into a plain struct:
//! prediction, probabilities and save/load then need nothing but a dot
//! product, and no ndarray type ever leaves this crate.

use linfa::prelude::*;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, Task,
};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug, Clone)]
pub struct Logistic {
    c: f64,
    max_iter: u64,
    fit_intercept: bool,
    fitted: Option<Weights>,
}

/// A fitted model: one weight row per output, bias per output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Weights {
    cols: usize,
    n_classes: usize,
    /// Binary: one row, the positive class's logit. Multinomial: one row per
    /// class in `classes`.
    w: Vec<f64>,
    b: Vec<f64>,
    /// Class code of each output row (binary: the positive class).
    classes: Vec<usize>,
    binary: bool,
}

impl Model for Logistic {
    fn info() -> PluginInfo {
        PluginInfo::new("logistic", env!("CARGO_PKG_VERSION"), Task::Classification)
            .describe("logistic regression (linfa-logistic, L-BFGS), binary or multinomial")
            .param(
                ParamSpec::float("c", 1.0)
                    .range(1e-6, 1e6)
                    .log_scale()
                    .describe("inverse L2 regularization strength, as scikit-learn's C"),
            )
            .param(
                ParamSpec::int("max_iter", 100).range(1.0, 100_000.0).describe("L-BFGS iterations"),
            )
            .param(ParamSpec::bool("fit_intercept", true).describe("learn a bias term"))
    }

    fn new(p: &Params) -> Result<Self> {
        Ok(Logistic {
            c: p.float("c")?,
            max_iter: p.int("max_iter")? as u64,
            fit_intercept: p.bool("fit_intercept")?,
            fitted: None,
        })
    }

    fn fit(&mut self, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()> {
        let k = ctx.n_classes();
        let cols = x.cols();
        let xs = Array2::from_shape_vec((x.rows(), cols), x.to_vec()).map_err(Error::msg)?;
        let labels: Array1<usize> = y.iter().map(|&v| v as usize).collect();
        let present = {
            let mut c: Vec<usize> = labels.to_vec();
            c.sort_unstable();
            c.dedup();
            c
        };
        if present.len() < 2 {
            return Err(Error::invalid_input("the training rows hold one class only"));
        }
        let data = Dataset::new(xs, labels);
        let alpha = 1.0 / self.c;
        self.fitted = Some(if k == 2 {
            let m = LogisticRegression::default()
                .alpha(alpha)
                .max_iterations(self.max_iter)
                .with_intercept(self.fit_intercept)
                .fit(&data)
                .map_err(Error::msg)?;
            Weights {
                cols,
                n_classes: k,
                w: m.params().to_vec(),
                b: vec![m.intercept()],
                classes: vec![m.labels().pos.class],
                binary: true,
            }
        } else {
            let m = MultiLogisticRegression::default()
                .alpha(alpha)
                .max_iterations(self.max_iter)
                .with_intercept(self.fit_intercept)
                .fit(&data)
                .map_err(Error::msg)?;
            // params: features x classes; store one row per class.
            let p = m.params();
            let w = (0..p.ncols()).flat_map(|c| p.column(c).to_vec()).collect();
            Weights {
                cols,
                n_classes: k,
                w,
                b: m.intercept().to_vec(),
                classes: m.classes().to_vec(),
                binary: false,
            }
        });
        Ok(())
    }

    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let w = self.weights()?;
        let mut p = vec![0.0; w.n_classes];
        for (row, o) in x.iter_rows().zip(out.iter_mut()) {
            w.proba(row, &mut p);
            // The first of the largest, as numpy's argmax.
            *o = p
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                .0 as f64;
        }
        Ok(())
    }

    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let w = self.weights()?;
        for (row, o) in x.iter_rows().zip(out.chunks_exact_mut(w.n_classes)) {
            w.proba(row, o);
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self.weights()?).map_err(Error::msg)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let w: Weights = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid_input(format!("not a saved logistic model: {e}")))?;
        self.fitted = Some(w);
        Ok(())
    }
}

impl Logistic {
    fn weights(&self) -> Result<&Weights> {
        self.fitted.as_ref().ok_or_else(|| Error::msg("predict called before fit"))
    }
}

impl Weights {
    fn logit(&self, row: &[f64], out: usize) -> f64 {
        let w = &self.w[out * self.cols..(out + 1) * self.cols];
        row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + self.b[out]
    }

    /// Class probabilities of one row into `p` (`n_classes` values).
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

mlhost_plugin_api::export_plugin!(Logistic);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::StandaloneContext;

    fn fit(x: &[f64], y: &[f64], k: usize) -> Logistic {
        let mut m = Logistic::new(&Logistic::info().defaults()).unwrap();
        let rows = y.len();
        m.fit(
            Matrix::new(x, rows, x.len() / rows).unwrap(),
            y,
            &mut StandaloneContext::new(0, k).context(),
        )
        .unwrap();
        m
    }

    #[test]
    fn separates_two_classes_with_probabilities() {
        let x = [0.0, 0.2, 0.4, 2.0, 2.2, 2.4];
        let m = fit(&x, &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2);
        let mut pred = [9.0; 6];
        m.predict(Matrix::new(&x, 6, 1).unwrap(), &mut pred).unwrap();
        assert_eq!(pred, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let mut p = [0.0; 4];
        m.predict_proba(Matrix::new(&[-1.0, 3.0], 2, 1).unwrap(), &mut p).unwrap();
        assert!(p[0] > 0.8 && p[3] > 0.8, "{p:?}");
        assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn multinomial_and_save_load() {
        let x = [0.0, 0.1, 5.0, 5.1, 10.0, 10.1];
        let y = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let m = fit(&x, &y, 3);
        let mut pred = [9.0; 6];
        m.predict(Matrix::new(&x, 6, 1).unwrap(), &mut pred).unwrap();
        assert_eq!(pred, y);
        let mut restored = Logistic::new(&Logistic::info().defaults()).unwrap();
        restored.load(&m.save().unwrap()).unwrap();
        let mut again = [9.0; 6];
        restored.predict(Matrix::new(&x, 6, 1).unwrap(), &mut again).unwrap();
        assert_eq!(again, y);
        assert!(restored.load(b"nope").is_err());
    }
}
