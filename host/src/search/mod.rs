//! Hyperparameter search: the space a study searches (`space`) and the
//! samplers that propose trials from it (`sample`: grid and random; `tpe`),
//! the pruners that stop a bad trial early (`prune`: median, ASHA), and the
//! ask-and-tell study that ties them together (`study`). Pure: no store, no engine; `service` drives a
//! study through the engine's trials.
//!
//! Depends on `domain` and the plugin-api's parameter types only.

pub mod prune;
pub mod sample;
pub mod space;
pub mod study;
pub mod tpe;
