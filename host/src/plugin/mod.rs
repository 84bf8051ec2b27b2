//! Plugin code at arm's length: the loader (the only user of abi_stable and
//! libloading), the child-process probe that opens a new file before the
//! host does, the in-process watchdog, and the JSON forms of parameters.
//!
//! Depends on `domain` only.

pub mod loader;
pub mod probe;
pub mod wire;
