//! The one writer of a run: every trial's start and end goes from the pool
//! to this, on the thread that owns the store, and becomes one transaction
//! (state change, results, predictions and event together). Epochs, which
//! arrive many per second while models train, have a writer of their own
//! ([`EpochWriter`]) on a second connection that writes `epoch_metrics`
//! only.

use std::path::Path;
use std::time::Duration;

use super::job::{FoldScores, JobFailure};
use super::plan::Trial;
use super::pool::{Ended, Event};
use super::run::Progress;
use crate::domain::{EpochRow, JobStatus, MetricSet, summarize};
use crate::store::{JobEnd, ResultRow, Store, StoreError, TrialEnd};

/// Records outcomes as the pool reports them.
pub(crate) struct Writer<'a> {
    pub(crate) store: &'a mut Store,
    pub(crate) progress: &'a mut dyn Progress,
    pub(crate) timeout: Duration,
    /// The first store error; later events are not written.
    pub(crate) error: Option<StoreError>,
}

impl Writer<'_> {
    /// A trial that never ran: failed with `why`.
    pub(crate) fn refused(&mut self, trial: &Trial, why: &str) {
        let span = tracing::info_span!("job", job_id = %trial.job_id, model = %trial.model_id);
        let _job = span.enter();
        let end =
            JobEnd { status: JobStatus::Failed, error: Some(why), results: &[], predictions: &[] };
        tracing::warn!(job_id = %trial.job_id, model = %trial.model_id, reason = why, "job refused");
        self.progress.finished(&trial.model_id, JobStatus::Failed);
        self.record(|s| s.job_finished(&trial.job_id, end));
    }

    /// What the pool said about `trial`.
    pub(crate) fn on_event(&mut self, trial: &Trial, event: Event<Result<FoldScores, JobFailure>>) {
        match event {
            Event::Started(_) => {
                self.progress.started(&trial.model_id);
                tracing::debug!(job_id = %trial.job_id, model = %trial.model_id, "job started");
                self.record(|s| s.job_started(&trial.job_id));
            }
            Event::Finished(_, ended) => self.finished(trial, ended),
        }
    }

    fn finished(&mut self, trial: &Trial, ended: Ended<Result<FoldScores, JobFailure>>) {
        let outcome = self.outcome(ended);
        self.record_end(trial, outcome, None);
    }

    /// A job's outcome from how the pool saw it end.
    pub(crate) fn outcome(
        &self,
        ended: Ended<Result<FoldScores, JobFailure>>,
    ) -> Result<FoldScores, JobFailure> {
        match ended {
            Ended::Returned(r) => r,
            Ended::TimedOut(_) => Err(JobFailure {
                status: JobStatus::TimedOut,
                error: format!("timed out after {}s", self.timeout.as_secs_f64()),
            }),
            Ended::Panicked(msg) => Err(JobFailure::failed(format!("job panicked: {msg}"))),
            Ended::Cancelled => Err(JobFailure {
                status: JobStatus::Cancelled,
                error: "cancelled (Ctrl-C); `mlhost eval --resume RUN` (a study: `tune --resume STUDY`) runs it again".to_owned(),
            }),
            Ended::NotStarted(why) => Err(JobFailure::failed(why)),
        }
    }

    /// Records how `trial`'s job ended (and, for a study, how the trial
    /// did, in the same transaction).
    pub(crate) fn record_end(
        &mut self,
        trial: &Trial,
        outcome: Result<FoldScores, JobFailure>,
        study: Option<TrialEnd<'_>>,
    ) {
        // The job's log lines carry its span here too, not only on its worker.
        let span = tracing::info_span!("job", job_id = %trial.job_id, model = %trial.model_id);
        let _job = span.enter();
        let (results, predictions, status, error) = match outcome {
            Ok(folds) => {
                let results = result_rows(trial, &folds);
                let predictions: Vec<_> = folds.into_iter().map(|f| f.predictions).collect();
                tracing::debug!(ms = results.first().map_or(0, |r| r.duration_ms), "job succeeded");
                (results, predictions, JobStatus::Succeeded, None)
            }
            Err(f) if study.is_some_and(|t| t.state == crate::domain::TrialStatus::Pruned) => {
                // Stopping a bad trial is the pruner working, not a problem.
                tracing::info!(error = %f.error, "trial pruned");
                (Vec::new(), Vec::new(), f.status, Some(f.error))
            }
            Err(f) => {
                tracing::warn!(status = %f.status, error = %f.error, "job did not succeed");
                (Vec::new(), Vec::new(), f.status, Some(f.error))
            }
        };
        let end = JobEnd {
            status,
            error: error.as_deref(),
            results: &results,
            predictions: &predictions,
        };
        self.progress.finished(&trial.model_id, status);
        match study {
            None => self.record(|s| s.job_finished(&trial.job_id, end)),
            Some(t) => self.record(|s| s.trial_finished(&trial.job_id, end, t)),
        }
    }

    pub(crate) fn record(&mut self, write: impl FnOnce(&mut Store) -> Result<(), StoreError>) {
        if self.error.is_none()
            && let Err(e) = write(self.store)
        {
            self.error = Some(e);
        }
    }
}

/// The mean row (fold -1) and one row per fold.
pub(crate) fn result_rows(trial: &Trial, folds: &FoldScores) -> Vec<ResultRow> {
    let row = |fold: i64, metrics: MetricSet, duration_ms: i64| ResultRow {
        job_id: trial.job_id.clone(),
        model_id: trial.model_id.clone(),
        model_version: trial.version.clone(),
        fold,
        metrics,
        duration_ms,
    };
    let sets: Vec<MetricSet> = folds.iter().map(|f| f.metrics.clone()).collect();
    let (mean, _) = summarize(&sets);
    let total: i64 = folds.iter().map(|f| f.duration_ms).sum();
    std::iter::once(row(-1, mean, total))
        .chain(
            folds.iter().enumerate().map(|(i, f)| row(i as i64, f.metrics.clone(), f.duration_ms)),
        )
        .collect()
}

/// Writes epochs in batches on its own thread and connection, so training
/// never waits for SQLite.
pub(crate) struct EpochWriter {
    done: std::sync::mpsc::Receiver<()>,
}

impl EpochWriter {
    /// Starts the writer; epochs sent to the returned channel are stored.
    pub(crate) fn spawn(
        database: &Path,
    ) -> Result<(EpochWriter, std::sync::mpsc::Sender<EpochRow>), StoreError> {
        let (tx, rx) = std::sync::mpsc::channel::<EpochRow>();
        let mut store = Store::open(database)?;
        let span = tracing::Span::current();
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _run = span.entered();
            let _done = done_tx; // dropped when the last epoch is stored
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                if let Err(e) = store.record_epochs(&batch) {
                    tracing::error!(error = %e, epochs = batch.len(), "could not store epochs");
                }
            }
        });
        Ok((EpochWriter { done }, tx))
    }

    /// Waits until every epoch sent is stored. A hung job abandoned by the
    /// pool still holds a sender: after a grace period its epochs are left
    /// to the writer thread, which ends with the process.
    pub(crate) fn finish(self) {
        let _ = self.done.recv_timeout(Duration::from_secs(5));
    }
}
