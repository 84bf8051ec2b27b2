//! The one crate an mlhost model plugin depends on.
//!
//! Declare the parameters once (`#[derive(Params)]`), implement [`Plugin`]
//! and [`Classifier`] (or [`Regressor`]): `fit` returns the fitted model,
//! which predicts and, deriving serde's traits, saves and loads itself. Call
//! [`export_plugin!`] once, build the crate as a `cdylib`, drop the `.so` into
//! one of the host's `plugin_dirs`, and `mlhost registry` lists it. You never
//! touch abi_stable: this crate owns the stable ABI, and it catches every
//! panic at the boundary so a bug in a plugin cannot end the host.
//!
//! A complete classifier (class frequencies, smoothed) in 29 lines:
//!
//! ```
//! use mlhost_plugin_api::*;
//! use serde::{Deserialize, Serialize};
//! pub struct Prior;
//! #[derive(Params, Clone)]
//! pub struct PriorParams {
//!     #[param(default = 1.0, range = 0.0..=100.0, doc = "added to every class count")]
//!     smoothing: f64,
//! }
//! #[derive(Serialize, Deserialize)]
//! pub struct Fitted(Vec<f64>);
//!
//! impl Plugin for Prior {
//!     type Params = PriorParams;
//!     fn about() -> About { About::new("prior", "0.1.0").describe("class frequencies") }
//! }
//! impl Classifier for Prior {
//!     type Fitted = Fitted;
//!     fn fit(p: &PriorParams, _: Matrix<'_>, y: &[u32], ctx: &mut FitContext<'_>) -> Result<Fitted> {
//!         let mut counts = vec![p.smoothing; ctx.n_classes()];
//!         y.iter().for_each(|&c| counts[c as usize] += 1.0);
//!         let total: f64 = counts.iter().sum();
//!         Ok(Fitted(counts.iter().map(|c| c / total).collect()))
//!     }
//! }
//! impl FittedClassifier for Fitted {
//!     fn predict_proba(&self, _: Matrix<'_>, out: &mut Proba<'_>) -> Result<()> {
//!         out.rows_mut().for_each(|row| row.copy_from_slice(&self.0));
//!         Ok(())
//!     }
//! }
//! export_plugin!(Prior: classifier);
//! # fn main() -> Result<()> {
//! #     let x = Matrix::new(&[0.0; 4], 4, 1)?;
//! #     let params = PriorParams::from_params(&Params::default().set("smoothing", ParamValue::Float(0.0)))?;
//! #     let fitted = Prior::fit(&params, x, &[0, 1, 1, 1], &mut StandaloneContext::new(0, 2).context())?;
//! #     let mut labels = [9; 4];
//! #     fitted.predict(x, &mut labels, 2)?;
//! #     assert_eq!((fitted.0.as_slice(), labels), (&[0.25, 0.75][..], [1; 4]));
//! #     Ok(())
//! # }
//! ```
//!
//! with this in `Cargo.toml` (`mlhost plugin new` writes all of it):
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! mlhost-plugin-api = { path = "PATH/TO/mlhost/plugin-api" }
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! The older [`Model`] trait (`export_plugin!(MyModel)`, one object that is
//! built, then fitted in place) still compiles (rebuilt against 0.3); new plugins should
//! use the typed traits above.
//!
//! The crate version is the ABI version: a plugin built against 0.3.x loads
//! in any host built against 0.3.y with y ≥ x; a 0.1 or 0.2 binary is
//! refused with the rebuild named (its source still compiles against 0.3).
#![deny(missing_docs)]

// `#[derive(Params)]` names `::mlhost_plugin_api`, in this crate too.
extern crate self as mlhost_plugin_api;

mod data;
mod error;
mod export;
mod export_typed;
#[doc(hidden)]
pub mod ffi;
mod info;
mod model;
mod params;
mod persist;
mod rng;
mod typed;

// The plugin author's whole API.
pub use data::{Control, FitContext, Matrix, StandaloneContext, argmax_rows};
pub use error::{Error, ErrorKind, Result};
pub use info::{ParamSpec, ParamValue, Params, PluginInfo, Task};
pub use mlhost_plugin_derive::{Choice, Params};
pub use model::Model;
#[doc(hidden)]
pub use params::choice_from;
pub use params::{Choice, ParamKind, ParamSet};
pub use rng::SeededRng;
pub use typed::{About, Classifier, FittedClassifier, FittedRegressor, Plugin, Proba, Regressor};

/// Implementation details for `export_plugin!` and the host's loader.
/// Not part of the author-facing API; may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{error_from_ffi, info_from_ffi, params_to_ffi, root_module};
    pub use crate::export_typed::{AsBoth, AsClassifier, AsRegressor, root_module_typed};
    pub use abi_stable;
    pub use abi_stable::library::{
        __call_root_module_loader as call_root_module_loader, CheckTypeLayout, LibHeader,
        RootModuleResult,
    };
}

#[cfg(test)]
mod tests {
    /// `export_plugin!` hard-codes the symbol name because an attribute cannot
    /// take a constant; this pins it to abi_stable's.
    #[test]
    fn exported_symbol_is_the_one_abi_stable_looks_up() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
