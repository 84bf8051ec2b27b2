//! Hyperparameter search: the space a study searches (`space`) and the
//! samplers that propose trials from it (`sample`: grid and random; `tpe`;
//! the pruners follow). Pure: no store, no engine; `service` drives a
//! study through the engine's trials.
//!
//! Depends on `domain` and the plugin-api's parameter types only.

pub mod sample;
pub mod space;
pub mod tpe;
