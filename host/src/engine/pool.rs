//! A bounded pool of worker threads: at most `workers` jobs run at once, the
//! rest wait in a queue; each job gets a stop flag and a deadline.
//!
//! Owns concurrency and timeouts only. Jobs are closures that return a value;
//! the pool hands every event (started, finished) to the caller's thread, in
//! the order they happen, so the caller can be the single writer of the
//! database. A job that overruns its deadline is asked to stop; one that still
//! has not returned after a grace period is abandoned (its thread is left to
//! finish on its own) so the run always ends.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::domain::StopFlag;

/// How a job ended, as the pool saw it.
#[derive(Debug)]
pub enum Ended<T> {
    /// Returned in time (or stopped in time) with a value.
    Returned(T),
    /// Returned, but only after its deadline had passed; `None` when it
    /// never returned and was abandoned.
    TimedOut(Option<T>),
    /// Its thread panicked outside the plugin guards.
    Panicked(String),
    /// The run was cancelled before or while it ran.
    Cancelled,
    /// Never started: too many hung threads were abandoned already.
    NotStarted(String),
}

/// What the pool reports, in order.
#[derive(Debug)]
pub enum Event<T> {
    /// Job `index` began on a worker.
    Started(usize),
    /// Job `index` ended.
    Finished(usize, Ended<T>),
}

/// A unit of work: gets its stop flag, returns its outcome.
pub type Job<T> = Box<dyn FnOnce(StopFlag) -> T + Send>;

/// How the pool runs its jobs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// At most this many jobs at once.
    pub workers: usize,
    /// Per-job deadline.
    pub timeout: Duration,
    /// Threads that ignored their stop flag and were left behind, at most;
    /// past it, queued jobs are not started (each leaked thread may hold
    /// memory and a core).
    pub max_abandoned: usize,
    /// Set from outside (Ctrl-C) to cancel the run.
    pub cancel: StopFlag,
}

/// Where the pool's jobs come from, and who hears what becomes of them.
/// The pool asks for the next job each time a worker is free, so a job may
/// depend on how the earlier ones ended (a study proposes its next trial
/// from the finished ones). Jobs are numbered in the order they are given.
pub trait Feed<T> {
    /// The next job; `None` when there are no more (asked again later,
    /// it must stay `None`).
    fn next(&mut self) -> Option<Job<T>>;
    /// A job started or ended.
    fn on_event(&mut self, event: Event<T>);
}

/// A fixed list of jobs and a callback: what a run of `eval` feeds.
struct Listed<T, F> {
    jobs: std::vec::IntoIter<Job<T>>,
    on_event: F,
}

impl<T, F: FnMut(Event<T>)> Feed<T> for Listed<T, F> {
    fn next(&mut self) -> Option<Job<T>> {
        self.jobs.next()
    }
    fn on_event(&mut self, event: Event<T>) {
        (self.on_event)(event);
    }
}

/// Runs `jobs` within `limits` and calls `on_event` on the calling thread
/// for every start and finish. Returns when every job has finished, been
/// abandoned or been cancelled.
pub fn run<T: Send + 'static>(jobs: Vec<Job<T>>, limits: &Limits, on_event: impl FnMut(Event<T>)) {
    run_feed(&mut Listed { jobs: jobs.into_iter(), on_event }, limits);
}

