//! What a model sees during a call: the feature matrix and the fit context.

use abi_stable::{
    sabi_types::RMut,
    std_types::{RSlice, RStr},
};

use crate::error::{Error, Result};
pub use crate::ffi::Control;
use crate::ffi::{EpochMetricFfi, HostContextFfi, HostContextFfi_TO, MatrixFfi};

/// A borrowed, row-major `rows x cols` matrix of `f64` features.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
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
        Ok(Self { data, rows, cols })
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
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    /// Iterates over the rows.
    pub fn iter_rows(&self) -> impl Iterator<Item = &'a [f64]> + 'a {
        // `max(1)` keeps chunks_exact valid for a 0-column matrix.
        self.data.chunks_exact(self.cols.max(1)).take(self.rows)
    }
    /// The whole buffer, row-major.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }

    pub(crate) fn from_ffi(x: MatrixFfi<'a>) -> Result<Self> {
        Self::new(x.data.as_slice(), x.rows, x.cols)
    }
    #[doc(hidden)]
    pub fn to_ffi(self) -> MatrixFfi<'a> {
        MatrixFfi { data: RSlice::from_slice(self.data), rows: self.rows, cols: self.cols }
    }
}

/// The host side of a fit context, over the C ABI or in-process.
pub(crate) trait HostSide {
    fn seed(&self) -> u64;
    fn n_classes(&self) -> usize;
    fn should_stop(&self) -> bool;
    fn report(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control;
}

impl HostSide for HostContextFfi_TO<'_, RMut<'_, ()>> {
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
    /// True once the host wants training to end (timeout, cancel). Check it
    /// between epochs or batches and return [`Error::stopped`].
    pub fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }
    /// Reports one finished epoch (`epoch` counts from 1) with named metrics,
    /// e.g. `&[("train_loss", 0.41), ("val_loss", 0.47)]`. Stop training when
    /// the answer is [`Control::Stop`].
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
    fn report(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control {
        let metrics = metrics.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect();
        self.reports.push((epoch, metrics));
        Control::Continue
    }
}
