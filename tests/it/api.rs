//! The HTTP API over a real socket (port 0): start a run, poll it to
//! completion, read results; every error case with its status and RFC 7807
//! body; bearer-token enforcement.

use std::time::{Duration, Instant};

use mlhost_tests::{Sandbox, baseline_so, fixture_so};
use serde_json::Value;

fn sandbox(config_extra: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.add_plugin(fixture_so("misbehave"), "libmisbehave.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"base\"\nplugin = \"baseline\"\n\n[[model]]\nid = \"slow\"\nplugin = \"misbehave\"\nparams = { mode = \"sleep\", ms = 400 }\n",
    );
    sb.write("config/mlhost.toml", &format!("plugin_dirs = [\"../plugins\"]\n{config_extra}"));
    sb
}

/// (status, content type, JSON body) of any answer, success or error.
fn call(req: ureq::Request, body: Option<&str>) -> (u16, String, Value) {
    let result = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let ctype = resp.header("content-type").unwrap_or("").to_owned();
    let text = resp.into_string().unwrap();
    (status, ctype, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[test]
fn start_a_run_poll_it_and_read_results() {
    let sb = sandbox("");
    let s = sb.serve(&[]);
    let (code, _, health) = call(ureq::get(&format!("{}/health", s.url)), None);
    assert_eq!((code, health["models"]["ready"].as_u64()), (200, Some(2)));
    let (code, _, models) = call(ureq::get(&format!("{}/api/ml/models", s.url)), None);
    assert_eq!(code, 200);
    assert_eq!(models["models"].as_array().unwrap().len(), 2);

    let body = r#"{"dataset": "builtin:iris", "models": ["base"], "folds": 3, "seed": 1}"#;
    let (code, _, started) = call(ureq::post(&format!("{}/api/ml/evaluations", s.url)), Some(body));
    assert_eq!(code, 202, "{started}");
    let run_id = started["runId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let (code, _, st) =
            call(ureq::get(&format!("{}/api/ml/evaluations/{run_id}", s.url)), None);
        assert_eq!(code, 200, "{st}");
        if st["status"] == "completed" || Instant::now() > deadline {
            break st;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status["status"], "completed");
    assert_eq!(status["jobs"]["byStatus"]["succeeded"], 1);
    let (code, _, results) =
        call(ureq::get(&format!("{}/api/ml/evaluations/{run_id}/results", s.url)), None);
    assert_eq!(code, 200);
    let rows = results["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3 + 1);
    assert!(rows.iter().all(|r| r["modelId"] == "base" && r["metrics"]["accuracy"].is_number()));
}

#[test]
fn errors_are_problem_documents() {
    let sb = sandbox("[api]\nqueue = 1\n");
    let s = sb.serve(&[]);
    let post = |body: &str| call(ureq::post(&format!("{}/api/ml/evaluations", s.url)), Some(body));
    let cases: Vec<(u16, &str, (u16, String, Value))> = vec![
        (400, "/problems/bad-request", post("{not json")),
        (400, "/problems/bad-request", post(r#"{"dataset": "builtin:iris", "wokers": 2}"#)),
        (
            422,
            "/problems/unknown-model",
            post(r#"{"dataset": "builtin:iris", "models": ["ghost"]}"#),
        ),
        (422, "/problems/invalid-params", post(r#"{"dataset": "builtin:iris", "workers": 0}"#)),
        (422, "/problems/unknown-dataset", post(r#"{"dataset": "builtin:mnist"}"#)),
        (
            404,
            "/problems/not-found",
            call(ureq::get(&format!("{}/api/ml/evaluations/nope", s.url)), None),
        ),
        (
            404,
            "/problems/not-found",
            call(ureq::get(&format!("{}/api/ml/evaluations/nope/results", s.url)), None),
        ),
    ];
    for (want, kind, (code, ctype, body)) in cases {
        assert_eq!(code, want, "{body}");
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(body["type"], kind, "{body}");
        assert_eq!(body["status"], want);
        assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    }
    // A full queue: one run executes, one waits, the next is refused. The
    // first run is seen running before the rest are posted, so whether the
    // runner has taken it yet does not decide the answers.
    let slow = r#"{"dataset": "builtin:iris", "models": ["slow"], "folds": 2}"#;
    let first = ureq::post(&format!("{}/api/ml/evaluations", s.url))
        .set("Content-Type", "application/json")
        .send_string(slow)
        .unwrap();
    let mut codes = vec![first.status()];
    let run: Value = serde_json::from_str(&first.into_string().unwrap()).unwrap();
    let status_url = format!("{}/api/ml/evaluations/{}", s.url, run["runId"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st: Value =
            serde_json::from_str(&ureq::get(&status_url).call().unwrap().into_string().unwrap())
                .unwrap();
        if st["status"] != "queued" || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut refused = None;
    for _ in 0..3 {
        let resp = ureq::post(&format!("{}/api/ml/evaluations", s.url))
            .set("Content-Type", "application/json")
            .send_string(slow);
        match resp {
            Ok(r) => codes.push(r.status()),
            Err(ureq::Error::Status(code, r)) => {
                codes.push(code);
                refused = Some(r.header("retry-after").map(str::to_owned));
            }
            Err(e) => panic!("{e}"),
        }
    }
    // The first is accepted; once the queue is full, the rest are refused.
    assert_eq!(codes[0], 202, "{codes:?}");
    let first_refusal = codes.iter().position(|&c| c == 503).expect("a full queue answers 503");
    assert!(codes[first_refusal..].iter().all(|&c| c == 503), "{codes:?}");
    assert!(codes[..first_refusal].iter().all(|&c| c == 202), "{codes:?}");
    assert_eq!(refused, Some(Some("5".to_owned())));
}

#[test]
fn the_token_guards_every_api_route() {
    let sb = sandbox("[api]\ntoken = \"s3cret-token\"\n");
    let s = sb.serve(&[]);
    let url = format!("{}/api/ml/models", s.url);
    let (code, ctype, body) = call(ureq::get(&url), None);
    assert_eq!((code, ctype.as_str()), (401, "application/problem+json"));
    assert!(!body.to_string().contains("s3cret"), "the token never appears in answers");
    let (code, _, _) = call(ureq::get(&url).set("Authorization", "Bearer wrong"), None);
    assert_eq!(code, 401);
    let (code, _, _) = call(ureq::get(&url).set("Authorization", "Bearer s3cret-token"), None);
    assert_eq!(code, 200);
    let (code, _, _) = call(ureq::get(&format!("{}/api/ml/evaluations/x", s.url)), None);
    assert_eq!(code, 401);
    // Health stays open for load balancers.
    let (code, _, _) = call(ureq::get(&format!("{}/health", s.url)), None);
    assert_eq!(code, 200);
}

#[test]
fn events_stream_live_and_the_openapi_document_lists_every_route() {
    let sb = sandbox("");
    let s = sb.serve(&[]);
    let body =
        r#"{"dataset": "builtin:iris", "models": ["base", "slow"], "folds": 2, "workers": 1}"#;
    let (code, _, started) = call(ureq::post(&format!("{}/api/ml/evaluations", s.url)), Some(body));
    assert_eq!(code, 202);
    let run_id = started["runId"].as_str().unwrap();
    // The stream follows the run while it runs and ends with run.completed.
    let resp = ureq::get(&format!("{}/api/ml/evaluations/{run_id}/events", s.url)).call().unwrap();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let text = resp.into_string().unwrap();
    let types: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(
        types,
        [
            "run.started",
            "evaluation.started",
            "evaluation.completed",
            "evaluation.started",
            "evaluation.completed",
            "run.completed"
        ]
    );
    let first: Value =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(
        (first["eventType"].as_str(), first["runId"].as_str()),
        (Some("run.started"), Some(run_id))
    );
    let (code, _, _) = call(ureq::get(&format!("{}/api/ml/evaluations/nope/events", s.url)), None);
    assert_eq!(code, 404);

    let (code, _, doc) = call(ureq::get(&format!("{}/api/openapi.json", s.url)), None);
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for p in [
        "/health",
        "/api/ml/models",
        "/api/ml/evaluations",
        "/api/ml/evaluations/{id}",
        "/api/ml/evaluations/{id}/results",
        "/api/ml/evaluations/{id}/events",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    assert!(doc["components"]["schemas"]["EvalRequest"].is_object());
}

/// `(id, event, data)` of every event in a `text/event-stream` body.
fn sse_frames(text: &str) -> Vec<(String, String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let field =
                |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            let data = serde_json::from_str(&field("data: ")?).expect("data is JSON");
            Some((field("id: ")?, field("event: ")?, data))
        })
        .collect()
}

/// `(eventId, eventType)` of a run's events in the database, in outbox order.
fn stored_events(sb: &Sandbox, run: &str) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(sb.path().join("mlhost.db")).unwrap();
    let mut q =
        db.prepare("SELECT id, event_type FROM events WHERE run_id = ?1 ORDER BY rowid").unwrap();
    q.query_map([run], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn every_client_sees_every_event_of_a_run_in_order_and_the_stream_ends() {
    let sb = sandbox("");
    let s = sb.serve(&[]);
    let post = |body: &str| {
        let (code, _, v) = call(ureq::post(&format!("{}/api/ml/evaluations", s.url)), Some(body));
        assert_eq!(code, 202, "{v}");
        v["runId"].as_str().unwrap().to_owned()
    };
    // The first run keeps the runner busy for seconds, so the second is
    // still queued when its clients connect: all they see comes live.
    post(r#"{"dataset": "builtin:iris", "models": ["slow"], "folds": 5}"#);
    let run = post(
        r#"{"dataset": "builtin:iris", "models": ["slow", "base"], "folds": 2, "workers": 1}"#,
    );
    let events_url = format!("{}/api/ml/evaluations/{run}/events", s.url);
    let follow = |url: String| {
        std::thread::spawn(move || {
            let resp = ureq::get(&url).timeout(Duration::from_secs(120)).call().unwrap();
            resp.into_string().expect("the stream ends")
        })
    };
    let clients: Vec<_> = (0..3).map(|_| follow(events_url.clone())).collect();
    let (_, _, status) = call(ureq::get(&format!("{}/api/ml/evaluations/{run}", s.url)), None);
    assert_eq!(status["status"], "queued", "{status}");
    let mut streams: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    // One more after the end reads it all from the store.
    streams.push(follow(events_url).join().unwrap());

    let stored = stored_events(&sb, &run);
    let types: Vec<&str> = stored.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "run.started",
            "evaluation.started",
            "evaluation.completed",
            "evaluation.started",
            "evaluation.completed",
            "run.completed"
        ]
    );
    for text in &streams {
        let frames = sse_frames(text);
        let seen: Vec<(String, String)> =
            frames.iter().map(|(id, event, _)| (id.clone(), event.clone())).collect();
        assert_eq!(seen, stored, "every event once, in outbox order:\n{text}");
        for (id, event, data) in &frames {
            assert_eq!(
                (&data["eventId"], &data["eventType"]),
                (&Value::from(id.as_str()), &Value::from(event.as_str()))
            );
            assert_eq!(
                (data["runId"].as_str(), data["eventVersion"].as_u64()),
                (Some(run.as_str()), Some(1))
            );
        }
    }
}

#[test]
fn a_study_posted_over_http_runs_to_completion() {
    let sb = sandbox("");
    let s = sb.serve(&[]);
    let body = r#"{"dataset": "builtin:iris", "model": "base", "strategy": "grid",
        "params": {"smoothing": "0,1", "statistic": "mean"}, "metrics": ["log_loss", "accuracy"], "folds": 2}"#;
    let (code, _, started) = call(ureq::post(&format!("{}/api/ml/tuning", s.url)), Some(body));
    assert_eq!(code, 202, "{started}");
    let study_id = started["studyId"].as_str().unwrap().to_owned();
    let url = format!("{}/api/ml/tuning/{study_id}", s.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    let study = loop {
        let (code, _, st) = call(ureq::get(&url), None);
        assert_eq!(code, 200, "{st}");
        if !["queued", "running"].contains(&st["status"].as_str().unwrap()) {
            break st;
        }
        assert!(Instant::now() < deadline, "the study did not end: {st}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(study["status"], "completed", "{study}");
    assert_eq!(study["directions"], serde_json::json!(["minimize", "maximize"]));
    let trials = study["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "{study}");
    assert!(trials.iter().all(|t| t["state"] == "complete" && t["values"][1].is_number()));
    assert!(study["best"]["trial"].is_u64() && !study["pareto"].as_array().unwrap().is_empty());
    // The study's run and its events, like any run's.
    let run_id = study["runId"].as_str().unwrap();
    let (_, _, run) = call(ureq::get(&format!("{}/api/ml/evaluations/{run_id}", s.url)), None);
    assert_eq!(
        (run["status"].as_str(), run["jobs"]["total"].as_u64()),
        (Some("completed"), Some(2))
    );
    let text = ureq::get(&format!("{}/api/ml/evaluations/{run_id}/events", s.url))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let types: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(types.iter().filter(|t| **t == "trial.completed").count(), 2, "{types:?}");
    assert_eq!(types.last(), Some(&"study.completed"), "{types:?}");
    // Bad input is refused before anything is queued.
    let bad = r#"{"dataset": "builtin:iris", "model": "base", "params": {"ghost": "1,2"}}"#;
    let (code, ctype, problem) = call(ureq::post(&format!("{}/api/ml/tuning", s.url)), Some(bad));
    assert_eq!((code, ctype.as_str()), (422, "application/problem+json"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("params.ghost"), "{problem}");
    let (code, _, _) = call(ureq::get(&format!("{}/api/ml/tuning/nope", s.url)), None);
    assert_eq!(code, 404);
}
