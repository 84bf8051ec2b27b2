//! Hostile input against the HTTP API. One table row per case: the request,
//! the status it must get and a piece of the problem's detail. The router is
//! driven in process (`tower::ServiceExt::oneshot` on `mlhost::api::app`);
//! one case goes over a real socket to `mlhost serve`. After every case the
//! server must still answer `/health`.
//!
//! Tests run as root, so nothing here relies on file permissions: a path is
//! refused for where it is, never because it cannot be read.

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use mlhost_tests::{Sandbox, baseline_so};
use serde_json::{Value, json};
use tower::ServiceExt;

mod auth;
mod uploads;

const TOKEN: &str = "hostile-token-0123";
const EVALS: &str = "/api/ml/evaluations";
/// What every refused path's detail says, in the fixture with a data dir.
const OUTSIDE: &str = "must name a file inside the data directories ([api] data_dirs)";
/// A watchdog, not a timing assertion: a server that opened a FIFO or read
/// `/dev/zero` would never answer, and the test should fail, not hang.
const WATCHDOG: Duration = Duration::from_secs(120);

fn iris() -> &'static str {
    mlhost::data::dataset::BUILTINS.iter().find(|(n, ..)| *n == "iris").expect("iris is built in").2
}

/// A sandbox with the baseline plugin, a data dir full of traps, a folder
/// outside it with a secret, and the router over its config.
struct Fixture {
    sb: Sandbox,
    app: Router,
    /// The data dir, canonical.
    data: String,
}

impl Fixture {
    /// `api` goes into the `[api]` table (after the token and the limits).
    fn new(api: &str) -> Fixture {
        let sb = Sandbox::new();
        sb.add_plugin(baseline_so(), "libbaseline.so");
        let p = |rel: &str| sb.path().join(rel);
        for dir in ["data/sub", "outside"] {
            std::fs::create_dir_all(p(dir)).unwrap();
        }
        sb.write("data/train.csv", iris());
        sb.write("outside/secret.csv", "SECRET-CONTENT,label\n1,a\n2,b\n");
        symlink(p("outside/secret.csv"), p("data/escape.csv")).unwrap();
        symlink("/dev/zero", p("data/zero.csv")).unwrap();
        symlink("train.csv", p("data/alias.csv")).unwrap();
        let made = Command::new("mkfifo").arg(p("data/pipe.csv")).status().expect("mkfifo runs");
        assert!(made.success(), "mkfifo failed");
        sb.write(
            "config/mlhost.toml",
            &format!(
                "plugin_dirs = [\"../plugins\"]\ndatabase = \"../mlhost.db\"\n\n[api]\ntoken = \"{TOKEN}\"\nmax_body_kb = 1\nmax_upload_mb = 1\n{api}\n"
            ),
        );
        let app = app_of(&sb);
        let data = std::fs::canonicalize(p("data")).unwrap().display().to_string();
        Fixture { sb, app, data }
    }

    fn uploads(&self) -> PathBuf {
        self.sb.path().join("datasets")
    }
}

fn app_of(sb: &Sandbox) -> Router {
    let config = mlhost::Config::load(&sb.path().join("config/mlhost.toml")).unwrap();
    let registry = mlhost::Registry::discover_unprobed(&config).unwrap();
    // Thread isolation: the executable is never started.
    let exe = PathBuf::from("/nonexistent/mlhost");
    mlhost::api::app(mlhost::api::AppState::start(config, registry, exe).unwrap())
}

/// An answer: status, headers that matter, body text.
#[derive(Debug)]
struct Answer {
    status: u16,
    ctype: String,
    location: Option<String>,
    www_authenticate: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }
    fn detail(&self) -> String {
        self.json()["detail"].as_str().unwrap_or_default().to_owned()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let call = tokio::spawn(app.clone().oneshot(req));
    let resp = tokio::time::timeout(WATCHDOG, call)
        .await
        .expect("the server answers (watchdog)")
        .expect("the handler does not panic")
        .expect("infallible");
    let h = |name| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (ctype, location, www_authenticate) = (
        h(header::CONTENT_TYPE).unwrap_or_default(),
        h(header::LOCATION),
        h(header::WWW_AUTHENTICATE),
    );
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    Answer {
        status,
        ctype,
        location,
        www_authenticate,
        text: String::from_utf8_lossy(&bytes).into(),
    }
}

fn request(
    method: &str,
    uri: &str,
    auth: Option<&str>,
    ctype: Option<&str>,
    body: Vec<u8>,
    length: bool,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    if let Some(c) = ctype {
        b = b.header(header::CONTENT_TYPE, c);
    }
    if length {
        b = b.header(header::CONTENT_LENGTH, body.len());
    }
    b.body(Body::from(body)).unwrap()
}

fn bearer() -> Option<String> {
    Some(format!("Bearer {TOKEN}"))
}

