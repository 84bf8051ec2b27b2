//! Histogram gradient boosting, written after scikit-learn's
//! HistGradientBoostingClassifier and HistGradientBoostingRegressor (same
//! defaults, binning, split rule, leaf-wise growth, baseline and early
//! stopping), for both tasks: binary log loss (one tree per iteration),
//! multinomial log loss (one tree per class per iteration), or half
//! squared error.
//!
//! Features are binned once per fit (`mlhost-cart`'s [`Binned::quantiles`],
//! at most `max_bins` ≤ 255 bins, one byte per value, column by column).
//! Each tree grows best-first on gradient histograms, the larger child's
//! histogram as its parent's minus the smaller child's. After every
//! iteration the fit reports `train_loss` (and `val_loss` when early
//! stopping holds out `validation_fraction` of the rows); it stops early as
//! scikit-learn does (no improvement above `tol` in `n_iter_no_change`
//! iterations), when the host answers `Stop` (the trees so far are kept),
//! or with an error when the host asks it to stop. `early_stopping = auto`
//! is on above 10,000 rows.
//!
//! NaN needs no imputation to be safe: it is binned above every value, and
//! at prediction goes where that bin went (or, for a feature without NaN
//! in training, to the child that had more rows). Feature importances are
//! each feature's total loss reduction over every split, normalised to 1.
//!
//! [`Binned::quantiles`]: mlhost_cart::Binned::quantiles

use mlhost_plugin_api::*;
use serde::{Deserialize, Serialize};

mod boost;
mod grower;
mod hist;
mod loss;
mod split;
#[cfg(test)]
mod tests;
mod tree;

use boost::{Ensemble, Settings};
use grower::Limits;
use loss::{Loss, sigmoid, softmax_in_place};

/// See the crate docs.
#[derive(Debug)]
pub struct Gbdt;

/// The boosting parameters (scikit-learn's names and defaults).
#[derive(Params, Debug, Clone)]
pub struct GbdtParams {
    #[param(default = 0.1, range = 1e-4..=10.0, log, doc = "shrinkage of every leaf value")]
    pub learning_rate: f64,
    #[param(default = 100, range = 1..=100_000, doc = "boosting iterations at most")]
    pub max_iter: usize,
    #[param(default = 31, range = 0..=1_000_000, doc = "leaves per tree at most; 0 = unlimited")]
    pub max_leaf_nodes: usize,
    #[param(default = 0, range = 0..=1000, doc = "edges from root to leaf at most; 0 = unlimited")]
    pub max_depth: u32,
    #[param(default = 20, range = 1..=1_000_000, doc = "rows a leaf keeps at least")]
    pub min_samples_leaf: usize,
    #[param(default = 0.0, range = 0.0..=1e6, doc = "L2 penalty on leaf values")]
    pub l2_regularization: f64,
    #[param(default = 255, range = 2..=255, doc = "bins per feature")]
    pub max_bins: usize,
    #[param(default = EarlyStopping::Auto, doc = "hold out rows and stop when their loss stalls")]
    pub early_stopping: EarlyStopping,
    #[param(default = 0.1, range = 0.01..=0.9, doc = "share of rows held out for early stopping")]
    pub validation_fraction: f64,
    #[param(default = 10, range = 1..=100_000, doc = "iterations without improvement before stopping")]
    pub n_iter_no_change: usize,
    #[param(default = 1e-7, range = 0.0..=1.0, doc = "improvement that counts")]
    pub tol: f64,
}

/// Whether to stop on a held-out validation loss.
#[derive(Choice, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarlyStopping {
    /// On when the training set has more than 10,000 rows.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never: `max_iter` iterations.
    Off,
}

