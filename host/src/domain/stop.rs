//! A cooperative stop request shared between the one who asks and the one
//! who checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A job's (or a run's, or the relay's) cooperative stop request.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Asks the holder to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
