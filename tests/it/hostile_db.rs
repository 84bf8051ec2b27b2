//! Hostile databases: garbage, truncated, immutable (read-only) or locked
//! files and a database folder that cannot exist. Each command that needs
//! the database fails with one clear line (exit 1) and leaves the file as
//! it was; `registry` only loses its probe cache; a lock held for a while
//! is waited for. And `serve` on a database file that does not exist yet
//! publishes its events (the relay waits out the creation, never gives up).

use std::time::{Duration, Instant};

use mlhost_tests::{Sandbox, baseline_so};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.write("config/mlhost.toml", "plugin_dirs = [\"../plugins\"]\ndatabase = \"../m.db\"\n");
    sb
}

const EVAL: &[&str] = &["eval", "--dataset", "builtin:iris", "--folds", "2", "--json"];

/// Runs `args`; returns (exit code, stderr).
fn run(sb: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let out = sb.mlhost(args);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// (name, how to spoil the sandbox's database, what the error must say).
type Case = (&'static str, fn(&Sandbox), &'static str);

#[test]
fn a_database_that_cannot_be_used_is_one_clear_line_and_stays_untouched() {
    let not_sqlite = "it is not a usable SQLite database";
    let cases: [Case; 3] = [
        ("garbage", |sb| sb.write("m.db", &"this is no database\n".repeat(400)), not_sqlite),
        ("truncated", truncate_a_real_database, not_sqlite),
        (
            "folder is a file",
            |sb| {
                sb.write(
                    "config/mlhost.toml",
                    "plugin_dirs = [\"../plugins\"]\ndatabase = \"../m.db/x.db\"\n",
                );
                sb.write("m.db", "a file where a folder should be");
            },
            "check that its folder exists and is writable",
        ),
    ];
    for (name, make, hint) in cases {
        let sb = sandbox();
        make(&sb);
        let before = std::fs::read(sb.path().join("m.db")).unwrap();
        for args in [EVAL, &["runs"], &["serve", "--bind", "127.0.0.1:0"]] {
            let (code, stderr) = run(&sb, args);
            assert_eq!(code, Some(1), "{name} {args:?}: {stderr}");
            let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or("");
            assert!(line.contains("database ") && line.contains(hint), "{name} {args:?}: {stderr}");
        }
        // registry needs no database: it only loses its probe cache.
        let report = sb.registry_json();
        assert_eq!(report["models"][0]["state"], "ready", "{name}");
        let warnings = report["warnings"].to_string();
        assert!(
            warnings.contains("probe cache unavailable") && warnings.contains(hint),
            "{name}: {warnings}"
        );
        assert_eq!(std::fs::read(sb.path().join("m.db")).unwrap(), before, "{name}: untouched");
    }
}

fn truncate_a_real_database(sb: &Sandbox) {
    let (code, stderr) = run(sb, EVAL);
    assert_eq!(code, Some(0), "{stderr}");
    let db = sb.path().join("m.db");
    let bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "a real database has several pages");
    std::fs::write(&db, &bytes[..bytes.len() / 3]).unwrap();
}

#[test]
fn a_read_only_database_is_named_and_keeps_its_runs() {
    let sb = sandbox();
    assert_eq!(run(&sb, EVAL).0, Some(0));
    let db = sb.path().join("m.db");
    let before = std::fs::read(&db).unwrap();
    // Tests run as root, which ignores file modes: make the file immutable.
    let immutable = std::process::Command::new("chattr").arg("+i").arg(&db).status();
    if !immutable.is_ok_and(|s| s.success()) {
        eprintln!("skipping: chattr +i is not supported here");
        return;
    }
    struct Mutable<'a>(&'a std::path::Path);
    impl Drop for Mutable<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("chattr").arg("-i").arg(self.0).status();
        }
    }
    let _guard = Mutable(&db);
    let (code, stderr) = run(&sb, EVAL);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("read-only: make both writable"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn a_lock_held_for_a_while_is_waited_for_not_fatal() {
    let sb = sandbox();
    let db = sb.path().join("m.db");
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder
        .execute_batch("CREATE TABLE other (x); BEGIN EXCLUSIVE; INSERT INTO other VALUES (1);")
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        holder.execute_batch("COMMIT").unwrap();
    });
    let started = Instant::now();
    let (code, stderr) = run(&sb, EVAL);
    release.join().unwrap();
    assert_eq!(code, Some(0), "waited for the lock: {stderr}");
    assert!(started.elapsed() >= Duration::from_millis(1400), "it had to wait");
    let (code, _) = run(&sb, &["runs"]);
    assert_eq!(code, Some(0));
}

#[test]
fn serve_on_a_fresh_database_publishes_its_first_events() {
    let Ok(url) = std::env::var("MLHOST_TEST_REDIS_URL") else {
        eprintln!("skipping: set MLHOST_TEST_REDIS_URL to run the relay tests");
        return;
    };
    let stream = format!("mlhost-test-{}", uuid::Uuid::now_v7());
    let sb = sandbox();
    sb.write(
        "config/mlhost.toml",
        &format!(
            "plugin_dirs = [\"../plugins\"]\ndatabase = \"../fresh/m.db\"\n[events]\nredis_url = \"{url}\"\nstream = \"{stream}\"\n"
        ),
    );
    assert!(!sb.path().join("fresh").exists());
    let server = sb.serve(&[]);
    let body = r#"{"dataset":"builtin:iris","folds":2}"#;
    ureq::post(&format!("{}/api/ml/evaluations", server.url))
        .set("Content-Type", "application/json")
        .send_string(body)
        .unwrap();
    let mut con = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let types = loop {
        let entries: Vec<(String, Vec<(String, String)>)> =
            redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query(&mut con).unwrap();
        let types: Vec<String> = entries
            .iter()
            .flat_map(|(_, f)| f.iter().filter(|(k, _)| k == "eventType").map(|(_, v)| v.clone()))
            .collect();
        if types.iter().any(|t| t == "run.completed") || Instant::now() > deadline {
            break types;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _: () = redis::cmd("DEL").arg(&stream).query(&mut con).unwrap();
    let stderr = server.stop();
    assert_eq!(types.first().map(String::as_str), Some("run.started"), "{types:?} {stderr}");
    assert_eq!(types.last().map(String::as_str), Some("run.completed"), "{types:?} {stderr}");
    assert!(!stderr.contains("cannot read the outbox"), "{stderr}");
}
