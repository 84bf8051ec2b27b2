//! Events against a real Redis (`MLHOST_TEST_REDIS_URL`, set by `.ci/run`):
//! every state change publishes exactly its events, in order, with the full
//! envelope; with Redis unreachable the run completes and the events go out
//! later, none lost.

use mlhost::store::Store;
use mlhost_tests::{Sandbox, baseline_so, fixture_so};
use serde_json::Value;

fn redis_url() -> Option<String> {
    let url = std::env::var("MLHOST_TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!(
            "skipping: set MLHOST_TEST_REDIS_URL=redis://127.0.0.1:6379 (a running Redis) to run the event relay tests"
        );
    }
    url
}

/// The stream's entries as `(eventId field, envelope)`.
fn stream(url: &str, key: &str) -> Vec<(String, Value)> {
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(key).arg("-").arg("+").query(&mut con).unwrap();
    entries
        .into_iter()
        .map(|(_, fields)| {
            let get =
                |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone()).unwrap();
            (get("eventId"), serde_json::from_str(&get("event")).unwrap())
        })
        .collect()
}

fn drop_stream(url: &str, key: &str) {
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let _: () = redis::cmd("DEL").arg(key).query(&mut con).unwrap();
}

fn sandbox(redis: &str, stream: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"base\"\nplugin = \"baseline\"\n\n[[model]]\nid = \"fails\"\nplugin = \"misbehave\"\nparams = { mode = \"fail\" }\n",
    );
    sb.write(
        "config/mlhost.toml",
        &format!("plugin_dirs = [\"../plugins\"]\n[events]\nredis_url = \"{redis}\"\nstream = \"{stream}\"\n"),
    );
    sb
}

#[test]
fn every_state_change_arrives_in_redis_with_its_envelope() {
    let Some(url) = redis_url() else { return };
    let key = format!("mlhost-test-{}", uuid::Uuid::now_v7());
    let sb = sandbox(&url, &key);
    let out = sb.mlhost(&[
        "eval",
        "--json",
        "--models",
        "base,fails",
        "--workers",
        "1",
        "--dataset",
        "builtin:iris",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = report["runId"].as_str().unwrap();

    let got = stream(&url, &key);
    drop_stream(&url, &key);
    let types: Vec<&str> = got.iter().map(|(_, e)| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "run.started",
            "evaluation.started",
            "evaluation.completed",
            "evaluation.started",
            "evaluation.failed",
            "run.completed"
        ]
    );
    for (id, e) in &got {
        assert_eq!(e["eventId"], id.as_str());
        assert_eq!(e["eventVersion"], 1);
        assert_eq!(e["runId"], run_id);
        assert!(e["occurredAt"].as_str().unwrap().ends_with('Z'));
        assert!(e["payload"].is_object());
    }
    assert_eq!(
        got[2].1["payload"]["metrics"]["accuracy"],
        report["models"][0]["metrics"]["accuracy"]
    );
    assert_eq!(got[4].1["payload"]["error"], "fold 0: fit: fixture: the solver did not converge");
    // The outbox agrees, and everything is marked published.
    let store = Store::open(&sb.path().join("mlhost.db")).unwrap();
    let ids: Vec<String> = store.run_events(run_id, 0).unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, got.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
    assert!(store.pending_events(10).unwrap().is_empty());
}

#[test]
fn with_redis_down_the_run_completes_and_events_go_out_later_in_order() {
    let Some(url) = redis_url() else { return };
    let key = format!("mlhost-test-{}", uuid::Uuid::now_v7());
    // Nothing listens on port 1.
    let sb = sandbox("redis://127.0.0.1:1", &key);
    let out = sb.mlhost(&["eval", "--json", "--models", "base,fails", "--dataset", "builtin:iris"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("events wait in the outbox").count(), 1, "said once: {stderr}");
    let store = Store::open(&sb.path().join("mlhost.db")).unwrap();
    let waiting: Vec<String> =
        store.pending_events(100).unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(waiting.len(), 6);

    // Redis is back (the config points at it again): everything goes out.
    sb.write(
        "config/mlhost.toml",
        &format!(
            "plugin_dirs = [\"../plugins\"]\n[events]\nredis_url = \"{url}\"\nstream = \"{key}\"\n"
        ),
    );
    let out = sb.mlhost(&["relay"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("published 6 events to {key}"));
    let got: Vec<String> = stream(&url, &key).into_iter().map(|(id, _)| id).collect();
    drop_stream(&url, &key);
    assert_eq!(got, waiting, "every event, in order, once");
    assert!(store.pending_events(10).unwrap().is_empty());
}