/// Runs the jobs `feed` gives, within `limits`, telling it every start and
/// finish on the calling thread. Returns when the feed has no more and
/// every job has finished, been abandoned or been cancelled. After a
/// cancel, every job the feed still gives is reported cancelled unstarted.
pub fn run_feed<T: Send + 'static>(feed: &mut dyn Feed<T>, limits: &Limits) {
    let timeout = limits.timeout;
    let grace = (timeout / 10).clamp(Duration::from_millis(200), Duration::from_secs(30));
    let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<T>)>();
    let mut given = 0usize;
    let mut exhausted = false;
    // (index, stop flag, deadline)
    let mut running: Vec<(usize, StopFlag, Instant)> = Vec::new();
    let mut abandoned = 0usize;
    let workers = limits.workers.max(1);
    loop {
        let cancelled = limits.cancel.is_set();
        if cancelled {
            for (_, stop, _) in &running {
                stop.stop();
            }
        }
        while running.len() < workers && !exhausted {
            let Some(job) = feed.next() else {
                exhausted = true;
                break;
            };
            let index = given;
            given += 1;
            if cancelled {
                feed.on_event(Event::Finished(index, Ended::Cancelled));
                continue;
            }
            if abandoned >= limits.max_abandoned {
                let why = format!(
                    "not started: {abandoned} hung jobs were abandoned in this run; use process isolation for plugins that hang"
                );
                feed.on_event(Event::Finished(index, Ended::NotStarted(why)));
                continue;
            }
            let stop = StopFlag::default();
            let flag = stop.clone();
            let tx = tx.clone();
            running.push((index, stop, Instant::now() + timeout));
            feed.on_event(Event::Started(index));
            std::thread::Builder::new()
                .name(format!("mlhost-job-{index}"))
                .spawn(move || {
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(flag)));
                    let _ = tx.send((index, result));
                })
                .expect("spawn a worker thread");
        }
        if running.is_empty() {
            break;
        }
        let next_deadline = running.iter().map(|(_, _, d)| *d).min();
        // Wake at least every 50 ms to notice a cancel.
        let wait = next_deadline.map_or(Duration::from_millis(50), |d| {
            d.saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(50))
        });
        match rx.recv_timeout(wait) {
            Ok((index, result)) => {
                let Some(pos) = running.iter().position(|(i, ..)| *i == index) else {
                    continue; // an abandoned job came back late: already reported
                };
                let (_, _, deadline) = running.swap_remove(pos);
                let ended = match result {
                    _ if limits.cancel.is_set() => Ended::Cancelled,
                    Ok(v) if Instant::now() > deadline => Ended::TimedOut(Some(v)),
                    Ok(v) => Ended::Returned(v),
                    Err(p) => Ended::Panicked(panic_text(&p)),
                };
                feed.on_event(Event::Finished(index, ended));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let mut gone = Vec::new();
                for (index, stop, deadline) in &running {
                    if now >= *deadline {
                        stop.stop();
                    }
                    if now >= *deadline + grace {
                        gone.push(*index);
                    }
                }
                for index in gone {
                    running.retain(|(i, ..)| *i != index);
                    abandoned += 1;
                    let ended = if limits.cancel.is_set() {
                        Ended::Cancelled
                    } else {
                        Ended::TimedOut(None)
                    };
                    feed.on_event(Event::Finished(index, ended));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => unreachable!("the pool holds a sender"),
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn limits(workers: usize, timeout: Duration) -> Limits {
        Limits { workers, timeout, max_abandoned: 8, cancel: StopFlag::default() }
    }

    #[test]
    fn cancel_stops_running_jobs_and_skips_queued_ones() {
        let l = limits(1, Duration::from_secs(60));
        let cancel = l.cancel.clone();
        let jobs: Vec<Job<&str>> = vec![
            Box::new(move |stop: StopFlag| {
                cancel.stop(); // Ctrl-C while the first job runs
                while !stop.is_set() {
                    std::thread::sleep(Duration::from_millis(2));
                }
                "stopped"
            }),
            Box::new(|_| "never runs"),
        ];
        let mut seen = Vec::new();
        run(jobs, &l, |e| seen.push(format!("{e:?}")));
        assert_eq!(seen, ["Started(0)", "Finished(0, Cancelled)", "Finished(1, Cancelled)"]);
    }

    #[test]
    fn past_the_abandon_cap_queued_jobs_do_not_start() {
        let mut l = limits(1, Duration::from_millis(50));
        l.max_abandoned = 1;
        let jobs: Vec<Job<&str>> = vec![
            Box::new(|_| {
                std::thread::sleep(Duration::from_secs(2));
                "deaf"
            }),
            Box::new(|_| "queued"),
        ];
        let mut seen = Vec::new();
        run(jobs, &l, |e| seen.push(format!("{e:?}")));
        assert_eq!(seen[..2], ["Started(0)".to_owned(), "Finished(0, TimedOut(None))".to_owned()]);
        assert!(
            seen[2].starts_with("Finished(1, NotStarted(\"not started: 1 hung jobs were abandoned"),
            "{seen:?}"
        );
    }

    #[test]
    fn at_most_workers_run_at_once_and_all_finish() {
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<Job<usize>> = (0..8usize)
            .map(|i| {
                let (live, peak) = (live.clone(), peak.clone());
                Box::new(move |_stop: StopFlag| {
                    let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    live.fetch_sub(1, Ordering::SeqCst);
                    i
                }) as Job<usize>
            })
            .collect();
        let mut finished = Vec::new();
        run(jobs, &limits(3, Duration::from_secs(60)), |e| {
            if let Event::Finished(i, Ended::Returned(v)) = e {
                assert_eq!(i, v);
                finished.push(i);
            }
        });
        finished.sort_unstable();
        assert_eq!(finished, (0..8).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn overrunning_jobs_are_stopped_or_abandoned_and_panics_reported() {
        let jobs: Vec<Job<&str>> = vec![
            Box::new(|stop: StopFlag| {
                while !stop.is_set() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                "stopped"
            }),
            Box::new(|_| {
                std::thread::sleep(Duration::from_secs(5));
                "ignored the stop flag"
            }),
            Box::new(|_| panic!("boom")),
            Box::new(|_| "quick"),
        ];
        let mut seen = Vec::new();
        // A deadline of 1 s (abandoned after 1.2 s): long enough for the
        // panic to be caught and reported on a loaded machine even when
        // RUST_BACKTRACE makes the panic hook symbolize a backtrace.
        run(jobs, &limits(4, Duration::from_secs(1)), |e| {
            if let Event::Finished(i, ended) = e {
                seen.push((i, format!("{ended:?}")));
            }
        });
        seen.sort();
        assert_eq!(
            seen,
            [
                (0, "TimedOut(Some(\"stopped\"))".to_owned()),
                (1, "TimedOut(None)".to_owned()),
                (2, "Panicked(\"boom\")".to_owned()),
                (3, "Returned(\"quick\")".to_owned()),
            ]
        );
    }
}