async fn authed(app: &Router, method: &str, uri: &str, json_body: Option<Value>) -> Answer {
    let (ctype, body) = match json_body {
        Some(v) => (Some("application/json"), v.to_string().into_bytes()),
        None => (None, Vec::new()),
    };
    send(app, request(method, uri, bearer().as_deref(), ctype, body, true)).await
}

async fn health_answers(app: &Router, after: &str) {
    let a = send(app, request("GET", "/health", None, None, Vec::new(), false)).await;
    assert_eq!(a.status, 200, "/health after {after}: {}", a.text);
}

/// One row of the table.
struct Case {
    what: String,
    method: &'static str,
    uri: String,
    ctype: Option<&'static str>,
    body: Vec<u8>,
    /// Send Content-Length (else the body arrives without a declared size).
    length: bool,
    status: u16,
    detail: &'static str,
}

fn eval(what: &str, dataset: &str, status: u16, detail: &'static str) -> Case {
    let body = json!({"dataset": dataset, "models": ["baseline"], "folds": 2});
    raw(what, EVALS, body.to_string().as_bytes(), true, status, detail)
}

fn raw(
    what: &str,
    uri: &str,
    body: &[u8],
    length: bool,
    status: u16,
    detail: &'static str,
) -> Case {
    let (method, ctype, body) = ("POST", Some("application/json"), body.to_vec());
    Case { what: what.to_owned(), method, uri: uri.to_owned(), ctype, body, length, status, detail }
}

fn upload(
    what: &str,
    query: &str,
    body: &[u8],
    length: bool,
    status: u16,
    detail: &'static str,
) -> Case {
    Case {
        what: what.to_owned(),
        method: "POST",
        uri: format!("/api/ml/datasets{query}"),
        ctype: Some("text/csv"),
        body: body.to_vec(),
        length,
        status,
        detail,
    }
}

fn get(what: &str, uri: &str, status: u16, detail: &'static str) -> Case {
    Case {
        what: what.to_owned(),
        method: "GET",
        uri: uri.to_owned(),
        ctype: None,
        body: Vec::new(),
        length: false,
        status,
        detail,
    }
}

