//! The one crate an mlhost model plugin depends on.
//!
//! Write a model as an ordinary Rust type, implement [`Model`], and call
//! [`export_plugin!`] once. Build the crate as a `cdylib`, drop the `.so`
//! into one of the host's `plugin_dirs`, and `mlhost registry` lists it.
//! You never touch abi_stable: this crate owns the stable ABI, and it catches
//! every panic at the boundary so a bug in a plugin cannot end the host.
//!
//! A complete plugin (the mean of the targets, for regression):
//!
//! ```
//! use mlhost_plugin_api::{FitContext, Matrix, Model, Params, PluginInfo, Result, Task};
//!
//! pub struct Mean {
//!     mean: f64,
//! }
//!
//! impl Model for Mean {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("mean", env!("CARGO_PKG_VERSION"), Task::Regression)
//!             .describe("predicts the mean of the training targets")
//!     }
//!     fn new(_params: &Params) -> Result<Self> {
//!         Ok(Mean { mean: 0.0 })
//!     }
//!     fn fit(&mut self, _x: Matrix<'_>, y: &[f64], _ctx: &mut FitContext<'_>) -> Result<()> {
//!         self.mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
//!         Ok(())
//!     }
//!     fn predict(&self, _x: Matrix<'_>, out: &mut [f64]) -> Result<()> {
//!         out.fill(self.mean);
//!         Ok(())
//!     }
//! }
//!
//! mlhost_plugin_api::export_plugin!(Mean);
//! # fn main() {}
//! ```
//!
//! with this in `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! mlhost-plugin-api = "0.1"
//! ```
//!
//! The crate version is the ABI version: a plugin built against 0.1.x loads
//! in any host built against 0.1.y with y ≥ x.
#![deny(missing_docs)]

mod data;
mod error;
mod export;
#[doc(hidden)]
pub mod ffi;
mod info;
mod model;
mod rng;

// The plugin author's whole API.
pub use data::{Control, FitContext, Matrix, StandaloneContext, argmax_rows};
pub use error::{Error, ErrorKind, Result};
pub use info::{ParamSpec, ParamValue, Params, PluginInfo, Task};
pub use model::Model;
pub use rng::SeededRng;

/// Implementation details for `export_plugin!` and the host's loader.
/// Not part of the author-facing API; may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{error_from_ffi, info_from_ffi, params_to_ffi, root_module};
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
