//! The typed plugin API: a [`Plugin`] names itself and its [`ParamSet`];
//! a [`Classifier`] or [`Regressor`] fits and *returns* its fitted model, so
//! "predict before fit" cannot be written. Classifiers get labels as `u32`
//! and write probabilities into a [`Proba`] that knows `k`; `predict`
//! defaults to the most probable class. Fitted models derive serde's
//! `Serialize`/`Deserialize` and get `save`/`load` for free.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::data::{FitContext, Matrix};
use crate::error::{Error, Result};
use crate::params::ParamSet;

/// What a plugin says about itself besides its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// Unique plugin name; `models.toml` entries refer to it.
    pub name: String,
    /// The plugin's version (its crate version, usually).
    pub version: String,
    /// One line for the registry report.
    pub description: String,
}

impl About {
    /// `About::new("knn", env!("CARGO_PKG_VERSION"))`.
    pub fn new(name: &str, version: &str) -> Self {
        About { name: name.to_owned(), version: version.to_owned(), description: String::new() }
    }
    /// A one-line description.
    pub fn describe(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }
}

/// A plugin: its name and its parameters. Implement [`Classifier`] and/or
/// [`Regressor`] too, and export it with
/// [`export_plugin!`](crate::export_plugin)`(Type: classifier)`.
pub trait Plugin: 'static {
    /// The parameters, `#[derive(Params)]` on a struct (or `()`).
    type Params: ParamSet;
    /// Name, version, description.
    fn about() -> About;
}

/// A plugin that learns classes.
pub trait Classifier: Plugin {
    /// The fitted model.
    type Fitted: FittedClassifier;
    /// Learns from `x` and labels `y` (each in `0..ctx.n_classes()`).
    fn fit(
        params: &Self::Params,
        x: Matrix<'_>,
        y: &[u32],
        ctx: &mut FitContext<'_>,
    ) -> Result<Self::Fitted>;
}

/// A fitted classifier. Implement `predict_proba` (and the default
/// `predict` is its most probable class), or `predict` alone for a model
/// without probabilities.
pub trait FittedClassifier: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Class probabilities, one row of `out.k()` per row of `x`, each
    /// summing to 1. Offering them enables ROC AUC and log loss.
    fn predict_proba(&self, x: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
        let _ = (x, out);
        Err(Error::unsupported("predict_proba"))
    }
    /// One class per row of `x`, in `0..k`.
    fn predict(&self, x: Matrix<'_>, out: &mut [u32], k: usize) -> Result<()> {
        let mut buf = vec![0.0; x.rows() * k];
        self.predict_proba(x, &mut Proba::new(&mut buf, k)?)?;
        for (label, row) in out.iter_mut().zip(buf.chunks_exact(k.max(1))) {
            *label = crate::data::argmax(row) as u32;
        }
        Ok(())
    }
    /// How much each feature matters, one value per column (tree, forest,
    /// linear models); `None` when the model cannot say.
    fn feature_importances(&self) -> Option<Vec<f64>> {
        None
    }
}

/// A plugin that learns a real-valued target (`ctx.n_classes()` is 0 in
/// its `fit`). A plugin that does both tasks gives each its own fitted type,
/// as the baseline does.
pub trait Regressor: Plugin {
    /// The fitted model.
    type Fitted: FittedRegressor;
    /// Learns from `x` and targets `y`.
    fn fit(
        params: &Self::Params,
        x: Matrix<'_>,
        y: &[f64],
        ctx: &mut FitContext<'_>,
    ) -> Result<Self::Fitted>;
}

/// A fitted regressor.
pub trait FittedRegressor: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// One prediction per row of `x`.
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()>;
    /// How much each feature matters, one value per column.
    fn feature_importances(&self) -> Option<Vec<f64>> {
        None
    }
}

/// Class probabilities being written: `rows() x k()`, row-major.
#[derive(Debug)]
pub struct Proba<'a> {
    data: &'a mut [f64],
    k: usize,
}

impl<'a> Proba<'a> {
    /// `data` as rows of `k` (its length must be a multiple of `k`).
    pub fn new(data: &'a mut [f64], k: usize) -> Result<Self> {
        if k == 0 || data.len() % k != 0 {
            return Err(Error::invalid_input(format!(
                "{} probabilities do not make rows of {k} classes",
                data.len()
            )));
        }
        Ok(Proba { data, k })
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len() / self.k
    }
    /// Number of classes.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Row `i`, to fill.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.k..(i + 1) * self.k]
    }
    /// Every row, to fill.
    pub fn rows_mut(&mut self) -> std::slice::ChunksExactMut<'_, f64> {
        self.data.chunks_exact_mut(self.k)
    }
    /// The whole buffer, row-major.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        self.data
    }
}
