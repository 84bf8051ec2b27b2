use super::*;
use crate::domain::{DatasetId, FoldPredictions, JobId, JobStatus, MetricSet, RunId, RunStatus};

fn row(job: &str, model: &str, fold: i64, acc: f64) -> ResultRow {
    ResultRow {
        job_id: job.into(),
        model_id: model.into(),
        model_version: "1.0.0".into(),
        fold,
        metrics: [("accuracy".to_owned(), Some(acc))].into_iter().collect(),
        duration_ms: 3,
    }
}

fn job(id: &str, model: &str, version: &str) -> NewJob {
    NewJob {
        job_id: id.into(),
        model_id: model.into(),
        model_version: version.into(),
        params_json: "{}".into(),
    }
}

fn ok<'a>(results: &'a [ResultRow], predictions: &'a [FoldPredictions]) -> JobEnd<'a> {
    JobEnd { status: JobStatus::Succeeded, error: None, results, predictions }
}

fn failed(error: &str) -> JobEnd<'_> {
    JobEnd { status: JobStatus::Failed, error: Some(error), results: &[], predictions: &[] }
}

#[test]
fn runs_jobs_and_results_round_trip_and_rerun_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/m.db");
    let mut s = Store::open(&db).unwrap();
    let (r1, j1): (RunId, JobId) = ("r1".into(), "j1".into());
    s.create_run(&r1, &"d1".into(), &serde_json::json!({}), &[job("j1", "a", "1.0.0")]).unwrap();
    assert_eq!(s.jobs(&r1).unwrap()[0].status, JobStatus::Queued);
    s.job_started(&j1).unwrap();
    s.job_finished(&j1, ok(&[row("j1", "a", 0, 0.5), row("j1", "a", -1, 0.5)], &[])).unwrap();
    // The same job again: results replaced, not duplicated.
    s.job_started(&j1).unwrap();
    s.job_finished(&j1, ok(&[row("j1", "a", 0, 0.75), row("j1", "a", -1, 0.75)], &[])).unwrap();
    s.finish_run(&r1, RunStatus::Completed).unwrap();
    drop(s);

    let s = Store::open(&db).unwrap(); // migrations are idempotent
    let results = s.results(&r1).unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].fold, -1);
    assert_eq!(results[1].metrics.get("accuracy"), Some(0.75));
    let job = &s.jobs(&r1).unwrap()[0];
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 2));
    assert!(job.finished_at.as_deref().unwrap().ends_with('Z'));
    assert_eq!(s.run("r").unwrap().unwrap().status, RunStatus::Completed);
    assert_eq!(s.run("nope").unwrap(), None);
    // A prefix is a prefix: no LIKE wildcards, no case folding.
    for not_a_prefix in ["%", "_1", "R"] {
        assert_eq!(s.run(not_a_prefix).unwrap(), None, "{not_a_prefix}");
    }
    assert_eq!(s.runs().unwrap().len(), 1);
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let journal: String = s.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn two_trials_of_one_candidate_keep_their_own_results_and_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    let run: RunId = "r1".into();
    let jobs = [job("t0", "forest", "1.0"), job("t1", "forest", "1.0")];
    s.create_run(&run, &"d1".into(), &serde_json::json!({}), &jobs).unwrap();
    let preds = |fold, y: f64| FoldPredictions {
        fold,
        rows: vec![3, 1],
        y_true: vec![1.0, 0.0],
        y_pred: vec![y, 0.0],
        n_classes: 2,
        proba: Some(vec![0.1, 0.9, 0.8, 0.2]),
    };
    for (id, acc) in [("t0", 0.5), ("t1", 1.0)] {
        let p = [preds(0, acc)];
        s.job_finished(&id.into(), ok(&[row(id, "forest", 0, acc)], &p)).unwrap();
    }
    let results = s.results(&run).unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].metrics.get("accuracy"), Some(0.5));
    assert_eq!(results[1].metrics.get("accuracy"), Some(1.0));
    assert_eq!(s.predictions("t1").unwrap(), [preds(0, 1.0)]);
    assert_eq!(s.predictions("t0").unwrap(), [preds(0, 0.5)]);
    // Re-running a trial replaces its predictions.
    let p = [FoldPredictions { proba: None, ..preds(0, 0.0) }];
    s.job_finished(&"t0".into(), ok(&[row("t0", "forest", 0, 0.0)], &p)).unwrap();
    assert_eq!(s.predictions("t0").unwrap(), p);
    assert_eq!(s.count("predictions", "r1").unwrap(), 2);
}

