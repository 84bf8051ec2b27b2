//! The glue `export_plugin!` expands to: conversions between the author's
//! types and the C-ABI types, and the panic guard around every entry point.
//!
//! abi_stable aborts the whole process when a panic reaches an `extern "C"`
//! function, so every function here that runs plugin code catches the panic
//! first and turns it into an `ErrorKind::Panicked` value.

use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::{
    prefix_type::PrefixTypeTrait,
    sabi_trait::TD_Opaque,
    sabi_types::RMut,
    std_types::{RBox, RErr, ROk, ROption, RResult, RSlice, RSliceMut, RString, RVec},
};

use crate::data::{FitContext, Matrix};
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::{
    ErrorFfi, HostContextFfi_TO, MatrixFfi, ModelBox, ModelFfi, ModelFfi_TO, ParamFfi,
    ParamSpecFfi, ParamValueFfi, ParamValueFfi_NE, PluginInfoFfi, PluginMod, PluginModRef, Task_NE,
};
use crate::info::{ParamSpec, ParamValue, Params, PluginInfo};
use crate::model::Model;

thread_local! {
    /// Where the last panic on this thread happened, set by the hook below.
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Chains a panic hook that remembers `file:line` of each panic, so the
/// error value can carry it: the payload alone has only the message. A
/// cdylib has its own copy of std, so this hook sees only the plugin's
/// panics; the previous hook (printing to stderr) still runs.
fn remember_panic_locations() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
            PANIC_AT.with(|p| *p.borrow_mut() = at);
            previous(info);
        }));
    });
}

/// Runs `f`, turning a panic into an error that quotes the panic message
/// and where it happened.
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    remember_panic_locations();
    PANIC_AT.with(|p| p.borrow_mut().take());
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let at = PANIC_AT.with(|p| p.borrow_mut().take());
        let at = at.map(|a| format!(" (at {a})")).unwrap_or_default();
        Err(Error::new(ErrorKind::Panicked, format!("{what} panicked: {msg}{at}")))
    })
}

pub(crate) fn to_rresult<T>(r: Result<T>) -> RResult<T, ErrorFfi> {
    match r {
        Ok(v) => ROk(v),
        Err(e) => RErr(error_to_ffi(e)),
    }
}

fn error_to_ffi(e: Error) -> ErrorFfi {
    ErrorFfi { kind: crate::ffi::ErrorKind_NE::new(e.kind()), message: e.message().into() }
}

/// Host side: an error value from the plugin back into an [`Error`].
#[doc(hidden)]
pub fn error_from_ffi(e: ErrorFfi) -> Error {
    // An unknown kind comes from a plugin built against a newer plugin-api.
    let kind = e.kind.as_enum().copied().unwrap_or(ErrorKind::Failed);
    Error::new(kind, e.message.into_string())
}

fn value_to_ffi(v: &ParamValue) -> ParamValueFfi_NE {
    ParamValueFfi_NE::new(match v {
        ParamValue::Float(f) => ParamValueFfi::Float(*f),
        ParamValue::Int(i) => ParamValueFfi::Int(*i),
        ParamValue::Bool(b) => ParamValueFfi::Bool(*b),
        ParamValue::Choice(c) => ParamValueFfi::Choice(c.as_str().into()),
    })
}

fn value_from_ffi(v: &ParamValueFfi_NE, name: &str) -> Result<ParamValue> {
    match v.as_enum() {
        Ok(ParamValueFfi::Float(f)) => Ok(ParamValue::Float(*f)),
        Ok(ParamValueFfi::Int(i)) => Ok(ParamValue::Int(*i)),
        Ok(ParamValueFfi::Bool(b)) => Ok(ParamValue::Bool(*b)),
        Ok(ParamValueFfi::Choice(c)) => Ok(ParamValue::Choice(c.to_string())),
        Err(_) => Err(Error::invalid_param(
            name,
            "has a kind this side does not know; rebuild both against the same plugin-api",
        )),
    }
}

