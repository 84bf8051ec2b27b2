//! The glue `export_plugin!(Type: classifier, regressor)` expands to: one
//! C-ABI model object per candidate that holds the typed params until `fit`
//! returns the fitted model, converts labels and probabilities at the
//! boundary, and saves and loads through serde.

use std::marker::PhantomData;

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RResult, RSlice, RSliceMut, RVec};

use crate::data::{FitContext, Matrix};
use crate::error::{Error, ErrorKind, Result};
use crate::export::{fit_inputs, guard, info_to_ffi, params_from_ffi, poisoned, to_rresult};
use crate::ffi::{
    ErrorFfi, HostContextFfi_TO, MatrixFfi, ModelBox, ModelFfi, ModelFfi_TO, ParamFfi,
};
use crate::ffi::{PluginInfoFfi, PluginMod, PluginModRef};
use crate::info::{PluginInfo, Task};
use crate::params::ParamSet;
use crate::persist::{self, Header};
use crate::typed::{Classifier, FittedClassifier, FittedRegressor, Plugin, Proba, Regressor};

/// A fitted model of either task, behind one face.
trait AnyFitted: Send + Sync {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()>;
    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()>;
    fn save(&self, about: &crate::About) -> Result<Vec<u8>>;
    fn importances(&self) -> Option<Vec<f64>>;
}

struct ClassFit<F> {
    model: F,
    k: usize,
}

impl<F: FittedClassifier> AnyFitted for ClassFit<F> {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        // The labels are written into the first half of the host's buffer,
        // then widened in place, a chunk at a time from the end: f64 slot i
        // covers u32 slots 2i and 2i+1, which are read already. No
        // allocation per call; the host validates the classes.
        const CHUNK: usize = 256;
        let n = out.len();
        self.model.predict(x, &mut bytemuck::cast_slice_mut::<f64, u32>(out)[..n], self.k)?;
        let mut labels = [0u32; CHUNK];
        let mut end = n;
        while end > 0 {
            let start = end.saturating_sub(CHUNK);
            let chunk = &mut labels[..end - start];
            chunk.copy_from_slice(&bytemuck::cast_slice::<f64, u32>(out)[start..end]);
            for (o, l) in out[start..end].iter_mut().zip(chunk.iter()) {
                // Classes are small: as i32 the widening vectorizes (cvtdq2pd);
                // a class past i32::MAX turns negative and the host refuses it.
                *o = f64::from(*l as i32);
            }
            end = start;
        }
        Ok(())
    }
    fn predict_proba(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        self.model.predict_proba(x, &mut Proba::new(out, self.k)?)
    }
    fn save(&self, about: &crate::About) -> Result<Vec<u8>> {
        persist::save(&header(about, 0, self.k), &self.model)
    }
    fn importances(&self) -> Option<Vec<f64>> {
        self.model.feature_importances()
    }
}

struct RegFit<F>(F);

impl<F: FittedRegressor> AnyFitted for RegFit<F> {
    fn predict(&self, x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
        self.0.predict(x, out)
    }
    fn predict_proba(&self, _: Matrix<'_>, _: &mut [f64]) -> Result<()> {
        Err(Error::unsupported("predict_proba"))
    }
    fn save(&self, about: &crate::About) -> Result<Vec<u8>> {
        persist::save(&header(about, 1, 0), &self.0)
    }
    fn importances(&self) -> Option<Vec<f64>> {
        self.0.feature_importances()
    }
}

fn header(about: &crate::About, task: u8, k: usize) -> Header {
    Header {
        format: 1,
        plugin: about.name.clone(),
        version: about.version.clone(),
        task,
        k: u32::try_from(k).unwrap_or(u32::MAX),
    }
}

/// Which tasks an exported type does; `export_plugin!` picks one of
/// [`AsClassifier`], [`AsRegressor`], [`AsBoth`].
#[doc(hidden)]
pub trait Tasks: 'static {
    type P: Plugin;
    const TASKS: &'static [Task];
    #[allow(private_interfaces)]
    fn fit(
        params: &<Self::P as Plugin>::Params,
        x: Matrix<'_>,
        y: &[f64],
        ctx: &mut FitContext<'_>,
    ) -> Result<Box<dyn AnyFitted>>;
    #[allow(private_interfaces)]
    fn load(header: &Header, body: &[u8]) -> Result<Box<dyn AnyFitted>>;
}

