//! A run's events as Server-Sent Events. A stream reads the run's backlog
//! from the store once, then follows what the runner's store announces as
//! it commits ([`crate::store::Store::on_commit`], fanned out to every
//! stream by a broadcast channel in [`AppState`]); nothing polls the
//! database while the run is this server's.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::{AppState, Pending, Problem, datasets};
use crate::store::EventRow;

/// How often a stream looks at the run's in-memory state: whether it was
/// refused before it started (then nothing more comes), or whether this
/// server is not the one running it (then the store is read).
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The run's events as Server-Sent Events, from its first to
/// `run.completed` (a study's run: `study.completed`), live as they are
/// written (`curl -N` works).
#[utoipa::path(get, path = "/evaluations/{id}/events", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, content_type = "text/event-stream", body = String,
        description = "One Server-Sent Event per outbox event of the run, in order, from its first to `run.completed` (a study's run: to `study.completed`; then the stream ends; it also ends when the run was refused before it started): `id:` the eventId, `event:` the eventType, `data:` the event as an `EventEnvelope` (`#/components/schemas/EventEnvelope`) in JSON."),
    (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    // Subscribe before the backlog is read: an event committed in between
    // arrives both ways, and the outbox position drops the second copy.
    let rx = state.events.subscribe();
    let lock_store = || state.store.lock().unwrap_or_else(|e| e.into_inner());
    let stored = lock_store().run(&id).map_err(Problem::internal)?.is_some();
    if !stored && !state.pending.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id) {
        return Err(Problem::not_found(format!("no run '{id}'")));
    }
    // A study's run ends with `study.completed`, right after `run.completed`.
    let study = lock_store().study(&id).map_err(Problem::internal)?;
    let last_type = match study {
        Some(s) if s.run_id.as_str() == id => "study.completed",
        _ => "run.completed",
    };
    let backlog = lock_store().run_events(&id, 0).map_err(Problem::internal)?;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + CHECK_EVERY, CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let follow = Follow {
        state,
        id,
        rx,
        last: 0,
        last_type,
        done: false,
        buf: backlog.into_iter().map(Arc::new).collect(),
        tick,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(event), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One client following one run.
struct Follow {
    state: Arc<AppState>,
    id: String,
    rx: Receiver<Arc<EventRow>>,
    /// Outbox position of the last event sent (0: none yet).
    last: i64,
    /// The run's last event type: `run.completed`, or `study.completed`
    /// when the run is a study's.
    last_type: &'static str,
    /// Nothing comes after `buf`: the last event was sent, or the run was
    /// refused before it started.
    done: bool,
    /// Events to send, in outbox order; any at or before `last` are copies.
    buf: VecDeque<Arc<EventRow>>,
    tick: tokio::time::Interval,
}

impl Follow {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(e) = self.buf.pop_front() {
                if e.seq <= self.last {
                    continue;
                }
                self.last = e.seq;
                self.done |= e.event_type == self.last_type;
                return Some(sse_event(&self.state, &e));
            }
            if self.done {
                return None;
            }
            tokio::select! {
                // Events first: whatever was announced before a check is
                // sent before the check can end the stream.
                biased;
                got = self.rx.recv() => self.take(got),
                _ = self.tick.tick() => self.check(),
            }
        }
    }

    /// Keeps an announced event of this run; after a lag (this client fell
    /// more than the channel's capacity behind) reads the store instead.
    fn take(&mut self, got: Result<Arc<EventRow>, RecvError>) {
        match got {
            Ok(e) if e.run_id.as_deref() == Some(self.id.as_str()) => self.buf.push_back(e),
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => self.reread(),
            Err(RecvError::Closed) => {
                // Not while `AppState` holds its sender (it always does);
                // should that change, end with what the store has.
                self.reread();
                self.done = true;
            }
        }
    }

    /// The periodic look at the run's in-memory state (no database read
    /// while this server runs it): a run refused before it started ends the
    /// stream; a run this server is not running (written by another
    /// process, or finished just now) is read from the store.
    fn check(&mut self) {
        let pending =
            self.state.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&self.id).cloned();
        match pending {
            Some(Pending::Queued) => {}
            Some(Pending::Refused(_)) => {
                self.drain();
                self.done = true;
            }
            None => self.reread(),
        }
    }

    /// Takes what was announced and not yet received, without waiting.
    fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(e) => self.take(Ok(e)),
                Err(TryRecvError::Lagged(_)) => self.reread(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }

    /// Replaces `buf` with the run's stored events after `last`: every
    /// event in `buf` was committed, so the store has them all, in order.
    fn reread(&mut self) {
        let read = self
            .state
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .run_events(&self.id, self.last);
        match read {
            Ok(rows) => self.buf = rows.into_iter().map(Arc::new).collect(),
            Err(e) => {
                tracing::warn!(run_id = %self.id, error = %e, "could not read the run's events")
            }
        }
    }
}

/// An outbox event as a Server-Sent Event: `id:` the event id, `event:` its
/// type, `data:` its envelope.
fn sse_event(state: &AppState, e: &EventRow) -> SseEvent {
    let mut envelope = e.to_envelope();
    public_spec_dataset(&mut envelope.payload, &state.uploads);
    let data = serde_json::to_string(&envelope).expect("an envelope serializes");
    SseEvent::default().id(e.id.clone()).event(e.event_type.clone()).data(data)
}

/// The stored spec names an upload by its file; callers know it as
/// `dataset:ID`. Every other payload goes out as the outbox holds it (and
/// as Redis gets it). (Before 0.2 this stream also added
/// `"spec": {"dataset": null}` to payloads without a spec, by accident.)
fn public_spec_dataset(payload: &mut serde_json::Value, uploads: &std::path::Path) {
    let Some(dataset) = payload.pointer_mut("/spec/dataset") else { return };
    if let Some(public) = dataset.as_str().and_then(|s| datasets::public_name(uploads, s)) {
        *dataset = public.into();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::public_spec_dataset;

    #[test]
    fn an_upload_in_a_spec_is_named_by_id_and_other_payloads_keep_their_shape() {
        let uploads = std::path::Path::new("/srv/db/datasets");
        let id = "0123456789abcdef".repeat(4);
        let mut started = json!({"spec": {"dataset": format!("/srv/db/datasets/{id}.csv")}});
        public_spec_dataset(&mut started, uploads);
        assert_eq!(started, json!({"spec": {"dataset": format!("dataset:{id}")}}));
        let mut builtin = json!({"spec": {"dataset": "builtin:iris", "folds": 2}});
        public_spec_dataset(&mut builtin, uploads);
        assert_eq!(builtin, json!({"spec": {"dataset": "builtin:iris", "folds": 2}}));
        // Payloads without a spec go out as stored.
        let mut other = json!({"jobId": "j1", "attempt": 1});
        public_spec_dataset(&mut other, uploads);
        assert_eq!(other, json!({"jobId": "j1", "attempt": 1}));
        // A payload that is no object (not written by mlhost) is left alone.
        for odd in [json!("not json"), json!([1, 2]), json!({"spec": "text"})] {
            let mut v = odd.clone();
            public_spec_dataset(&mut v, uploads);
            assert_eq!(v, odd);
        }
    }
}