/// Host side: the parameters handed to `new_model`.
#[doc(hidden)]
pub fn params_to_ffi(params: &Params) -> RVec<ParamFfi> {
    params.iter().map(|(name, v)| ParamFfi { name: name.into(), value: value_to_ffi(v) }).collect()
}

pub(crate) fn params_from_ffi(params: RSlice<'_, ParamFfi>) -> Result<Params> {
    params.iter().try_fold(Params::default(), |acc, p| {
        Ok(acc.set(p.name.as_str(), value_from_ffi(&p.value, p.name.as_str())?))
    })
}

pub(crate) fn info_to_ffi(info: PluginInfo) -> PluginInfoFfi {
    PluginInfoFfi {
        name: info.name.into(),
        version: info.version.into(),
        description: info.description.into(),
        tasks: info.tasks.into_iter().map(Task_NE::new).collect(),
        params: info
            .params
            .into_iter()
            .map(|p| ParamSpecFfi {
                default: value_to_ffi(&p.default),
                name: p.name.into(),
                description: p.description.into(),
                min: p.min.into(),
                max: p.max.into(),
                log_scale: p.log_scale,
                choices: p.choices.into_iter().map(RString::from).collect(),
            })
            .collect(),
    }
}

/// Host side: the plugin's self-description. Tasks this side does not know
/// are dropped (a newer plugin-api may add some).
#[doc(hidden)]
pub fn info_from_ffi(info: PluginInfoFfi) -> Result<PluginInfo> {
    let params = info
        .params
        .into_iter()
        .map(|p| {
            Ok(ParamSpec {
                default: value_from_ffi(&p.default, p.name.as_str())?,
                name: p.name.into_string(),
                description: p.description.into_string(),
                min: p.min.into(),
                max: p.max.into(),
                log_scale: p.log_scale,
                choices: p.choices.into_iter().map(RString::into_string).collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PluginInfo {
        name: info.name.into_string(),
        version: info.version.into_string(),
        description: info.description.into_string(),
        tasks: info.tasks.iter().filter_map(|t| t.as_enum().ok().copied()).collect(),
        params,
    })
}

/// Wraps the author's model behind the C-ABI trait. After a panic the model
/// may be half-updated, so it refuses every later call.
struct Adapter<M> {
    model: M,
    poisoned: bool,
}

impl<M: Model> Adapter<M> {
    fn call<T>(&self, what: &str, f: impl FnOnce(&M) -> Result<T>) -> RResult<T, ErrorFfi> {
        if self.poisoned {
            return to_rresult(Err(poisoned(what)));
        }
        to_rresult(guard(what, || f(&self.model)))
    }
    fn call_mut<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut M) -> Result<T>,
    ) -> RResult<T, ErrorFfi> {
        if self.poisoned {
            return to_rresult(Err(poisoned(what)));
        }
        let result = guard(what, || f(&mut self.model));
        if matches!(&result, Err(e) if e.kind() == ErrorKind::Panicked) {
            self.poisoned = true;
        }
        to_rresult(result)
    }
}

pub(crate) fn poisoned(what: &str) -> Error {
    Error::msg(format!("{what} refused: this model panicked earlier; build a new one"))
}

/// `fit`'s inputs from the C ABI, one target per row.
pub(crate) fn fit_inputs<'a>(
    x: MatrixFfi<'a>,
    y: RSlice<'a, f64>,
) -> Result<(Matrix<'a>, &'a [f64])> {
    let x = Matrix::from_ffi(x)?;
    if y.len() != x.rows() {
        return Err(Error::invalid_input(format!("{} targets for {} rows", y.len(), x.rows())));
    }
    Ok((x, y.as_slice()))
}