fn fit_classifier<T: Classifier>(
    params: &T::Params,
    x: Matrix<'_>,
    y: &[f64],
    ctx: &mut FitContext<'_>,
) -> Result<Box<dyn AnyFitted>> {
    let k = ctx.n_classes();
    let labels: Vec<u32> = y.iter().map(|v| *v as u32).collect();
    if let Some(bad) = labels.iter().find(|l| **l as usize >= k) {
        return Err(Error::invalid_input(format!("label {bad} is not in 0..{k}")));
    }
    let model = T::fit(params, x, &labels, ctx)?;
    Ok(Box::new(ClassFit { model, k }))
}

fn fit_regressor<T: Regressor>(
    params: &T::Params,
    x: Matrix<'_>,
    y: &[f64],
    ctx: &mut FitContext<'_>,
) -> Result<Box<dyn AnyFitted>> {
    Ok(Box::new(RegFit(T::fit(params, x, y, ctx)?)))
}

fn load_classifier<T: Classifier>(h: &Header, body: &[u8]) -> Result<Box<dyn AnyFitted>> {
    Ok(Box::new(ClassFit { model: persist::decode::<T::Fitted>(body)?, k: h.k as usize }))
}

fn load_regressor<T: Regressor>(body: &[u8]) -> Result<Box<dyn AnyFitted>> {
    Ok(Box::new(RegFit(persist::decode::<T::Fitted>(body)?)))
}

fn wrong_task(task: &str) -> Error {
    Error::invalid_input(format!("this plugin does not do {task}"))
}

/// `export_plugin!(T: classifier)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct AsClassifier<T>(PhantomData<T>);
/// `export_plugin!(T: regressor)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct AsRegressor<T>(PhantomData<T>);
/// `export_plugin!(T: classifier, regressor)`.
#[doc(hidden)]
#[derive(Debug)]
pub struct AsBoth<T>(PhantomData<T>);

#[allow(private_interfaces)]
impl<T: Classifier> Tasks for AsClassifier<T> {
    type P = T;
    const TASKS: &'static [Task] = &[Task::Classification];
    fn fit(
        p: &T::Params,
        x: Matrix<'_>,
        y: &[f64],
        ctx: &mut FitContext<'_>,
    ) -> Result<Box<dyn AnyFitted>> {
        if ctx.n_classes() == 0 {
            return Err(wrong_task("regression"));
        }
        fit_classifier::<T>(p, x, y, ctx)
    }
    fn load(h: &Header, body: &[u8]) -> Result<Box<dyn AnyFitted>> {
        if h.task != 0 {
            return Err(wrong_task("regression"));
        }
        load_classifier::<T>(h, body)
    }
}

#[allow(private_interfaces)]
impl<T: Regressor> Tasks for AsRegressor<T> {
    type P = T;
    const TASKS: &'static [Task] = &[Task::Regression];
    fn fit(
        p: &T::Params,
        x: Matrix<'_>,
        y: &[f64],
        ctx: &mut FitContext<'_>,
    ) -> Result<Box<dyn AnyFitted>> {
        if ctx.n_classes() != 0 {
            return Err(wrong_task("classification"));
        }
        fit_regressor::<T>(p, x, y, ctx)
    }
    fn load(h: &Header, body: &[u8]) -> Result<Box<dyn AnyFitted>> {
        if h.task != 1 {
            return Err(wrong_task("classification"));
        }
        load_regressor::<T>(body)
    }
}

#[allow(private_interfaces)]
impl<T: Classifier + Regressor> Tasks for AsBoth<T> {
    type P = T;
    const TASKS: &'static [Task] = &[Task::Classification, Task::Regression];
    fn fit(
        p: &<T as Plugin>::Params,
        x: Matrix<'_>,
        y: &[f64],
        ctx: &mut FitContext<'_>,
    ) -> Result<Box<dyn AnyFitted>> {
        if ctx.n_classes() == 0 {
            fit_regressor::<T>(p, x, y, ctx)
        } else {
            fit_classifier::<T>(p, x, y, ctx)
        }
    }
    fn load(h: &Header, body: &[u8]) -> Result<Box<dyn AnyFitted>> {
        if h.task == 1 { load_regressor::<T>(body) } else { load_classifier::<T>(h, body) }
    }
}

