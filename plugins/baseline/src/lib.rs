//! The baseline model: the class frequencies (predicting the majority
//! class) for classification, the mean or median for regression.
//!
//! It is the fallback candidate when none is chosen and the floor every real
//! model must beat. It shows a plugin that does both tasks: one [`Plugin`]
//! with its [`Params`], a [`Classifier`] and a [`Regressor`] impl, each
//! returning its own fitted model, and one `export_plugin!` line.

use mlhost_plugin_api::{
    About, Choice, Classifier, Error, FitContext, FittedClassifier, FittedRegressor, Matrix,
    Params, Plugin, Proba, Regressor, Result,
};
use serde::{Deserialize, Serialize};

/// See the crate docs.
#[derive(Debug)]
pub struct Baseline;

/// The baseline's parameters.
#[derive(Params, Debug, Clone)]
pub struct BaselineParams {
    /// additive smoothing of class counts for probabilities
    #[param(default = 0.0, range = 0.0..=1e6)]
    pub smoothing: f64,
    /// regression: predict the mean or the median
    #[param(default = Statistic::Mean)]
    pub statistic: Statistic,
}

/// What a regression baseline predicts.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statistic {
    /// The mean of the targets.
    #[default]
    Mean,
    /// The median of the targets.
    Median,
}

/// Class probabilities, index = label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priors(pub Vec<f64>);

/// The constant prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constant(pub f64);

impl Plugin for Baseline {
    type Params = BaselineParams;
    fn about() -> About {
        About::new("baseline", env!("CARGO_PKG_VERSION"))
            .describe("majority class / mean: the floor every model must beat")
    }
}

impl Classifier for Baseline {
    type Fitted = Priors;
    fn fit(
        p: &BaselineParams,
        _: Matrix<'_>,
        y: &[u32],
        ctx: &mut FitContext<'_>,
    ) -> Result<Priors> {
        if y.is_empty() {
            return Err(Error::invalid_input("no training rows"));
        }
        let mut counts = vec![p.smoothing; ctx.n_classes()];
        y.iter().for_each(|&label| counts[label as usize] += 1.0);
        let total: f64 = counts.iter().sum();
        Ok(Priors(counts.into_iter().map(|c| c / total).collect()))
    }
}

/// The default `predict` takes the first of the most probable classes, as
/// scikit-learn's DummyClassifier does.
impl FittedClassifier for Priors {
    fn predict_proba(&self, _: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        out.rows_mut().for_each(|row| row.copy_from_slice(&self.0));
        Ok(())
    }
    /// The same answer for every row: no probabilities per row needed.
    fn predict(&self, _: Matrix<'_>, out: &mut [u32], _: usize) -> Result<()> {
        let first_max =
            self.0.iter().enumerate().fold(0, |b, (i, p)| if *p > self.0[b] { i } else { b });
        out.fill(first_max as u32);
        Ok(())
    }
}

impl Regressor for Baseline {
    type Fitted = Constant;
    fn fit(
        p: &BaselineParams,
        _: Matrix<'_>,
        y: &[f64],
        _: &mut FitContext<'_>,
    ) -> Result<Constant> {
        if y.is_empty() {
            return Err(Error::invalid_input("no training rows"));
        }
        Ok(Constant(match p.statistic {
            Statistic::Mean => y.iter().sum::<f64>() / y.len() as f64,
            Statistic::Median => median(y),
        }))
    }
}

impl FittedRegressor for Constant {
    fn predict(&self, _: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        out.fill(self.0);
        Ok(())
    }
}

fn median(y: &[f64]) -> f64 {
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 0 { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] }
}

mlhost_plugin_api::export_plugin!(Baseline: classifier, regressor);

#[cfg(test)]
mod tests {
    use super::*;
    use mlhost_plugin_api::StandaloneContext;

    fn params(smoothing: f64, statistic: Statistic) -> BaselineParams {
        BaselineParams { smoothing, statistic }
    }

    fn x(rows: usize) -> Vec<f64> {
        vec![0.0; rows]
    }

    fn classes(y: &[u32], k: usize, p: &BaselineParams) -> Priors {
        let x = x(y.len());
        let mut ctx = StandaloneContext::new(7, k);
        <Baseline as Classifier>::fit(
            p,
            Matrix::new(&x, y.len(), 1).unwrap(),
            y,
            &mut ctx.context(),
        )
        .unwrap()
    }

    #[test]
    fn majority_class_and_priors() {
        let m = classes(&[0, 2, 2, 1], 3, &params(0.0, Statistic::Mean));
        let x = x(2);
        let mut out = [9; 2];
        m.predict(Matrix::new(&x, 2, 1).unwrap(), &mut out, 3).unwrap();
        assert_eq!(out, [2, 2]);
        let mut proba = [0.0; 6];
        m.predict_proba(Matrix::new(&x, 2, 1).unwrap(), &mut Proba::new(&mut proba, 3).unwrap())
            .unwrap();
        assert_eq!(proba, [0.25, 0.25, 0.5, 0.25, 0.25, 0.5]);
    }

    #[test]
    fn ties_pick_the_lowest_label_like_scikit_learn() {
        let m = classes(&[1, 0], 2, &params(0.0, Statistic::Mean));
        let mut out = [9];
        m.predict(Matrix::new(&[0.0], 1, 1).unwrap(), &mut out, 2).unwrap();
        assert_eq!(out, [0]);
    }

    #[test]
    fn smoothing_keeps_unseen_classes_possible() {
        assert_eq!(classes(&[0, 0], 2, &params(1.0, Statistic::Mean)), Priors(vec![0.75, 0.25]));
    }

    #[test]
    fn regression_mean_and_median() {
        let fit = |y: &[f64], s| {
            let x = x(y.len());
            let mut ctx = StandaloneContext::new(7, 0);
            let m = Matrix::new(&x, y.len(), 1).unwrap();
            <Baseline as Regressor>::fit(&params(0.0, s), m, y, &mut ctx.context()).unwrap()
        };
        assert_eq!(fit(&[1.0, 2.0, 6.0], Statistic::Mean), Constant(3.0));
        assert_eq!(fit(&[1.0, 2.0, 6.0, 7.0], Statistic::Median), Constant(4.0));
    }
}
