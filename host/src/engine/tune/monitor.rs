//! The pruning monitor: every epoch a trial reports passes through here on
//! its way to the epoch writer. When the value the study prunes on
//! (`--prune-on`; negated when higher is better, as `val_accuracy`)
//! arrives, the study's pruner judges the trial against the others at the
//! same fold and epoch; a trial judged bad has its stop flag
//! set, which its fit context answers with `Stop` (threads) or which kills
//! its child (processes). Its epochs so far are stored all the same.

use std::sync::{Arc, Mutex};

use super::feed::Live;
use crate::domain::{Direction, EpochRow, PrunerName, StudySpec};
use crate::engine::job::EpochSink;

/// Starts the monitor; jobs send their epochs to the returned sink, and
/// the monitor passes each on to `store`.
pub(crate) fn spawn(live: Arc<Mutex<Live>>, spec: &StudySpec, store: EpochSink) -> EpochSink {
    let (tx, rx) = std::sync::mpsc::channel::<EpochRow>();
    let prune_on = spec.prune_on.clone();
    let pruner = spec.pruner;
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("mlhost-pruner".into())
        .spawn(move || {
            let _run = span.entered();
            while let Ok(row) = rx.recv() {
                if pruner != PrunerName::None {
                    judge(&live, &row, &prune_on, pruner);
                }
                let _ = store.send(row);
            }
        })
        .expect("spawn the pruning monitor");
    tx
}

fn judge(live: &Mutex<Live>, row: &EpochRow, prune_on: &str, pruner: PrunerName) {
    let Some(value) = row.metrics().ok().and_then(|m| m.get(prune_on)) else { return };
    // The pruner minimizes: a value where higher is better is negated.
    let loss = match Direction::of(prune_on) {
        Direction::Minimize => value,
        Direction::Maximize => -value,
    };
    let (fold, epoch) = (row.fold.max(0) as usize, row.epoch.max(0) as u32);
    let mut guard = live.lock().expect("study lock");
    let live = &mut *guard;
    live.prune_values_seen = true;
    // A trial's epochs may arrive after it ended (another channel): its
    // curve still gets them, so later trials are judged against all of it.
    let Some(&number) = live.numbers.get(&row.job_id) else { return };
    let prune = live.study.report(number, fold, epoch, loss);
    let Some(r) = live.running.get_mut(&row.job_id) else { return };
    if !prune || r.pruned.is_some() {
        return;
    }
    let name = pruner.as_str();
    let why = format!("pruned ({name}) at fold {fold}, epoch {epoch}: {prune_on} = {value:.6}");
    tracing::debug!(trial = number, fold, epoch, value, "the pruner stops the trial");
    r.pruned = Some(why);
    if let Some(stop) = &r.stop {
        stop.stop();
    }
}