#[test]
fn every_state_change_writes_its_event_in_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    let run: RunId = "r1".into();
    let jobs = [job("j1", "a", "1.0"), job("j2", "b", "2.0")];
    s.create_run(&run, &"d1".into(), &serde_json::json!({"workers": 2}), &jobs).unwrap();
    s.job_started(&"j1".into()).unwrap();
    s.job_finished(&"j1".into(), ok(&[row("j1", "a", -1, 0.5), row("j1", "a", 0, 0.5)], &[]))
        .unwrap();
    s.job_started(&"j2".into()).unwrap();
    s.job_finished(&"j2".into(), failed("boom")).unwrap();
    s.finish_run(&run, RunStatus::Completed).unwrap();
    // A state change that fails writes no event.
    let orphan = JobEnd { predictions: &[], ..ok(&[], &[]) };
    assert!(s.job_finished(&"nope".into(), orphan).is_err());
    let events = s.run_events("r1", 0).unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
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
    let completed = events[2].envelope();
    assert_eq!(completed["eventVersion"], 1);
    assert_eq!(completed["runId"], "r1");
    assert_eq!(completed["payload"]["metrics"]["accuracy"], 0.5);
    assert_eq!(completed["payload"]["modelId"], "a");
    assert_eq!(completed["payload"]["status"], "succeeded");
    assert_eq!(completed["payload"]["folds"], 1);
    assert_eq!(events[1].envelope()["payload"]["attempt"], 1);
    assert_eq!(events[4].envelope()["payload"]["error"], "boom");
    assert_eq!(events[4].envelope()["payload"]["status"], "failed");
    assert_eq!(
        events[5].envelope()["payload"],
        serde_json::json!({"status": "completed", "jobs": {"succeeded": 1, "failed": 1}})
    );
    let started = events[0].envelope();
    assert_eq!(started["payload"]["spec"]["workers"], 2);
    assert_eq!(started["payload"]["datasetId"], "d1");
    assert_eq!(
        started["payload"]["jobs"][1],
        serde_json::json!({"jobId": "j2", "modelId": "b", "modelVersion": "2.0"})
    );
    assert_eq!(s.pending_events(100).unwrap().len(), 6);
    s.mark_published(&events[0].id).unwrap();
    assert_eq!(s.pending_events(100).unwrap()[0].id, events[1].id);
    assert_eq!(s.run_events("r1", events[4].seq).unwrap().len(), 1);
}

#[test]
fn only_a_resume_announces_run_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    let run: RunId = "r1".into();
    s.create_run(&run, &"d1".into(), &serde_json::json!({}), &[job("j", "a", "1")]).unwrap();
    s.finish_run(&run, RunStatus::Cancelled).unwrap();
    s.resume_run(&run).unwrap();
    assert_eq!(s.run("r1").unwrap().unwrap().status, RunStatus::Running);
    s.finish_run(&run, RunStatus::Completed).unwrap();
    let events = s.run_events("r1", 0).unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["run.started", "run.completed", "run.started", "run.completed"]);
    assert_eq!(
        events[2].envelope()["payload"],
        serde_json::json!({"resumed": true, "status": "running"})
    );
}

#[test]
fn statuses_and_metrics_outside_the_contract_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    let run: RunId = "r1".into();
    s.create_run(&run, &"d1".into(), &serde_json::json!({}), &[job("j", "a", "1")]).unwrap();
    s.conn.execute("UPDATE results SET metrics_json = 'x'", []).unwrap();
    s.job_finished(&"j".into(), ok(&[row("j", "a", 0, 1.0)], &[])).unwrap();
    s.conn.execute("UPDATE results SET metrics_json = '[1'", []).unwrap();
    let err = s.results(&run).unwrap_err().to_string();
    assert!(err.contains("metrics_json"), "{err}");
    // The CHECK constraint still guards the column against other writers.
    assert!(s.conn.execute("UPDATE jobs SET status = 'exploded'", []).is_err());
    let _ = MetricSet::new();
    let _: DatasetId = "d".into();
}

