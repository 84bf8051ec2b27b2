//! The watchdog on in-process calls into plugin code: a hung call is left
//! behind on its thread, never the caller's.

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The watchdog on in-process calls into plugin code that a probe already
/// ran once: calls run on a helper thread and each may take at most `limit`.
/// A hung call is left behind on its thread (a thread cannot be killed) and
/// the rest go on on a fresh one.
#[derive(Debug)]
pub struct Watchdog {
    limit: Duration,
}

impl Watchdog {
    /// A watchdog that waits at most `limit` per call.
    pub fn new(limit: Duration) -> Self {
        Watchdog { limit }
    }

    /// The time limit of one call.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

fn lock<B>(m: &std::sync::Mutex<B>) -> std::sync::MutexGuard<'_, B> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the caller and the batch worker of [`Watchdog::run_each`] share.
struct Batch<I, T> {
    queue: std::collections::VecDeque<(usize, I)>,
    results: Vec<Option<T>>,
    /// The item being run and since when.
    current: Option<(usize, Instant)>,
    /// Bumped when a worker is left behind; a worker of an older
    /// generation takes and stores nothing more.
    generation: u64,
}

impl Watchdog {
    /// Runs `f` on each item in order on one helper thread, at most the
    /// time limit per item: `Some` for an item that finished, `None` for
    /// one that overran (left behind; the rest go on on a fresh thread,
    /// unless none are left or `may_respawn` says no: a call hung inside
    /// dlopen holds the dynamic loader's lock, and creating a thread then
    /// can block the caller for good). The caller sleeps until the batch
    /// is done or an item overruns, so a hundred items cost no more than
    /// running them here.
    pub fn run_each<I, T>(
        &mut self,
        items: Vec<I>,
        f: impl Fn(I) -> T + Send + Sync + 'static,
        may_respawn: impl Fn() -> bool,
    ) -> Vec<Option<T>>
    where
        I: Send + 'static,
        T: Send + 'static,
    {
        use std::sync::{Arc, Mutex};
        let n = items.len();
        let batch = Arc::new(Mutex::new(Batch {
            queue: items.into_iter().enumerate().collect(),
            results: std::iter::repeat_with(|| None).take(n).collect(),
            current: None,
            generation: 0,
        }));
        let f = Arc::new(f);
        let (tx, rx) = mpsc::channel::<u64>();
        let spawn = |gen_id: u64| {
            let (batch, f, tx) = (batch.clone(), f.clone(), tx.clone());
            let work = move || loop {
                let (i, item) = {
                    let mut b = lock(&batch);
                    if b.generation != gen_id {
                        return;
                    }
                    let Some(next) = b.queue.pop_front() else {
                        let _ = tx.send(gen_id);
                        return;
                    };
                    b.current = Some((next.0, Instant::now()));
                    next
                };
                let t = f(item);
                let mut b = lock(&batch);
                if b.generation != gen_id {
                    return;
                }
                b.results[i] = Some(t);
                b.current = None;
            };
            std::thread::Builder::new().name("mlhost-plugin-call".into()).spawn(work).is_ok()
        };
        let mut gen_id = 0;
        let mut running = spawn(gen_id);
        let mut idle_waits = 0;
        while running {
            let due = lock(&batch).current.map(|(_, at)| at + self.limit);
            let wait = due.map_or(self.limit, |d| d.saturating_duration_since(Instant::now()));
            match rx.recv_timeout(wait) {
                Ok(g) if g == gen_id => break,
                Ok(_) => {}
                Err(_) => {
                    let mut b = lock(&batch);
                    if b.current.is_none() {
                        // A whole limit without starting an item: the worker
                        // is stuck before its first (a thread cannot even
                        // start while a hung dlopen holds the loader's lock).
                        idle_waits += 1;
                        if idle_waits > 1 {
                            b.generation = u64::MAX;
                            break;
                        }
                        continue;
                    }
                    idle_waits = 0;
                    let overran = b.current.is_some_and(|(_, at)| at.elapsed() >= self.limit);
                    if overran {
                        // Left behind with its item; a panicked call (plugin
                        // calls catch their own) ends up here too.
                        gen_id += 1;
                        b.generation = gen_id;
                        b.current = None;
                        if b.queue.is_empty() || !may_respawn() {
                            break; // the rest, if any, stay None
                        }
                        drop(b);
                        running = spawn(gen_id);
                    }
                }
            }
        }
        let mut b = lock(&batch);
        b.generation = u64::MAX;
        std::mem::take(&mut b.results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_goes_on_past_a_hung_item_on_a_fresh_thread() {
        let mut dog = Watchdog::new(Duration::from_millis(300));
        let hang_on_0 = |ms: u64| {
            if ms == 0 {
                std::thread::sleep(Duration::from_secs(3600));
            }
            ms * 10
        };
        let got = dog.run_each(vec![1u64, 2, 0, 4], hang_on_0, || true);
        assert_eq!(got, [Some(10), Some(20), None, Some(40)]);
        // No fresh thread when told not to (a hang inside dlopen), nor for
        // nothing: the rest stay None, and the caller is back at once.
        let started = Instant::now();
        let got = dog.run_each(vec![1u64, 0, 4], hang_on_0, || false);
        assert_eq!(got, [Some(10), None, None]);
        assert_eq!(dog.run_each(vec![1u64, 0], hang_on_0, || true), [Some(10), None]);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let threads = dog.run_each(vec![(); 3], |()| std::thread::current().id(), || true);
        assert!(threads.iter().all(|t| *t == threads[0]), "one thread for the batch");
        let got =
            dog.run_each(vec![1u8, 0, 3], |x| if x == 0 { panic!("boom") } else { x }, || true);
        assert_eq!(got, [Some(1), None, Some(3)], "a panic is a hang, never the caller's end");
        assert_eq!(dog.run_each(Vec::<u8>::new(), |x| x, || true), Vec::<Option<u8>>::new());
    }
}
