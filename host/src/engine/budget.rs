//! The pool's threads, shared among the jobs running at the moment: a job
//! asks at each fold how many it may use (`FitContext::threads`). With 2
//! workers and 6 candidates each job gets 1; once the others are done, the
//! last one (a forest, say) gets both. The pool never starts a job while a
//! slot is busy, so the total stays `workers` (give or take the moment a
//! job starts or ends).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `workers` threads and how many jobs share them now.
#[derive(Debug)]
pub(crate) struct Budget {
    workers: usize,
    running: AtomicUsize,
}

/// A running job's place in the budget; leaving drops it.
#[derive(Debug)]
pub(crate) struct Running(Arc<Budget>);

impl Budget {
    /// A budget of `workers` threads (at least 1).
    pub(crate) fn new(workers: usize) -> Arc<Budget> {
        Arc::new(Budget { workers: workers.max(1), running: AtomicUsize::new(0) })
    }

    /// Counts a job as running until the guard drops.
    pub(crate) fn enter(self: &Arc<Self>) -> Running {
        self.running.fetch_add(1, Ordering::SeqCst);
        Running(Arc::clone(self))
    }

    /// Threads one running job may use now.
    pub(crate) fn threads(&self) -> usize {
        (self.workers / self.running.load(Ordering::SeqCst).max(1)).max(1)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_jobs_share_the_workers_threads() {
        let budget = Budget::new(4);
        let a = budget.enter();
        assert_eq!(budget.threads(), 4, "alone: every thread");
        let b = budget.enter();
        let c = budget.enter();
        assert_eq!(budget.threads(), 1, "three on four: one each, never more than four in all");
        drop((b, c));
        assert_eq!(budget.threads(), 4, "the others done: all again");
        drop(a);
        assert_eq!(Budget::new(0).threads(), 1);
    }
}
