//! The C-ABI layer: every type that crosses the `.so` boundary.
//!
//! Plugin authors never use this module; `export_plugin!` and the host's
//! `loader` do. It must only ever grow by appending: new module functions go
//! after `#[sabi(last_prefix_field)]` of [`PluginMod`], new trait methods get
//! default bodies, and enums that may grow are non-exhaustive (`*_NE`), so a
//! plugin built against an older 0.x.y keeps loading in a newer host.
#![allow(missing_docs, non_camel_case_types, non_local_definitions, missing_debug_implementations)]

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::{RMut, VersionStrings},
    std_types::{RBox, ROption, RResult, RSlice, RSliceMut, RStr, RString, RVec},
};

/// What a model is for. Re-exported at the crate root as [`crate::Task`].
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[sabi(kind(WithNonExhaustive(size = [usize; 1], traits(Debug, Clone, PartialEq))))]
pub enum Task {
    /// Predicts one of `k` classes, encoded as `0..k` by the host.
    Classification,
    /// Predicts a real number.
    Regression,
}

/// Why a plugin call failed. Re-exported at the crate root.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[sabi(kind(WithNonExhaustive(size = [usize; 1], traits(Debug, Clone, PartialEq))))]
pub enum ErrorKind {
    /// The model could not do what was asked (the message says why).
    Failed,
    /// A parameter is missing, of the wrong kind, or out of range.
    InvalidParam,
    /// The data handed to the model is unusable (shape, values).
    InvalidInput,
    /// The model does not offer this operation (e.g. `predict_proba`).
    Unsupported,
    /// The plugin panicked; the panic was caught at the boundary.
    Panicked,
    /// Training ended early because the host asked it to stop.
    Stopped,
}

#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
#[sabi(kind(WithNonExhaustive(size = [usize; 6], traits(Debug, Clone, PartialEq))))]
pub enum ParamValueFfi {
    Float(f64),
    Int(i64),
    Bool(bool),
    Choice(RString),
}

/// What the reporter tells an iterative model after each epoch.
#[must_use = "the host may ask the model to stop: return early on `Control::Stop`"]
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop training now and keep the model as it is.
    Stop,
}

#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct ErrorFfi {
    pub kind: ErrorKind_NE,
    pub message: RString,
}

#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct ParamSpecFfi {
    pub name: RString,
    pub description: RString,
    pub default: ParamValueFfi_NE,
    pub min: ROption<f64>,
    pub max: ROption<f64>,
    pub log_scale: bool,
    pub choices: RVec<RString>,
}

#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct PluginInfoFfi {
    pub name: RString,
    pub version: RString,
    pub description: RString,
    pub tasks: RVec<Task_NE>,
    pub params: RVec<ParamSpecFfi>,
}

#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct ParamFfi {
    pub name: RString,
    pub value: ParamValueFfi_NE,
}

/// A row-major matrix borrowed from the host. With an empty `index` the rows
/// are `data` itself (`rows x cols`); otherwise row `i` is row `index[i]` of
/// `data`, so a cross-validation fold is a view, never a copy.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct MatrixFfi<'a> {
    pub data: RSlice<'a, f64>,
    pub rows: usize,
    pub cols: usize,
    pub index: RSlice<'a, u32>,
}

#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct EpochMetricFfi<'a> {
    pub name: RStr<'a>,
    pub value: f64,
}

/// Implemented by the host; handed to `fit`.
#[sabi_trait]
pub trait HostContextFfi {
    fn seed(&self) -> u64;
    /// Number of classes for classification, 0 for regression.
    fn n_classes(&self) -> u32;
    fn should_stop(&self) -> bool;
    #[sabi(last_prefix_field)]
    fn report(&mut self, epoch: u32, metrics: RSlice<'_, EpochMetricFfi<'_>>) -> Control;
    /// Appended: how many threads this fit may use. A host built before
    /// this existed answers through this default: one.
    fn threads(&self) -> u32 {
        1
    }
}

/// Implemented by `export_plugin!` around the author's `Model`.
#[sabi_trait]
pub trait ModelFfi: Send {
    fn fit(
        &mut self,
        x: MatrixFfi<'_>,
        y: RSlice<'_, f64>,
        ctx: HostContextFfi_TO<'_, RMut<'_, ()>>,
    ) -> RResult<(), ErrorFfi>;
    fn predict(&self, x: MatrixFfi<'_>, out: RSliceMut<'_, f64>) -> RResult<(), ErrorFfi>;
    fn predict_proba(&self, x: MatrixFfi<'_>, out: RSliceMut<'_, f64>) -> RResult<(), ErrorFfi>;
    fn save(&self) -> RResult<RVec<u8>, ErrorFfi>;
    #[sabi(last_prefix_field)]
    fn load(&mut self, bytes: RSlice<'_, u8>) -> RResult<(), ErrorFfi>;
    /// Appended: one importance per feature. A plugin built before this
    /// existed answers through this default.
    fn feature_importances(&self) -> RResult<RVec<f64>, ErrorFfi> {
        RResult::RErr(ErrorFfi {
            kind: ErrorKind_NE::new(crate::error::ErrorKind::Unsupported),
            message: "feature_importances".into(),
        })
    }
}

/// An owned model object living in the plugin.
pub type ModelBox = ModelFfi_TO<'static, RBox<()>>;

/// The root module every plugin exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    pub info: extern "C" fn() -> RResult<PluginInfoFfi, ErrorFfi>,
    #[sabi(last_prefix_field)]
    pub new_model: extern "C" fn(params: RSlice<'_, ParamFfi>) -> RResult<ModelBox, ErrorFfi>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "mlhost_plugin";
    const NAME: &'static str = "mlhost_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The plugin-api version a crate was built against; abi_stable compares the
/// host's and the plugin's when loading.
pub const PLUGIN_API_VERSION: &str = env!("CARGO_PKG_VERSION");
