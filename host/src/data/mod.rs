//! Data a run reads: datasets (CSV or built-in) into one immutable
//! snapshot, the snapshot file process workers map, per-fold
//! preprocessing, and the splitters that make folds.
//!
//! Depends on `domain` only.

pub mod columns;
pub mod crlf;
pub mod csv;
pub mod dataset;
pub mod prep;
pub mod records;
pub mod rows;
pub mod scale;
pub mod snapshot;
pub mod split;
pub mod target;
