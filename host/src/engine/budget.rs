//! The pool's threads, shared among the jobs of a run that are not done
//! yet: a job asks at each fold how many it may use (`FitContext::threads`).
//! With 2 workers and 6 candidates each job gets 1; once only one job is
//! left (a forest, say), it gets both. Counting every unfinished job, not
//! only the running ones, keeps a job that starts a fold in the gap between
//! two others from taking a thread the next one needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `workers` threads and how many jobs are not done.
#[derive(Debug)]
pub(crate) struct Budget {
    workers: usize,
    unfinished: AtomicUsize,
}

/// A job's place in the budget until it is done (or dropped unrun).
#[derive(Debug)]
pub(crate) struct Unfinished(Arc<Budget>);

impl Budget {
    /// A budget of `workers` threads (at least 1).
    pub(crate) fn new(workers: usize) -> Arc<Budget> {
        Arc::new(Budget { workers: workers.max(1), unfinished: AtomicUsize::new(0) })
    }

    /// Counts one more job until the guard drops.
    pub(crate) fn job(self: &Arc<Self>) -> Unfinished {
        self.unfinished.fetch_add(1, Ordering::SeqCst);
        Unfinished(Arc::clone(self))
    }

    /// Threads one job may use now.
    pub(crate) fn threads(&self) -> usize {
        let sharing = self.unfinished.load(Ordering::SeqCst).clamp(1, self.workers);
        (self.workers / sharing).max(1)
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        self.0.unfinished.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_jobs_share_the_workers_threads() {
        let budget = Budget::new(4);
        let a = budget.job();
        assert_eq!(budget.threads(), 4, "alone: every thread");
        let b = budget.job();
        assert_eq!(budget.threads(), 2);
        let queued: Vec<Unfinished> = (0..5).map(|_| budget.job()).collect();
        assert_eq!(budget.threads(), 1, "more jobs than workers: one each");
        drop((b, queued));
        assert_eq!(budget.threads(), 4, "the others done: all again");
        drop(a);
        assert_eq!(Budget::new(0).threads(), 1);
    }
}
