//! What a model sees during a call: the feature matrix and the fit context.

use abi_stable::{
    sabi_types::RMut,
    std_types::{RSlice, RStr},
};

use crate::error::{Error, Result};
pub use crate::ffi::Control;
use crate::ffi::{EpochMetricFfi, HostContextFfi, HostContextFfi_TO, MatrixFfi};

/// A borrowed, row-major matrix of `f64` features: either a plain
/// `rows x cols` buffer, or a view that picks rows of a larger buffer by index
/// (how the host hands out cross-validation folds without copying the data).
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    index: &'a [u32],
}

impl<'a> Matrix<'a> {
    /// Wraps `data` as `rows x cols`; fails when the length does not match.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::invalid_input(format!(
                "matrix of {rows}x{cols} needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            )));
        }
        Ok(Self { data, rows, cols, index: &[] })
    }

    /// A view of the rows `index` of `data` (row-major, `cols` wide); fails
    /// when an index points past the end.
    pub fn select(data: &'a [f64], cols: usize, index: &'a [u32]) -> Result<Self> {
        let available = data.len().checked_div(cols).unwrap_or(0);
        if cols == 0 || data.len() % cols != 0 {
            return Err(Error::invalid_input(format!(
                "{} values do not make rows of {cols}",
                data.len()
            )));
        }
        if let Some(bad) = index.iter().find(|&&i| i as usize >= available) {
            return Err(Error::invalid_input(format!("row {bad} of {available} does not exist")));
        }
        if index.is_empty() {
            return Ok(Self { data: &[], rows: 0, cols, index: &[] });
        }
        Ok(Self { data, rows: index.len(), cols, index })
    }

    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row `i` as a slice of `cols` values.
    pub fn row(&self, i: usize) -> &'a [f64] {
        let r = if self.index.is_empty() { i } else { self.index[i] as usize };
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
    /// Iterates over the rows.
    pub fn iter_rows(&self) -> impl Iterator<Item = &'a [f64]> + 'a {
        let m = *self;
        (0..m.rows).map(move |i| m.row(i))
    }
    /// The whole buffer, row-major, when the rows are stored contiguously;
    /// `None` for an index view (use `row` or `to_vec`).
    pub fn as_slice(&self) -> Option<&'a [f64]> {
        self.index.is_empty().then_some(self.data)
    }
    /// An error unless the matrix has `fitted` columns: what a fitted
    /// model asks of the rows it predicts.
    pub fn expect_cols(&self, fitted: usize) -> Result<()> {
        if self.cols == fitted {
            Ok(())
        } else {
            Err(Error::invalid_input(format!(
                "fitted on {fitted} features, asked about {}",
                self.cols
            )))
        }
    }
    /// The rows copied into one row-major buffer.
    pub fn to_vec(&self) -> Vec<f64> {
        match self.as_slice() {
            Some(s) => s.to_vec(),
            None => self.iter_rows().flatten().copied().collect(),
        }
    }

    pub(crate) fn from_ffi(x: MatrixFfi<'a>) -> Result<Self> {
        if x.index.is_empty() {
            Self::new(x.data.as_slice(), x.rows, x.cols)
        } else {
            let m = Self::select(x.data.as_slice(), x.cols, x.index.as_slice())?;
            if m.rows != x.rows {
                return Err(Error::invalid_input("row count differs from the index length"));
            }
            Ok(m)
        }
    }
    #[doc(hidden)]
    pub fn to_ffi(self) -> MatrixFfi<'a> {
        MatrixFfi {
            data: RSlice::from_slice(self.data),
            rows: self.rows,
            cols: self.cols,
            index: RSlice::from_slice(self.index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_the_largest() {
        let mut out = [9.0; 3];
        argmax_rows(&[0.2, 0.5, 0.3, 0.5, 0.5, 0.0, 0.1, 0.1, 0.8], 3, &mut out);
        assert_eq!(out, [1.0, 0.0, 2.0]);
    }

    #[test]
    fn views_pick_rows_without_copying() {
        let data = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
        let all = Matrix::new(&data, 3, 2).unwrap();
        let view = Matrix::select(&data, 2, &[2, 0]).unwrap();
        assert_eq!(view.rows(), 2);
        assert_eq!(view.row(0), [20.0, 21.0]);
        assert_eq!(view.to_vec(), [20.0, 21.0, 0.0, 1.0]);
        assert!(view.as_slice().is_none());
        assert_eq!(all.as_slice(), Some(&data[..]));
        assert_eq!(all.iter_rows().count(), 3);
        let round = Matrix::from_ffi(view.to_ffi()).unwrap();
        assert_eq!(round.row(1), [0.0, 1.0]);
        assert!(Matrix::select(&data, 2, &[3]).is_err());
        assert!(Matrix::new(&data, 4, 2).is_err());
    }
}

/// Class predictions from probabilities: for each row of `proba` (`k`
/// values), the index of the largest, the first on a tie (as numpy's
/// `argmax`, so predictions agree with scikit-learn's `predict`).
pub fn argmax_rows(proba: &[f64], k: usize, out: &mut [f64]) {
    for (o, row) in out.iter_mut().zip(proba.chunks_exact(k.max(1))) {
        *o = argmax(row) as f64;
    }
}

/// The index of the largest value; the first of equal ones.
pub(crate) fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// The host side of a fit context, over the C ABI or in-process.
pub(crate) trait HostSide {
    fn seed(&self) -> u64;
    fn n_classes(&self) -> usize;
    fn should_stop(&self) -> bool;
    fn report(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control;
    fn threads(&self) -> usize;
}

impl HostSide for HostContextFfi_TO<'_, RMut<'_, ()>> {
    fn threads(&self) -> usize {
        (HostContextFfi::threads(self) as usize).max(1)
    }
    fn seed(&self) -> u64 {
        HostContextFfi::seed(self)
    }
    fn n_classes(&self) -> usize {
        HostContextFfi::n_classes(self) as usize
    }
    fn should_stop(&self) -> bool {
        HostContextFfi::should_stop(self)
    }
    fn report(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        let ffi: Vec<EpochMetricFfi<'_>> = metrics
            .iter()
            .map(|(name, value)| EpochMetricFfi { name: RStr::from_str(name), value: *value })
            .collect();
        HostContextFfi::report(self, epoch, RSlice::from_slice(&ffi))
    }
}

/// What `fit` gets from the host: the seed, whether to stop, the number of
/// classes, and the per-epoch reporter.
pub struct FitContext<'a> {
    inner: &'a mut dyn HostSide,
}

impl std::fmt::Debug for FitContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitContext")
            .field("seed", &self.seed())
            .field("n_classes", &self.n_classes())
            .field("threads", &self.threads())
            .finish_non_exhaustive()
    }
}

