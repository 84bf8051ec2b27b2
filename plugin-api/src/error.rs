//! The one error type every plugin call returns.

use std::fmt;

pub use crate::ffi::ErrorKind;

/// Shorthand for `Result<T, mlhost_plugin_api::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error a plugin hands back to the host: a kind plus a message a person
/// can act on. It crosses the `.so` boundary as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A general failure: "the solver did not converge", ...
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Failed, message.to_string())
    }

    /// A bad parameter; the message names it: `parameter 'k': must be >= 1`.
    pub fn invalid_param(name: &str, why: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidParam, format!("parameter '{name}': {why}"))
    }

    /// Unusable input data (wrong shape, a label out of range, ...).
    pub fn invalid_input(why: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidInput, why.to_string())
    }

    /// The model does not offer `what` (e.g. `"predict_proba"`).
    pub fn unsupported(what: &str) -> Self {
        Self::new(ErrorKind::Unsupported, format!("{what} is not supported by this model"))
    }

    /// Training stopped because the host asked it to.
    pub fn stopped() -> Self {
        Self::new(ErrorKind::Stopped, "stopped at the host's request")
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