/// A database written by mlhost 0.1 (schema 4, `tests/fixtures/db`) opens,
/// migrates in place and lists its runs (`service::runs` checks `show`).
#[test]
fn a_schema_4_database_migrates_and_its_runs_read_as_before() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/db");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    std::fs::copy(fixtures.join("schema-v4.db"), &db).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("schema-v4.expected.json")).unwrap(),
    )
    .unwrap();
    let count = |c: &Connection, table: &str| -> i64 {
        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    };
    let tables = ["runs", "jobs", "results", "epoch_metrics", "events", "plugin_probes"];
    let before: Vec<i64> = {
        let c = Connection::open(&db).unwrap();
        let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 4, "the fixture is a schema-4 database");
        tables.iter().map(|t| count(&c, t)).collect()
    };
    assert!(before.iter().all(|&n| n > 0), "the fixture has rows in every table: {before:?}");
    let s = Store::open(&db).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    // Nothing lost, nothing duplicated.
    let after: Vec<i64> = tables.iter().map(|t| count(&s.conn, t)).collect();
    assert_eq!(after, before);
    let runs = s.runs().unwrap();
    assert_eq!(runs.len(), expected["runs"].as_array().unwrap().len());
    for (run, old) in runs.iter().zip(expected["runs"].as_array().unwrap()) {
        assert_eq!(run.id.as_str(), old["runId"]);
        assert_eq!(run.status.as_str(), old["status"]);
        assert_eq!(run.finished_at.as_deref(), old["finishedAt"].as_str());
        let jobs = s.jobs(&run.id).unwrap();
        assert_eq!(jobs.len() as u64, old["jobs"].as_u64().unwrap());
        assert!(jobs.iter().all(|j| j.params_json == "{}"));
    }
    // Every old result row found its job.
    let orphans: i64 = s
        .conn
        .query_row(
            "SELECT COUNT(*) FROM results WHERE job_id NOT IN (SELECT id FROM jobs)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
}

#[test]
fn the_commit_listener_hears_each_committed_event_once_in_order() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    let heard: Arc<Mutex<Vec<Vec<EventRow>>>> = Arc::default();
    let sink = heard.clone();
    s.on_commit(Box::new(move |rows| sink.lock().unwrap().push(rows.to_vec())));
    let run: RunId = "r1".into();
    s.create_run(&run, &"d1".into(), &serde_json::json!({}), &[job("j1", "a", "1.0")]).unwrap();
    s.job_started(&"j1".into()).unwrap();
    // A state change that rolls back announces nothing, nor does a write
    // without events.
    let orphan = JobEnd { predictions: &[], ..ok(&[], &[]) };
    assert!(s.job_finished(&"nope".into(), orphan).is_err());
    let first = s.run_events("r1", 0).unwrap()[0].id.clone();
    s.mark_published(&first).unwrap();
    assert_eq!(heard.lock().unwrap().len(), 2);
    s.job_finished(&"j1".into(), ok(&[row("j1", "a", -1, 0.5)], &[])).unwrap();
    s.finish_run(&run, RunStatus::Completed).unwrap();
    let heard = heard.lock().unwrap();
    assert!(heard.iter().all(|batch| batch.len() == 1), "one event per state change");
    // Exactly the stored rows, outbox positions included.
    assert_eq!(heard.concat(), s.run_events("r1", 0).unwrap());
}

#[test]
fn a_model_reference_resolves_to_the_version_the_listing_names() {
    use crate::domain::{ModelRef, Stage};
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    let new = |artifact: &'static str| NewVersion::example("m", artifact);
    for a in ["a1", "a2", "a3"] {
        s.register_version(&new(a)).unwrap();
    }
    let at =
        |s: &Store, r: &ModelRef| s.resolve_version(r).unwrap().map(|v| (v.version, v.artifact));
    let name = ModelRef::Name("m".into());
    assert_eq!(at(&s, &name), Some((3, "a3".into())), "no production version: the newest");
    s.set_stage("m", 2, Stage::Production).unwrap();
    s.set_alias("m", 1, "champion").unwrap();
    s.set_alias("m", 1, "alpha").unwrap();
    assert_eq!(at(&s, &name), Some((2, "a2".into())), "the production version");
    assert_eq!(at(&s, &ModelRef::Alias("m".into(), "champion".into())), Some((1, "a1".into())));
    assert_eq!(at(&s, &ModelRef::Version("m".into(), 3)), Some((3, "a3".into())));
    for missing in [
        ModelRef::Alias("m".into(), "nope".into()),
        ModelRef::Version("m".into(), 4),
        ModelRef::Name("other".into()),
    ] {
        assert_eq!(at(&s, &missing), None, "{missing}");
    }
    let one = s.resolve_version(&ModelRef::Version("m".into(), 1)).unwrap().unwrap();
    let listed = s.versions("m").unwrap().into_iter().find(|v| v.version == 1).unwrap();
    assert_eq!(one, listed, "the same row as the listing, aliases ({:?}) included", one.aliases);
}
