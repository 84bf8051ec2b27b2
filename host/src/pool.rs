//! A bounded pool of worker threads: at most `workers` jobs run at once, the
//! rest wait in a queue; each job gets a stop flag and a deadline.
//!
//! Owns concurrency and timeouts only. Jobs are closures that return a value;
//! the pool hands every event (started, finished) to the caller's thread, in
//! the order they happen, so the caller can be the single writer of the
//! database. A job that overruns its deadline is asked to stop; one that still
//! has not returned after a grace period is abandoned (its thread is left to
//! finish on its own) so the run always ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A job's cooperative stop request.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Asks the job to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How a job ended, as the pool saw it.
#[derive(Debug)]
pub enum Ended<T> {
    /// Returned in time (or stopped in time) with a value.
    Returned(T),
    /// Returned, but only after its deadline had passed.
    TimedOut(Option<T>),
    /// Its thread panicked outside the plugin guards.
    Panicked(String),
}

/// What the pool reports, in order.
#[derive(Debug)]
pub enum Event<T> {
    /// Job `index` began on a worker.
    Started(usize),
    /// Job `index` ended.
    Finished(usize, Ended<T>),
}

type Job<T> = Box<dyn FnOnce(StopFlag) -> T + Send>;

/// Runs `jobs` with at most `workers` at a time and calls `on_event` on the
/// calling thread for every start and finish. Returns when every job has
/// finished or been abandoned.
pub fn run<T: Send + 'static>(
    jobs: Vec<Job<T>>,
    workers: usize,
    timeout: Duration,
    mut on_event: impl FnMut(Event<T>),
) {
    let grace = (timeout / 10).clamp(Duration::from_millis(200), Duration::from_secs(30));
    let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<T>)>();
    let mut queue = jobs.into_iter().enumerate();
    // index -> (stop flag, deadline)
    let mut running: Vec<(usize, StopFlag, Instant)> = Vec::new();
    let mut done = 0usize;
    let total = queue.len();
    let workers = workers.max(1);
    while done < total {
        while running.len() < workers {
            let Some((index, job)) = queue.next() else { break };
            let stop = StopFlag::default();
            let flag = stop.clone();
            let tx = tx.clone();
            running.push((index, stop, Instant::now() + timeout));
            on_event(Event::Started(index));
            std::thread::Builder::new()
                .name(format!("mlhost-job-{index}"))
                .spawn(move || {
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(flag)));
                    let _ = tx.send((index, result));
                })
                .expect("spawn a worker thread");
        }
        let next_deadline = running.iter().map(|(_, _, d)| *d).min();
        let wait = next_deadline.map_or(Duration::from_millis(100), |d| {
            d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
        });
        match rx.recv_timeout(wait) {
            Ok((index, result)) => {
                let Some(pos) = running.iter().position(|(i, ..)| *i == index) else {
                    continue; // an abandoned job came back late: already reported
                };
                let (_, _, deadline) = running.swap_remove(pos);
                done += 1;
                let ended = match result {
                    Ok(v) if Instant::now() > deadline => Ended::TimedOut(Some(v)),
                    Ok(v) => Ended::Returned(v),
                    Err(p) => Ended::Panicked(panic_text(&p)),
                };
                on_event(Event::Finished(index, ended));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let mut abandoned = Vec::new();
                for (index, stop, deadline) in &running {
                    if now >= *deadline {
                        stop.stop();
                    }
                    if now >= *deadline + grace {
                        abandoned.push(*index);
                    }
                }
                for index in abandoned {
                    running.retain(|(i, ..)| *i != index);
                    done += 1;
                    on_event(Event::Finished(index, Ended::TimedOut(None)));
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
    use std::sync::atomic::AtomicUsize;

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
        run(jobs, 3, Duration::from_secs(60), |e| {
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
                std::thread::sleep(Duration::from_secs(3));
                "ignored the stop flag"
            }),
            Box::new(|_| panic!("boom")),
            Box::new(|_| "quick"),
        ];
        let mut seen = Vec::new();
        run(jobs, 4, Duration::from_millis(100), |e| {
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
