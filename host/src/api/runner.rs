//! The runner thread: runs and studies posted to the API are executed
//! here, one at a time, with the single writer connection; what it refused
//! (and why) is kept in memory for `GET`, the newest [`KEPT_REFUSALS`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Pending, PendingMap, Queued, Work, datasets, runs, tuning};
use crate::registry::LiveRegistry;
use crate::service::runs as run_service;
use crate::service::runs::{EvalError, Quiet};
use crate::service::tuning as study_service;
use crate::store::Store;

/// The runner thread: the single writer of runs and studies posted to the API.
pub(super) struct Runner {
    pub(super) live: Arc<LiveRegistry>,
    pub(super) pending: PendingMap,
    pub(super) studies: PendingMap,
    pub(super) store: Store,
    pub(super) data_dirs: Vec<PathBuf>,
    /// Refused ids, oldest first (`true`: a study's), so that at most
    /// [`KEPT_REFUSALS`] are kept: a client posting bad work for weeks
    /// must not grow the server's memory.
    pub(super) refused: VecDeque<(String, bool)>,
}

impl Runner {
    /// Runs what the queue brings, one at a time, until the queue closes.
    pub(super) fn serve(mut self, rx: std::sync::mpsc::Receiver<Queued>) {
        for queued in rx {
            let study = matches!(queued.work, Work::Study(_));
            let id = if study {
                queued.ctx.study_id.as_ref().map(ToString::to_string)
            } else {
                queued.ctx.run_id.as_ref().map(ToString::to_string)
            };
            let id = id.unwrap_or_default();
            let outcome = self.run_one(&queued);
            let pending = if study { &self.studies } else { &self.pending };
            let refusal = refusal(outcome, &queued, study, &id);
            let mut map = pending.lock().unwrap_or_else(|e| e.into_inner());
            match refusal {
                None => {
                    map.remove(&id);
                }
                Some(why) => {
                    map.insert(id.clone(), Pending::Refused(why));
                    drop(map);
                    self.refused.push_back((id, study));
                    forget_oldest(&mut self.refused, (&self.pending, &self.studies), KEPT_REFUSALS);
                }
            }
        }
    }

    /// Runs one run or study to its end, its dataset checked again first.
    /// A bug in the host must not take the runner with it: a panic is the
    /// work refused, its event streams end, the next one runs.
    fn run_one(&mut self, Queued { work, ctx, dataset }: &Queued) -> Result<(), EvalError> {
        datasets::recheck(&self.data_dirs, dataset).map_err(EvalError::BadInput)?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (registry, store) = (&*self.live.current(), &mut self.store);
            match work {
                Work::Run(spec) => {
                    run_service::start(registry, store, spec, ctx, &mut Quiet).map(drop)
                }
                Work::Study(spec) => {
                    study_service::start(registry, store, spec, ctx, &mut Quiet).map(drop)
                }
            }
        }))
        .unwrap_or_else(|p| {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(EvalError::Host(format!("the runner panicked: {what}")))
        })
    }
}

/// What a caller is told of work that did not run (`None`: it ran). Errors
/// about the data name it as the caller did, and the fields of the body,
/// not the CLI's flags; the server's own failures go to its log.
fn refusal(
    outcome: Result<(), EvalError>,
    queued: &Queued,
    study: bool,
    id: &str,
) -> Option<String> {
    let what = if study { "study" } else { "run" };
    match outcome {
        Ok(()) => None,
        Err(EvalError::BadInput(why)) => {
            let why = why.replace(&queued.dataset.spec, &queued.dataset.public);
            Some(if study { tuning::in_body_terms(&why) } else { runs::cv_in_body_terms(&why) })
        }
        Err(EvalError::Host(why)) => {
            tracing::error!(id = %id, kind = what, error = %why, "could not run it");
            Some("the server could not run it; see its log".to_owned())
        }
        Err(EvalError::Store(e)) => {
            tracing::error!(id = %id, kind = what, error = %e, "failed on the database");
            Some("the database failed".to_owned())
        }
    }
}

/// Refusals kept for `GET` (of runs and studies together); older ones are
/// forgotten, and their ids answer 404.
pub(super) const KEPT_REFUSALS: usize = 1000;

/// Forgets the oldest refusals past `keep`, from the map each belongs to.
fn forget_oldest(
    refused: &mut VecDeque<(String, bool)>,
    (runs, studies): (&PendingMap, &PendingMap),
    keep: usize,
) {
    while refused.len() > keep {
        let Some((id, study)) = refused.pop_front() else { break };
        let map = if study { studies } else { runs };
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(map.get(&id), Some(Pending::Refused(_))) {
            map.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_refusals_are_kept() {
        let (runs, studies) = (PendingMap::default(), PendingMap::default());
        let mut refused = VecDeque::new();
        for i in 0..5 {
            let (id, study) = (format!("r{i}"), i % 2 == 1);
            let map = if study { &studies } else { &runs };
            map.lock().unwrap().insert(id.clone(), Pending::Refused("bad".into()));
            refused.push_back((id, study));
            forget_oldest(&mut refused, (&runs, &studies), 3);
        }
        runs.lock().unwrap().insert("queued".into(), Pending::Queued);
        let mut left: Vec<String> = runs.lock().unwrap().keys().cloned().collect();
        left.extend(studies.lock().unwrap().keys().cloned());
        left.sort();
        assert_eq!(left, ["queued", "r2", "r3", "r4"]);
        assert_eq!(refused.len(), 3);
    }
}
