//! Parameters declared once: `#[derive(Params)]` on a struct gives both the
//! schema the host validates against and the typed values `fit` reads, so a
//! parameter is never named twice and never looked up by string.

use crate::error::{Error, Result};
use crate::info::{ParamSpec, Params};

/// A plugin's parameters as one typed value. Derive it:
///
/// ```
/// use mlhost_plugin_api::{Choice, Params};
///
/// #[derive(Params, Clone)]
/// pub struct KnnParams {
///     /// Neighbours that vote.
///     #[param(default = 5, range = 1..=200)]
///     k: u32,
///     #[param(default = 1e-3, range = 1e-6..=1.0, log, doc = "step size")]
///     rate: f64,
///     #[param(default = Weights::Uniform)]
///     weights: Weights,
/// }
///
/// #[derive(Choice, Clone, Copy, Default)]
/// pub enum Weights {
///     #[default]
///     Uniform,
///     Distance,
/// }
/// # use mlhost_plugin_api::ParamSet;
/// let schema = KnnParams::schema();
/// assert_eq!(KnnParams::defaults().k, 5);
/// assert_eq!(schema[0].description, "Neighbours that vote.");
/// assert_eq!(schema[2].choices, ["uniform", "distance"]);
/// ```
///
/// Field types: `f64`, `f32`, `i64`, `i32`, `u64`, `u32`, `usize`, `bool`,
/// and enums that derive [`Choice`](crate::Choice). Attributes of
/// `#[param(..)]`: `default = EXPR` (else the type's `Default`), `range =
/// LO..=HI`, `min = ..`, `max = ..`, `log` (searched on a log scale), `doc =
/// ".."` (else the field's doc comment), `name = ".."` (else the field name).
/// Unsigned fields get `min = 0`.
pub trait ParamSet: Sized + Clone + Send + Sync + 'static {
    /// One spec per parameter, in field order.
    fn schema() -> Vec<ParamSpec>;
    /// The typed values from params the host checked against [`schema`](Self::schema).
    fn from_params(params: &Params) -> Result<Self>;
    /// Every parameter at its default (tests, benches, direct library use).
    fn defaults() -> Self {
        let params = Self::schema()
            .into_iter()
            .fold(Params::default(), |p, spec| p.set(&spec.name, spec.default));
        Self::from_params(&params).expect("a schema's own defaults are valid")
    }
}

/// No parameters.
impl ParamSet for () {
    fn schema() -> Vec<ParamSpec> {
        Vec::new()
    }
    fn from_params(_: &Params) -> Result<Self> {
        Ok(())
    }
}

/// A type a parameter field can have (implemented for numbers and bool;
/// `#[derive(Choice)]` implements it for enums).
pub trait ParamKind: Sized {
    /// The spec of parameter `name` with this default.
    fn spec(name: &str, default: Self) -> ParamSpec;
    /// The value of parameter `name`.
    fn read(params: &Params, name: &str) -> Result<Self>;
}

impl ParamKind for f64 {
    fn spec(name: &str, default: Self) -> ParamSpec {
        ParamSpec::float(name, default)
    }
    fn read(params: &Params, name: &str) -> Result<Self> {
        params.float(name)
    }
}

impl ParamKind for f32 {
    fn spec(name: &str, default: Self) -> ParamSpec {
        ParamSpec::float(name, f64::from(default))
    }
    fn read(params: &Params, name: &str) -> Result<Self> {
        params.float(name).map(|f| f as f32)
    }
}

impl ParamKind for bool {
    fn spec(name: &str, default: Self) -> ParamSpec {
        ParamSpec::bool(name, default)
    }
    fn read(params: &Params, name: &str) -> Result<Self> {
        params.bool(name)
    }
}

macro_rules! int_kind {
    ($($t:ty => $min:expr),*) => {$(
        impl ParamKind for $t {
            fn spec(name: &str, default: Self) -> ParamSpec {
                let spec = ParamSpec::int(name, i64::try_from(default).unwrap_or(i64::MAX));
                match $min {
                    Some(min) => spec.min(min),
                    None => spec,
                }
            }
            fn read(params: &Params, name: &str) -> Result<Self> {
                let i = params.int(name)?;
                <$t>::try_from(i).map_err(|_| {
                    Error::invalid_param(name, format!("{i} does not fit a {}", stringify!($t)))
                })
            }
        }
    )*};
}

int_kind!(i64 => None::<f64>, i32 => None::<f64>, u64 => Some(0.0), u32 => Some(0.0), usize => Some(0.0));

/// One of a fixed set of names: derive it on an enum of unit variants
/// (names are the variants in kebab-case; `#[choice(name = "..")]` renames).
pub trait Choice: Sized {
    /// Every name, in variant order.
    const NAMES: &'static [&'static str];
    /// This variant's name.
    fn name(&self) -> &'static str;
    /// The variant called `name`.
    fn from_name(name: &str) -> Option<Self>;
}

/// `#[derive(Choice)]`'s reader.
#[doc(hidden)]
pub fn choice_from<C: Choice>(params: &Params, name: &str) -> Result<C> {
    let given = params.choice(name)?;
    C::from_name(given).ok_or_else(|| {
        Error::invalid_param(
            name,
            format!("expected one of {}, got \"{given}\"", C::NAMES.join(", ")),
        )
    })
}