/// The C-ABI object: typed params until `fit`, then the fitted model.
struct Typed<E: Tasks> {
    params: <E::P as Plugin>::Params,
    fitted: Option<Box<dyn AnyFitted>>,
    poisoned: bool,
}

impl<E: Tasks> Typed<E> {
    fn fitted(&self, what: &str) -> Result<&dyn AnyFitted> {
        if self.poisoned {
            return Err(poisoned(what));
        }
        self.fitted
            .as_deref()
            .ok_or_else(|| Error::msg(format!("{what} before fit: fit or load the model first")))
    }
    fn run<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> RResult<T, ErrorFfi> {
        if self.poisoned {
            return to_rresult(Err(poisoned(what)));
        }
        let result = guard(what, || f(self));
        if matches!(&result, Err(e) if e.kind() == ErrorKind::Panicked) {
            self.poisoned = true;
        }
        to_rresult(result)
    }
}

impl<E: Tasks> ModelFfi for Typed<E> {
    fn fit(
        &mut self,
        x: MatrixFfi<'_>,
        y: RSlice<'_, f64>,
        ctx: HostContextFfi_TO<'_, RMut<'_, ()>>,
    ) -> RResult<(), ErrorFfi> {
        self.run("fit", |me| {
            let (x, y) = fit_inputs(x, y)?;
            let mut ctx = ctx;
            me.fitted = None;
            me.fitted = Some(E::fit(&me.params, x, y, &mut FitContext::new(&mut ctx))?);
            Ok(())
        })
    }
    fn predict(&self, x: MatrixFfi<'_>, mut out: RSliceMut<'_, f64>) -> RResult<(), ErrorFfi> {
        to_rresult(guard("predict", || {
            self.fitted("predict")?.predict(Matrix::from_ffi(x)?, out.as_mut_slice())
        }))
    }
    fn predict_proba(
        &self,
        x: MatrixFfi<'_>,
        mut out: RSliceMut<'_, f64>,
    ) -> RResult<(), ErrorFfi> {
        to_rresult(guard("predict_proba", || {
            self.fitted("predict_proba")?.predict_proba(Matrix::from_ffi(x)?, out.as_mut_slice())
        }))
    }
    fn save(&self) -> RResult<RVec<u8>, ErrorFfi> {
        to_rresult(guard("save", || self.fitted("save")?.save(&E::P::about()).map(RVec::from)))
    }
    fn load(&mut self, bytes: RSlice<'_, u8>) -> RResult<(), ErrorFfi> {
        self.run("load", |me| {
            let about = E::P::about();
            let (header, body) = persist::open(bytes.as_slice(), &about.name, &about.version)?;
            me.fitted = Some(E::load(&header, body)?);
            Ok(())
        })
    }
    fn feature_importances(&self) -> RResult<RVec<f64>, ErrorFfi> {
        to_rresult(guard("feature_importances", || {
            self.fitted("feature_importances")?
                .importances()
                .map(RVec::from)
                .ok_or_else(|| Error::unsupported("feature_importances"))
        }))
    }
}

fn info_of<E: Tasks>() -> PluginInfo {
    let about = E::P::about();
    PluginInfo {
        name: about.name,
        version: about.version,
        description: about.description,
        tasks: E::TASKS.to_vec(),
        params: <<E::P as Plugin>::Params as ParamSet>::schema(),
    }
}

extern "C" fn info_entry<E: Tasks>() -> RResult<PluginInfoFfi, ErrorFfi> {
    to_rresult(guard("info", || Ok(info_to_ffi(info_of::<E>()))))
}

extern "C" fn new_model_entry<E: Tasks>(
    params: RSlice<'_, ParamFfi>,
) -> RResult<ModelBox, ErrorFfi> {
    to_rresult(guard("constructor", || {
        let params =
            <<E::P as Plugin>::Params as ParamSet>::from_params(&params_from_ffi(params)?)?;
        let model = Typed::<E> { params, fitted: None, poisoned: false };
        Ok(ModelFfi_TO::from_ptr(RBox::new(model), TD_Opaque))
    }))
}

/// The root module of a typed plugin; `export_plugin!` hands it to abi_stable.
#[doc(hidden)]
pub fn root_module_typed<E: Tasks>() -> PluginModRef {
    PluginMod { info: info_entry::<E>, new_model: new_model_entry::<E> }.leak_into_prefix()
}
