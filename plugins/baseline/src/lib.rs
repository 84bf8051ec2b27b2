//! The baseline model: the majority class (with the class frequencies as
//! probabilities) for classification, the mean or median for regression.
//!
//! It is the fallback candidate when none is chosen and the floor every real
//! model must beat. It is also the template to copy for a new plugin: one
//! `Model` impl and one `export_plugin!` line.

use mlhost_plugin_api::{
    Error, FitContext, Matrix, Model, ParamSpec, Params, PluginInfo, Result, Task,
};

/// What `fit` learned.
#[derive(Debug, Clone, PartialEq)]
enum Fitted {
    Unfitted,
    /// Class probabilities, index = encoded label.
    Classes(Vec<f64>),
    /// The constant prediction.
    Value(f64),
}

/// See the crate docs.
#[derive(Debug, Clone)]
pub struct Baseline {
    smoothing: f64,
    median: bool,
    fitted: Fitted,
}

impl Model for Baseline {
    fn info() -> PluginInfo {
        PluginInfo::new("baseline", env!("CARGO_PKG_VERSION"), Task::Classification)
            .task(Task::Regression)
            .describe("majority class / mean: the floor every model must beat")
            .param(
                ParamSpec::float("smoothing", 0.0)
                    .range(0.0, 1e6)
                    .describe("additive smoothing of class counts for probabilities"),
            )
            .param(
                ParamSpec::choice("statistic", "mean", &["mean", "median"])
                    .describe("regression: predict the mean or the median"),
            )
    }

    fn new(params: &Params) -> Result<Self> {
        Ok(Self {
            smoothing: params.float("smoothing")?,
            median: params.choice("statistic")? == "median",
            fitted: Fitted::Unfitted,
        })
    }

    fn fit(&mut self, _x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()> {
        if y.is_empty() {
            return Err(Error::invalid_input("no training rows"));
        }
        let k = ctx.n_classes();
        self.fitted = if k == 0 {
            Fitted::Value(if self.median {
                median(y)
            } else {
                y.iter().sum::<f64>() / y.len() as f64
            })
        } else {
            let mut counts = vec![self.smoothing; k];
            for &label in y {
                let slot = counts.get_mut(label as usize).filter(|_| label >= 0.0);
                *slot.ok_or_else(|| {
                    Error::invalid_input(format!("label {label} outside 0..{k}"))
                })? += 1.0;
            }
            let total: f64 = counts.iter().sum();
            Fitted::Classes(counts.into_iter().map(|c| c / total).collect())
        };
        Ok(())
    }

    fn predict(&self, _x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let value = match &self.fitted {
            Fitted::Unfitted => return Err(Error::msg("predict called before fit")),
            Fitted::Value(v) => *v,
            // The first of the most frequent classes, as scikit-learn's DummyClassifier.
            Fitted::Classes(p) => {
                p.iter()
                    .enumerate()
                    .fold((0, f64::MIN), |best, (i, &pi)| if pi > best.1 { (i, pi) } else { best })
                    .0 as f64
            }
        };
        out.fill(value);
        Ok(())
    }

    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let Fitted::Classes(p) = &self.fitted else {
            return Err(Error::unsupported("predict_proba on a regression model"));
        };
        if out.len() != x.rows() * p.len() {
            return Err(Error::invalid_input(format!(
                "probability buffer holds {} values, need {} rows x {} classes",
                out.len(),
                x.rows(),
                p.len()
            )));
        }
        for row in out.chunks_exact_mut(p.len()) {
            row.copy_from_slice(p);
        }
        Ok(())
    }

    fn save(&self) -> Result<Vec<u8>> {
        let (tag, values): (u8, &[f64]) = match &self.fitted {
            Fitted::Unfitted => return Err(Error::msg("save called before fit")),
            Fitted::Classes(p) => (b'c', p),
            Fitted::Value(v) => (b'v', std::slice::from_ref(v)),
        };
        let mut bytes = vec![tag];
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        Ok(bytes)
    }

    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let bad = || Error::invalid_input("not a saved baseline model");
        let (&tag, rest) = bytes.split_first().ok_or_else(bad)?;
        if rest.len() % 8 != 0 {
            return Err(bad());
        }
        let values: Vec<f64> = rest
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        self.fitted = match (tag, values.as_slice()) {
            (b'c', p) if !p.is_empty() => Fitted::Classes(values),
            (b'v', [v]) => Fitted::Value(*v),
            _ => return Err(bad()),
        };
        Ok(())
    }
}

fn median(y: &[f64]) -> f64 {
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 0 { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] }
}

mlhost_plugin_api::export_plugin!(Baseline);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::{ParamValue, StandaloneContext};

    fn fitted(y: &[f64], n_classes: usize, params: Params) -> Baseline {
        let x = vec![0.0; y.len()];
        let mut model = Baseline::new(&params).unwrap();
        let mut ctx = StandaloneContext::new(7, n_classes);
        model.fit(Matrix::new(&x, y.len(), 1).unwrap(), y, &mut ctx.context()).unwrap();
        model
    }

    #[test]
    fn majority_class_and_priors() {
        let m = fitted(&[0.0, 2.0, 2.0, 1.0], 3, Baseline::info().defaults());
        let x = [0.0; 2];
        let mut out = [9.0; 2];
        m.predict(Matrix::new(&x, 2, 1).unwrap(), &mut out).unwrap();
        assert_eq!(out, [2.0, 2.0]);
        let mut proba = [0.0; 6];
        m.predict_proba(Matrix::new(&x, 2, 1).unwrap(), &mut proba).unwrap();
        assert_eq!(proba, [0.25, 0.25, 0.5, 0.25, 0.25, 0.5]);
    }

    #[test]
    fn ties_pick_the_lowest_label_like_scikit_learn() {
        let m = fitted(&[1.0, 0.0], 2, Baseline::info().defaults());
        let mut out = [9.0];
        m.predict(Matrix::new(&[0.0], 1, 1).unwrap(), &mut out).unwrap();
        assert_eq!(out, [0.0]);
    }

    #[test]
    fn smoothing_keeps_unseen_classes_possible() {
        let params = Baseline::info().defaults().set("smoothing", ParamValue::Float(1.0));
        let m = fitted(&[0.0, 0.0], 2, params);
        assert_eq!(m.fitted, Fitted::Classes(vec![0.75, 0.25]));
    }

    #[test]
    fn regression_mean_median_and_save_load_roundtrip() {
        let mean = fitted(&[1.0, 2.0, 6.0], 0, Baseline::info().defaults());
        assert_eq!(mean.fitted, Fitted::Value(3.0));
        let params =
            Baseline::info().defaults().set("statistic", ParamValue::Choice("median".into()));
        assert_eq!(fitted(&[1.0, 2.0, 6.0, 7.0], 0, params).fitted, Fitted::Value(4.0));

        let mut restored = Baseline::new(&Baseline::info().defaults()).unwrap();
        restored.load(&mean.save().unwrap()).unwrap();
        assert_eq!(restored.fitted, mean.fitted);
        assert!(restored.load(b"junk").is_err());
    }
}