/// What no answer may contain: file contents from outside, server paths
/// other than the data dir, SQL, Debug output of foreign types.
fn assert_leaks_nothing(f: &Fixture, what: &str, a: &Answer) {
    let sandbox = f.sb.path().display().to_string();
    for secret in [
        "root:".to_owned(),
        "SECRET-CONTENT".to_owned(),
        format!("{sandbox}/outside"),
        format!("{sandbox}/datasets"),
        format!("{sandbox}/config"),
        "mlhost.db".to_owned(),
        "/nonexistent/mlhost".to_owned(),
        "SELECT".to_owned(),
        "Os {".to_owned(),
        "kind:".to_owned(),
        TOKEN.to_owned(),
    ] {
        assert!(!a.text.contains(&secret), "{what}: the answer shows {secret:?}: {}", a.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_clear_errors_and_the_server_stays_up() {
    let f = Fixture::new("data_dirs = [\"../data\"]");
    let d = f.data.as_str();
    let big_json = json!({"dataset": "builtin:iris", "label": "x".repeat(2048)}).to_string();
    let big_json = big_json.as_bytes();
    let big_epochs = json!({"epochs": [{"epoch": 1, "metrics": {"x".repeat(2048): 1.0}}]});
    let big_epochs = big_epochs.to_string().into_bytes();
    let big_csv = vec![b'1'; (1 << 20) + 1];
    let iris = iris().as_bytes();
    #[rustfmt::skip]
    let cases = vec![
        eval("/etc/passwd", "/etc/passwd", 403, OUTSIDE),
        eval("/etc/shadow", "/etc/shadow", 403, OUTSIDE),
        eval("missing, outside", "/no/such/dir/data.csv", 403, OUTSIDE),
        eval("missing, beside the data dir", &format!("{d}/../nope.csv"), 403, OUTSIDE),
        eval("../ out of the data dir", &format!("{d}/../outside/secret.csv"), 403, OUTSIDE),
        eval("../ out, relative", "../outside/secret.csv", 403, OUTSIDE),
        eval("../ from a subfolder to /etc", "sub/../../../../../../../etc/passwd", 403, OUTSIDE),
        eval("symlink out of the data dir", &format!("{d}/escape.csv"), 403, OUTSIDE),
        eval("through the symlink out", &format!("{d}/escape.csv/x"), 403, OUTSIDE),
        eval("/dev/zero", "/dev/zero", 403, OUTSIDE),
        eval("symlink to /dev/zero", &format!("{d}/zero.csv"), 403, OUTSIDE),
        eval("/proc/self/environ", "/proc/self/environ", 403, OUTSIDE),
        eval("a NUL byte", "/etc/passwd\0.csv", 403, OUTSIDE),
        eval("a FIFO in the data dir", &format!("{d}/pipe.csv"), 422, "not a regular file (a FIFO"),
        eval("a folder in the data dir", &format!("{d}/sub"), 422, "is a directory"),
        eval("the data dir itself", d, 422, "is a directory"),
        eval("missing, in the data dir", &format!("{d}/nope.csv"), 422, "no file"),
        eval("an empty dataset", "", 422, "dataset is empty"),
        eval("an upload id that is a path", "dataset:../../etc/passwd", 422, "64 lowercase hex digits"),
        eval("an upload id, uppercase", &format!("dataset:{}", "AB".repeat(32)), 422, "64 lowercase hex"),
        eval("an unknown upload", &format!("dataset:{}", "0".repeat(64)), 422, "POST /api/ml/datasets"),
        eval("an unknown built-in", "builtin:mnist", 422, "no built-in dataset 'mnist'"),
        raw("malformed JSON", EVALS, b"{not json", true, 400, "parse the request body as JSON"),
        raw("an unknown field", EVALS, br#"{"dataset":"builtin:iris","wokers":2}"#, true, 400, "unknown field `wokers`"),
        raw("oversized JSON", EVALS, big_json, true, 413, "the limit of 1 KB ([api] max_body_kb)"),
        raw("oversized JSON, size not declared", EVALS, big_json, false, 413, "max_body_kb"),
        raw("oversized epochs", "/api/ml/operations/op-1/metrics", &big_epochs, true, 413, "max_body_kb"),
        upload("oversized upload", "", &big_csv, true, 413, "the limit of 1 MB ([api] max_upload_mb)"),
        upload("oversized upload, size not declared", "", &big_csv, false, 413, "max_upload_mb"),
        upload("a bad cell", "", b"a,y\n1,x\ninf,y\n", true, 422, "row 3, column 'a': inf is not a finite"),
        upload("a ragged row", "", b"a,b,y\n1,2,x\n3,y\n", true, 422, "row 3: 2 fields"),
        upload("an empty upload", "", b"", true, 422, "the file is empty"),
        upload("no such label", "?label=nope", iris, true, 422, "no label column 'nope'"),
        upload("an unknown query parameter", "?lable=species", iris, true, 400, "unknown field `lable`"),
        get("an upload id that traverses", "/api/ml/datasets/..%2F..%2Fetc%2Fpasswd", 404, "64 lowercase hex"),
        get("an unknown upload", &format!("/api/ml/datasets/{}", "0".repeat(64)), 404, "no uploaded dataset"),
        eval("a file in the data dir", &format!("{d}/train.csv"), 202, ""),
        eval("relative to the data dir", "train.csv", 202, ""),
        eval("a symlink within the data dir", &format!("{d}/alias.csv"), 202, ""),
        eval("a built-in", "builtin:iris", 202, ""),
    ];
    let mut refused_body = None;
    for c in cases {
        let req = request(c.method, &c.uri, bearer().as_deref(), c.ctype, c.body, c.length);
        let a = send(&f.app, req).await;
        assert_eq!(a.status, c.status, "{}: {}", c.what, a.text);
        if c.status >= 400 {
            assert_eq!(a.ctype, "application/problem+json", "{}", c.what);
            assert_eq!(a.json()["status"], c.status, "{}", c.what);
            assert!(
                a.detail().contains(c.detail),
                "{}: detail {:?} lacks {:?}",
                c.what,
                a.detail(),
                c.detail
            );
        }
        if c.status == 403 {
            // The same bytes whether the path exists or not: no oracle.
            let first = refused_body.get_or_insert_with(|| a.text.clone());
            assert_eq!(&a.text, first, "{}: another answer than for /etc/passwd", c.what);
            assert!(a.detail().contains(d), "the detail names the data dir: {}", a.detail());
        }
        assert_leaks_nothing(&f, &c.what, &a);
        health_answers(&f.app, &c.what).await;
    }
    // Nothing half-written is left from the refused uploads.
    let left: Vec<_> = std::fs::read_dir(f.uploads())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_data_dirs_every_path_is_refused_alike() {
    let f = Fixture::new("");
    let d = f.data.clone();
    let mut bodies = Vec::new();
    for path in [
        "/etc/passwd",
        "/no/such/file.csv",
        &format!("{d}/train.csv"),
        "train.csv",
        "/dev/zero",
        &format!("{d}/pipe.csv"),
    ] {
        let a = authed(&f.app, "POST", EVALS, Some(json!({"dataset": path}))).await;
        assert_eq!(
            (a.status, a.ctype.as_str()),
            (403, "application/problem+json"),
            "{path}: {}",
            a.text
        );
        assert!(a.detail().contains("[api] data_dirs is empty"), "{}", a.detail());
        assert!(a.detail().contains("POST /api/ml/datasets"), "says how to upload: {}", a.detail());
        assert_leaks_nothing(&f, path, &a);
        bodies.push(a.text);
        health_answers(&f.app, path).await;
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:#?}");
}