impl<'a> FitContext<'a> {
    pub(crate) fn new(inner: &'a mut dyn HostSide) -> Self {
        Self { inner }
    }
    /// Seed every random choice from this, so a run can be repeated exactly.
    pub fn seed(&self) -> u64 {
        self.inner.seed()
    }
    /// Number of classes (labels are `0..n_classes`); 0 for regression.
    pub fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    /// How many threads this fit may keep busy (at least 1). The host
    /// shares the machine among its jobs (`workers` bounds the total), so a
    /// model that parallelises (trees of a forest, say) uses this many and
    /// no more; results must not depend on it.
    pub fn threads(&self) -> usize {
        self.inner.threads()
    }
    /// True once the host wants training to end (timeout, cancel). Check it
    /// between epochs or batches and return [`Error::stopped`].
    pub fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }
    /// Reports one finished epoch (`epoch` counts from 1) with named metrics,
    /// e.g. `&[("train_loss", 0.41), ("val_loss", 0.47)]`. Stop training when
    /// the answer is [`Control::Stop`]; ignoring the answer is a warning
    /// (`Control` is `#[must_use]`):
    ///
    /// ```compile_fail
    /// #![deny(unused_must_use)]
    /// fn epoch(ctx: &mut mlhost_plugin_api::FitContext<'_>) {
    ///     ctx.report(1, &[("train_loss", 0.5)]);
    /// }
    /// ```
    pub fn report(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        self.inner.report(epoch, metrics)
    }
}

/// A fit context for calling a model directly as a Rust library (tests,
/// benchmarks): a fixed seed, no stop request, epochs collected in `reports`.
#[derive(Debug, Clone, Default)]
pub struct StandaloneContext {
    /// The seed handed to the model.
    pub seed: u64,
    /// Classes in the labels (0 for regression).
    pub n_classes: usize,
    /// Answer `should_stop` with this.
    pub stop: bool,
    /// Threads the model may use; 0 counts as 1.
    pub threads: usize,
    /// Every reported epoch, in order.
    pub reports: Vec<(u32, Vec<(String, f64)>)>,
}

impl StandaloneContext {
    /// A context with `seed` for a problem with `n_classes` (0 = regression).
    pub fn new(seed: u64, n_classes: usize) -> Self {
        Self { seed, n_classes, ..Self::default() }
    }
    /// Borrows this as the context handed to `Model::fit`.
    pub fn context(&mut self) -> FitContext<'_> {
        FitContext::new(self)
    }
}

impl HostSide for StandaloneContext {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn n_classes(&self) -> usize {
        self.n_classes
    }
    fn should_stop(&self) -> bool {
        self.stop
    }
    fn threads(&self) -> usize {
        self.threads.max(1)
    }
    fn report(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        let metrics = metrics.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect();
        self.reports.push((epoch, metrics));
        Control::Continue
    }
}