impl GbdtParams {
    fn settings(&self, rows: usize) -> Result<Settings> {
        if self.max_leaf_nodes == 1 {
            return Err(Error::invalid_param(
                "max_leaf_nodes",
                "must be 0 (unlimited) or at least 2",
            ));
        }
        let early_stopping = match self.early_stopping {
            EarlyStopping::Auto => rows > 10_000,
            EarlyStopping::On => true,
            EarlyStopping::Off => false,
        };
        Ok(Settings {
            max_iter: self.max_iter,
            limits: Limits {
                max_leaf_nodes: self.max_leaf_nodes,
                max_depth: self.max_depth,
                shrinkage: self.learning_rate,
            },
            min_samples_leaf: self.min_samples_leaf,
            l2: self.l2_regularization,
            max_bins: self.max_bins,
            early_stopping,
            validation_fraction: self.validation_fraction,
            n_iter_no_change: self.n_iter_no_change,
            tol: self.tol,
        })
    }
}

/// A fitted classifier: probabilities are the sigmoid (two classes) or the
/// softmax of the raw scores.
#[derive(Debug, Serialize, Deserialize)]
pub struct GbdtClassifier(Ensemble);

/// A fitted regressor: the raw score is the prediction.
#[derive(Debug, Serialize, Deserialize)]
pub struct GbdtRegressor(Ensemble);

impl GbdtClassifier {
    /// Boosting iterations kept (fewer than `max_iter` after a stop).
    pub fn iterations(&self) -> usize {
        self.0.iterations()
    }
}

impl GbdtRegressor {
    /// Boosting iterations kept (fewer than `max_iter` after a stop).
    pub fn iterations(&self) -> usize {
        self.0.iterations()
    }
}

impl Plugin for Gbdt {
    type Params = GbdtParams;
    fn about() -> About {
        About::new("gbdt", env!("CARGO_PKG_VERSION")).describe(
            "histogram gradient boosting (scikit-learn's HistGradientBoosting), reports losses",
        )
    }
}

impl Classifier for Gbdt {
    type Fitted = GbdtClassifier;
    fn fit(
        p: &GbdtParams,
        x: Matrix<'_>,
        y: &[u32],
        ctx: &mut FitContext<'_>,
    ) -> Result<GbdtClassifier> {
        let k = ctx.n_classes().max(y.iter().max().map_or(1, |m| *m as usize + 1));
        let labels: Vec<f64> = y.iter().map(|&l| f64::from(l)).collect();
        let settings = p.settings(x.rows())?;
        Ok(GbdtClassifier(boost::fit(&settings, x, &labels, Loss::for_classes(k), ctx)?))
    }
}

impl Regressor for Gbdt {
    type Fitted = GbdtRegressor;
    fn fit(
        p: &GbdtParams,
        x: Matrix<'_>,
        y: &[f64],
        ctx: &mut FitContext<'_>,
    ) -> Result<GbdtRegressor> {
        let settings = p.settings(x.rows())?;
        Ok(GbdtRegressor(boost::fit(&settings, x, y, Loss::SquaredError, ctx)?))
    }
}

impl FittedClassifier for GbdtClassifier {
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        let mut raw = self.0.raw(x)?;
        let k = self.0.loss.trees_per_iteration();
        out.as_mut_slice().fill(0.0);
        for (row, scores) in out.rows_mut().zip(raw.chunks_exact_mut(k)) {
            if self.0.loss == Loss::Binary {
                let p = sigmoid(scores[0]);
                let two = [1.0 - p, p];
                let n = row.len().min(2);
                row[..n].copy_from_slice(&two[..n]);
            } else {
                softmax_in_place(scores);
                let n = row.len().min(k);
                row[..n].copy_from_slice(&scores[..n]);
            }
        }
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        Some(self.0.importances())
    }
}

impl FittedRegressor for GbdtRegressor {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        if out.len() != x.rows() {
            return Err(Error::invalid_input(format!(
                "{} outputs for {} rows",
                out.len(),
                x.rows()
            )));
        }
        out.copy_from_slice(&self.0.raw(x)?);
        Ok(())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        Some(self.0.importances())
    }
}

mlhost_plugin_api::export_plugin!(Gbdt: classifier, regressor);
