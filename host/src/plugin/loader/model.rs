//! The host side of a loaded plugin's model object: building one, the fit
//! context the plugin calls back into (`FitHooks`, guarded against panics),
//! and `Model`, whose every call returns the plugin's error or caught panic
//! as a value.

use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RSlice, RSliceMut};
use mlhost_plugin_api::__private::{error_from_ffi, params_to_ffi};
use mlhost_plugin_api::ffi::{
    Control, EpochMetricFfi, HostContextFfi, HostContextFfi_TO, ModelBox,
};
use mlhost_plugin_api::{Error as PluginError, ErrorKind, Matrix, Params};

use super::Plugin;

impl Plugin {
    /// Builds a model from `params` (already resolved against the schema).
    /// A panic in the plugin's constructor comes back as an error.
    pub fn new_model(&self, params: &Params) -> Result<Model, PluginError> {
        let ffi = params_to_ffi(params);
        let inner = self.module.new_model()(RSlice::from_slice(&ffi))
            .into_result()
            .map_err(error_from_ffi)?;
        Ok(Model { inner })
    }
}

/// What the host tells a model during `fit`, and hears back each epoch.
pub trait FitHooks {
    /// The seed for every random choice.
    fn seed(&self) -> u64;
    /// Number of classes, 0 for regression.
    fn n_classes(&self) -> usize;
    /// Whether the host wants training to end now.
    fn should_stop(&self) -> bool;
    /// One finished epoch; answer whether to go on.
    fn on_epoch(&mut self, epoch: u32, metrics: &[(&str, f64)]) -> Control;
    /// Threads the fit may use (the job's share of the pool).
    fn threads(&self) -> usize {
        1
    }
}

/// Hooks for a fit nobody watches (`train`, `importance`'s refits): a
/// seed, the classes, every core, no epochs kept, never stopped.
#[derive(Debug, Clone, Copy)]
pub struct PlainHooks {
    /// The seed handed to the plugin.
    pub seed: u64,
    /// Number of classes, 0 for regression.
    pub n_classes: usize,
}

impl FitHooks for PlainHooks {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn n_classes(&self) -> usize {
        self.n_classes
    }
    fn should_stop(&self) -> bool {
        false
    }
    fn on_epoch(&mut self, _epoch: u32, _metrics: &[(&str, f64)]) -> Control {
        Control::Continue
    }
    fn threads(&self) -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// Adapts `FitHooks` to the C ABI. Host callbacks run inside the plugin's
/// stack frame, so a panic here must not unwind into it.
struct HooksFfi<'a>(&'a mut dyn FitHooks);

impl HostContextFfi for HooksFfi<'_> {
    fn seed(&self) -> u64 {
        self.0.seed()
    }
    fn n_classes(&self) -> u32 {
        u32::try_from(self.0.n_classes()).unwrap_or(u32::MAX)
    }
    fn should_stop(&self) -> bool {
        catch_unwind(AssertUnwindSafe(|| self.0.should_stop())).unwrap_or(true)
    }
    fn report(&mut self, epoch: u32, metrics: RSlice<'_, EpochMetricFfi<'_>>) -> Control {
        let metrics: Vec<(&str, f64)> =
            metrics.iter().map(|m| (m.name.as_str(), m.value)).collect();
        catch_unwind(AssertUnwindSafe(|| self.0.on_epoch(epoch, &metrics))).unwrap_or(Control::Stop)
    }
    fn threads(&self) -> u32 {
        u32::try_from(self.0.threads().max(1)).unwrap_or(u32::MAX)
    }
}

/// A model object living in a plugin. Every call returns the plugin's error
/// (or its caught panic) as a value.
pub struct Model {
    inner: ModelBox,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Model")
    }
}

impl Model {
    /// Trains on `x` and `y` (`y.len() == x.rows()`).
    pub fn fit(
        &mut self,
        x: Matrix<'_>,
        y: &[f64],
        hooks: &mut dyn FitHooks,
    ) -> Result<(), PluginError> {
        let mut ffi = HooksFfi(hooks);
        let ctx = HostContextFfi_TO::from_ptr(RMut::new(&mut ffi), TD_Opaque);
        self.inner.fit(x.to_ffi(), RSlice::from_slice(y), ctx).into_result().map_err(error_from_ffi)
    }
    /// One prediction per row into `out`.
    pub fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<(), PluginError> {
        if out.len() != x.rows() {
            return Err(PluginError::invalid_input("output buffer length differs from rows"));
        }
        self.inner
            .predict(x.to_ffi(), RSliceMut::from_mut_slice(out))
            .into_result()
            .map_err(error_from_ffi)
    }
    /// Class probabilities, row-major `rows x n_classes`, into `out`.
    /// `Ok(false)` when the model does not offer probabilities.
    pub fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<bool, PluginError> {
        match self.inner.predict_proba(x.to_ffi(), RSliceMut::from_mut_slice(out)).into_result() {
            Ok(()) => Ok(true),
            Err(e) => {
                let e = error_from_ffi(e);
                if e.kind() == ErrorKind::Unsupported { Ok(false) } else { Err(e) }
            }
        }
    }
    /// The fitted model as bytes.
    pub fn save(&self) -> Result<Vec<u8>, PluginError> {
        self.inner.save().into_result().map(Into::into).map_err(error_from_ffi)
    }
    /// One importance per feature, when the plugin offers them
    /// (`Ok(None)` otherwise, and for plugins built before they existed).
    pub fn feature_importances(&self) -> Result<Option<Vec<f64>>, PluginError> {
        match self.inner.feature_importances().into_result() {
            Ok(v) => Ok(Some(v.into())),
            Err(e) => {
                let e = error_from_ffi(e);
                if e.kind() == ErrorKind::Unsupported { Ok(None) } else { Err(e) }
            }
        }
    }
    /// Restores a model saved by [`Model::save`].
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), PluginError> {
        self.inner.load(RSlice::from_slice(bytes)).into_result().map_err(error_from_ffi)
    }
}