impl<M: Model> ModelFfi for Adapter<M> {
    fn fit(
        &mut self,
        x: MatrixFfi<'_>,
        y: RSlice<'_, f64>,
        ctx: HostContextFfi_TO<'_, RMut<'_, ()>>,
    ) -> RResult<(), ErrorFfi> {
        self.call_mut("fit", |m| {
            let (x, y) = fit_inputs(x, y)?;
            let mut ctx = ctx;
            m.fit(x, y, &mut FitContext::new(&mut ctx))
        })
    }
    fn predict(&self, x: MatrixFfi<'_>, mut out: RSliceMut<'_, f64>) -> RResult<(), ErrorFfi> {
        self.call("predict", |m| m.predict(Matrix::from_ffi(x)?, out.as_mut_slice()))
    }
    fn predict_proba(
        &self,
        x: MatrixFfi<'_>,
        mut out: RSliceMut<'_, f64>,
    ) -> RResult<(), ErrorFfi> {
        self.call("predict_proba", |m| m.predict_proba(Matrix::from_ffi(x)?, out.as_mut_slice()))
    }
    fn save(&self) -> RResult<RVec<u8>, ErrorFfi> {
        self.call("save", |m| m.save().map(RVec::from))
    }
    fn load(&mut self, bytes: RSlice<'_, u8>) -> RResult<(), ErrorFfi> {
        self.call_mut("load", |m| m.load(bytes.as_slice()))
    }
}

extern "C" fn info_entry<M: Model>() -> RResult<PluginInfoFfi, ErrorFfi> {
    to_rresult(guard("info", || Ok(info_to_ffi(M::info()))))
}

extern "C" fn new_model_entry<M: Model>(
    params: RSlice<'_, ParamFfi>,
) -> RResult<ModelBox, ErrorFfi> {
    to_rresult(guard("constructor", || {
        let model = M::new(&params_from_ffi(params)?)?;
        Ok(ModelFfi_TO::from_ptr(RBox::new(Adapter { model, poisoned: false }), TD_Opaque))
    }))
}

/// The root module for `M`; `export_plugin!` hands this to abi_stable.
#[doc(hidden)]
pub fn root_module<M: Model>() -> PluginModRef {
    PluginMod { info: info_entry::<M>, new_model: new_model_entry::<M> }.leak_into_prefix()
}

// Keep ROption in use for the conversions above (min/max) without a lint.
const _: fn(ROption<f64>) -> Option<f64> = ROption::into_option;

/// Exports a [`Model`] as an mlhost plugin: `export_plugin!(MyModel);`, once,
/// at the crate root of a `cdylib` crate (the crate docs show a whole plugin).
/// It exports the one symbol the host looks up and guards every entry point
/// against panics.
///
/// A typed plugin says which tasks it does: `export_plugin!(Knn: classifier)`,
/// `export_plugin!(Linear: regressor)`, `export_plugin!(Baseline: classifier,
/// regressor)`.
#[macro_export]
macro_rules! export_plugin {
    ($t:ty : classifier) => {
        $crate::__export_root!($crate::__private::root_module_typed::<$crate::__private::AsClassifier<$t>>);
    };
    ($t:ty : regressor) => {
        $crate::__export_root!($crate::__private::root_module_typed::<$crate::__private::AsRegressor<$t>>);
    };
    ($t:ty : classifier, regressor) => {
        $crate::__export_root!($crate::__private::root_module_typed::<$crate::__private::AsBoth<$t>>);
    };
    ($t:ty : regressor, classifier) => {
        $crate::export_plugin!($t: classifier, regressor);
    };
    ($model:ty) => {
        $crate::__export_root!($crate::__private::root_module::<$model>);
    };
}

/// The one symbol the host looks up, built from a root-module function.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_root {
    ($root:expr) => {
        /// The abi_stable library header the host looks up by this name.
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            extern "C" fn __mlhost_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::call_root_module_loader($root)
            }
            // SAFETY: `__mlhost_root_module` returns the module built by
            // `root_module`, a `PluginModRef` erased by abi_stable, which is what
            // `from_constructor::<PluginModRef>` requires.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::ffi::PluginModRef>(
                    __mlhost_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
