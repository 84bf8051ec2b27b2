//! The trait a plugin author implements.

use crate::data::{FitContext, Matrix};
use crate::error::{Error, Result};
use crate::info::{Params, PluginInfo};

/// A trainable model. Implement this and call [`export_plugin!`](crate::export_plugin).
///
/// The host calls `info` once when it loads the plugin, `new` once per
/// candidate and job, then `fit` on a training fold and `predict` (and
/// `predict_proba` when offered) on the test fold. Every call runs behind a
/// panic guard: a panic becomes an error for that call and the model is not
/// used again.
pub trait Model: Send + Sized + 'static {
    /// Name, version, tasks and parameter schema.
    fn info() -> PluginInfo;

    /// Builds a model from validated `params` (the host has already checked
    /// them against the schema and filled in defaults).
    fn new(params: &Params) -> Result<Self>;

    /// Trains on `x` (`rows x cols`) and targets `y` (`rows` values; class
    /// labels are `0..ctx.n_classes()` as `f64`).
    fn fit(&mut self, x: Matrix<'_>, y: &[f64], ctx: &mut FitContext<'_>) -> Result<()>;

    /// Writes one prediction per row of `x` into `out` (`out.len() == x.rows()`).
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()>;

    /// Writes class probabilities, row-major `x.rows() x n_classes`, each row
    /// summing to 1. Offering it enables ROC AUC and log loss.
    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        let _ = (x, out);
        Err(Error::unsupported("predict_proba"))
    }

    /// Serializes the fitted model.
    fn save(&self) -> Result<Vec<u8>> {
        Err(Error::unsupported("save"))
    }

    /// Restores a model written by [`Model::save`].
    fn load(&mut self, bytes: &[u8]) -> Result<()> {
        let _ = bytes;
        Err(Error::unsupported("load"))
    }
}
