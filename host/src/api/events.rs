//! A run's events as Server-Sent Events, read from the outbox.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;

use super::{AppState, Pending, Problem, datasets};
use crate::store::EventRow;

/// The run's events as Server-Sent Events, from its first to
/// `run.completed`, live as they are written (`curl -N` works).
#[utoipa::path(get, path = "/evaluations/{id}/events", params(("id" = String, Path, description = "run id")), responses(
    (status = 200, content_type = "text/event-stream", body = String,
        description = "One Server-Sent Event per outbox event of the run, in order, from its first to `run.completed` (then the stream ends; it also ends when the run was refused before it started): `id:` the eventId, `event:` the eventType, `data:` the event as an `EventEnvelope` (`#/components/schemas/EventEnvelope`) in JSON."),
    (status = 401, description = "token missing or wrong"), (status = 404, description = "no such run"),
))]
pub(super) async fn run_events(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    let known = state
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .run(&id)
        .map_err(Problem::internal)?
        .is_some()
        || state.pending.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id);
    if !known {
        return Err(Problem::not_found(format!("no run '{id}'")));
    }
    let start = (state, id, 0i64, false, std::collections::VecDeque::new());
    let stream = futures_util::stream::unfold(
        start,
        |(state, id, mut last, mut done, mut buf)| async move {
            loop {
                if let Some(e) = buf.pop_front() {
                    return Some((Ok(e), (state, id, last, done, buf)));
                }
                if done {
                    return None;
                }
                let events = state
                    .store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .run_events(&id, last)
                    .unwrap_or_default();
                for e in events {
                    last = e.seq;
                    done |= e.event_type == "run.completed";
                    buf.push_back(sse_event(&state, &e));
                }
                if buf.is_empty() {
                    // A run refused before it started never completes.
                    if let Some(Pending::Refused(_)) =
                        state.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&id)
                    {
                        return None;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
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
/// `dataset:ID`. Kept as this stream has always sent it: a payload object
/// without `spec.dataset` gets `"spec": {"dataset": null}` (what indexing
/// a `serde_json::Value` for writing inserts); no other payload is touched.
fn public_spec_dataset(payload: &mut serde_json::Value, uploads: &std::path::Path) {
    let Some(fields) = payload.as_object_mut() else { return };
    let spec = fields.entry("spec").or_insert(serde_json::Value::Null);
    if !(spec.is_null() || spec.is_object()) {
        return;
    }
    let dataset = &mut spec["dataset"];
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
        // As this stream has always sent them.
        let mut other = json!({"jobId": "j1", "attempt": 1});
        public_spec_dataset(&mut other, uploads);
        assert_eq!(other, json!({"jobId": "j1", "attempt": 1, "spec": {"dataset": null}}));
        // A payload that is no object (not written by mlhost) is left alone.
        for odd in [json!("not json"), json!([1, 2]), json!({"spec": "text"})] {
            let mut v = odd.clone();
            public_spec_dataset(&mut v, uploads);
            assert_eq!(v, odd);
        }
    }
}
