//! Helpers for the integration tests: build the real plugin `.so` files and
//! the `mlhost` binary once per test run, and give each test a fresh folder
//! with its own config.
//!
//! Builds run `cargo` with the `CARGO_*` variables of the running test
//! scrubbed (they describe this test crate and would leak into the nested
//! build), into `target/test-plugins`, guarded by `OnceLock`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("RUSTFLAGS");
    cmd
}

/// Runs `cargo build` with `args` in `dir` and returns the artifacts it
/// reports (`.so` files and executables), by crate name.
pub fn cargo_build(dir: &Path, args: &[&str]) -> HashMap<String, PathBuf> {
    let out = cargo()
        .current_dir(dir)
        .args(["build", "--message-format=json-render-diagnostics"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut artifacts = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let name = msg["target"]["name"].as_str().unwrap_or_default().to_owned();
        if let Some(exe) = msg["executable"].as_str() {
            artifacts.insert(name.clone(), PathBuf::from(exe));
        }
        for f in msg["filenames"].as_array().into_iter().flatten() {
            if let Some(f) = f.as_str().filter(|f| f.ends_with(".so")) {
                artifacts.insert(name.clone(), PathBuf::from(f));
            }
        }
    }
    artifacts
}

/// Runs `cargo test --offline` in `dir` (a crate outside this workspace)
/// with the plugins' shared target folder, so shared dependencies build once.
pub fn cargo_test_offline(dir: &Path) -> Output {
    cargo()
        .current_dir(dir)
        .args(["test", "--offline", "--target-dir", &plugin_target()])
        .output()
        .expect("cargo runs")
}

/// Builds the crate in `dir` offline into the shared plugin target folder.
pub fn cargo_build_offline(dir: &Path) -> HashMap<String, PathBuf> {
    cargo_build(dir, &["--offline", "--lib", "--target-dir", &plugin_target()])
}

fn plugin_target() -> String {
    root().join("target/test-plugins").display().to_string()
}

/// The `mlhost` binary (the debug build `cargo test` already made).
pub fn mlhost_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = cargo_build(&root(), &["-p", "mlhost", "--bin", "mlhost"]);
        built.get("mlhost").expect("mlhost binary built").clone()
    })
}

/// The reference plugins in `plugins/`, by folder name.
pub const REFERENCE_PLUGINS: &[&str] =
    &["baseline", "logistic", "tree", "naive-bayes", "knn", "forest", "gbdt", "linear", "mlp"];

/// A real reference plugin (`baseline`, `logistic`, ...), all built at once.
pub fn plugin_so(name: &str) -> &'static Path {
    static SOS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let sos = SOS.get_or_init(|| {
        let t = plugin_target();
        let mut args = vec!["--lib".to_owned(), "--target-dir".to_owned(), t];
        for p in REFERENCE_PLUGINS {
            args.extend(["-p".to_owned(), format!("mlhost-plugin-{p}")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cargo_build(&root(), &args)
    });
    let key = format!("mlhost_plugin_{}", name.replace('-', "_"));
    sos.get(&key).unwrap_or_else(|| panic!("plugin {key} not built: {sos:?}"))
}

/// The real `baseline` plugin.
pub fn baseline_so() -> &'static Path {
    plugin_so("baseline")
}

/// A fixture plugin from `tests/fixtures` (`panic-ctor`, `panic-fit`, `no-root`).
pub fn fixture_so(name: &str) -> &'static Path {
    static SOS: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let sos = SOS.get_or_init(|| {
        let dir = root().join("tests/fixtures");
        // Same dependency versions as the workspace, and no network needed.
        std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy lock");
        cargo_build(&dir, &["--target-dir", &plugin_target()])
    });
    let key = format!("fixture_{}", name.replace('-', "_"));
    sos.get(&key).unwrap_or_else(|| panic!("fixture {key} not built: {sos:?}"))
}

/// The `old-api` fixture, built against a copy of plugin-api whose version
/// is `version`, in a copy of the workspace under `target/`.
pub fn old_api_so(version: &str) -> PathBuf {
    altered_api_so(&format!("api-{version}"), version, |ffi| ffi)
}

/// The `old-api` fixture built against a copy of plugin-api with `version`
/// and its `ffi.rs` passed through `edit` (to break the layout on purpose).
pub fn altered_api_so(tag: &str, version: &str, edit: fn(String) -> String) -> PathBuf {
    let copy = root().join("target").join(tag);
    let _ = std::fs::remove_dir_all(&copy);
    // Cargo hashes a path package by its path relative to the workspace, so
    // the copy gets a folder name of its own: the same name as the real one
    // would overwrite the real plugin-api's artifacts in the shared target.
    let api_dir = format!("plugin-api-{tag}");
    copy_dir(&root().join("plugin-api"), &copy.join(&api_dir));
    copy_dir(&root().join("plugin-derive"), &copy.join("plugin-derive"));
    let ffi = copy.join(&api_dir).join("src/ffi.rs");
    let text = std::fs::read_to_string(&ffi).expect("read ffi.rs");
    std::fs::write(&ffi, edit(text)).expect("write ffi.rs");
    // plugin-api states its version itself (a copy of it builds alone).
    let api_manifest = copy.join(&api_dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&api_manifest).expect("read plugin-api manifest");
    let own = format!("version = \"{}\"", plugin_api_version());
    std::fs::write(&api_manifest, text.replacen(&own, &format!("version = \"{version}\""), 1))
        .expect("write plugin-api manifest");
    build_old_api(&copy, &api_dir, tag, version)
}

/// The plugin-api (ABI) version of this checkout, from its manifest.
pub fn plugin_api_version() -> String {
    let text = std::fs::read_to_string(root().join("plugin-api/Cargo.toml")).expect("manifest");
    let line = text.lines().find(|l| l.starts_with("version = ")).expect("a version line");
    line.trim_start_matches("version = ").trim_matches('"').to_owned()
}

/// The `old-api` fixture built against the plugin-api of git revision
/// `rev` (a real older release of the ABI), in a copy of the workspace
/// under `target/`: what a plugin built before a change loads like.
pub fn api_at_rev_so(rev: &str) -> PathBuf {
    let tag = format!("api-at-{rev}");
    let copy = root().join("target").join(&tag);
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).expect("mkdir");
    // plugin-api, and the derive macros it depends on since they exist.
    let has_derive = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["cat-file", "-e", &format!("{rev}:plugin-derive")])
        .status()
        .expect("git runs")
        .success();
    let dirs: &[&str] = if has_derive { &["plugin-api", "plugin-derive"] } else { &["plugin-api"] };
    let archive = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["archive", "--format=tar", rev])
        .args(dirs)
        .output()
        .expect("git runs");
    assert!(
        archive.status.success(),
        "git archive {rev}: {}",
        String::from_utf8_lossy(&archive.stderr)
    );
    let mut tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&copy)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tar runs");
    std::io::Write::write_all(&mut tar.stdin.take().expect("stdin"), &archive.stdout)
        .expect("untar");
    assert!(tar.wait().expect("tar ends").success());
    let api_dir = format!("plugin-api-{tag}");
    std::fs::rename(copy.join("plugin-api"), copy.join(&api_dir)).expect("rename");
    build_old_api(&copy, &api_dir, &tag, env!("CARGO_PKG_VERSION"))
}

/// Builds the `old-api` fixture in the workspace copy `copy` against the
/// plugin-api in `copy/api_dir`, with the workspace version `version`.
fn build_old_api(copy: &Path, api_dir: &str, tag: &str, version: &str) -> PathBuf {
    copy_dir(&root().join("tests/fixtures/old-api"), &copy.join("old-api"));
    let old_manifest = copy.join("old-api/Cargo.toml");
    let text = std::fs::read_to_string(&old_manifest).expect("read old-api manifest");
    std::fs::write(&old_manifest, text.replace("../plugin-api", &format!("../{api_dir}")))
        .expect("write old-api manifest");
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("root manifest");
    let current = format!("version = \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(manifest.contains(&current), "root manifest names {current}");
    let members = format!("members = [\"{api_dir}\", \"old-api\"]");
    let manifest = manifest
        .replace(&current, &format!("version = \"{version}\""))
        .lines()
        .map(|l| match l {
            l if l.starts_with("members") => members.as_str(),
            l if l.starts_with("exclude") => "",
            l => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(copy.join("Cargo.toml"), manifest).expect("write manifest");
    std::fs::copy(root().join("Cargo.lock"), copy.join("Cargo.lock")).expect("copy lock");
    let built = cargo_build(copy, &["-p", "fixture-old-api", "--target-dir", &plugin_target()]);
    // Every variant builds to the same file name; keep this one aside.
    let kept = copy.join(format!("lib{}.so", tag.replace('-', "_")));
    std::fs::copy(built.get("fixture_old_api").expect("old-api .so built"), &kept).expect("keep");
    kept
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A fresh folder with `config/mlhost.toml`, `config/models.toml` and an
/// empty `plugins/` folder that the config scans.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A sandbox with an empty registry.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("mkdir");
        let sb = Sandbox { dir };
        sb.write("config/mlhost.toml", "plugin_dirs = [\"../plugins\"]\n");
        sb.write("config/models.toml", "");
        sb
    }
    /// The sandbox folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Writes `text` to `rel`.
    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path().join(rel), text).expect("write");
    }
    /// Copies `so` into `plugins/` as `name`, mode 0755, and returns its path.
    pub fn add_plugin(&self, so: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let to = self.path().join("plugins").join(name);
        std::fs::copy(so, &to).expect("copy plugin");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        to
    }
    /// Runs `mlhost --config config/mlhost.toml ARGS` in the sandbox.
    pub fn mlhost(&self, args: &[&str]) -> Output {
        self.mlhost_env(args, &[])
    }
    /// [`Sandbox::mlhost`] with extra environment variables.
    pub fn mlhost_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(mlhost_bin())
            .current_dir(self.path())
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("mlhost runs")
    }
    /// Starts `mlhost serve --bind 127.0.0.1:0` in the sandbox with `env`
    /// and waits until it says where it listens.
    pub fn serve(&self, env: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let mut child = Command::new(mlhost_bin())
            .current_dir(self.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("mlhost serve starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        std::io::BufReader::new(stdout).read_line(&mut line).expect("read the first line");
        let Some(url) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!("serve did not start: {}", String::from_utf8_lossy(&out.stderr));
        };
        assert!(url.starts_with("http://127.0.0.1:"), "binds loopback: {url}");
        // Drained as it comes, so a chatty server never blocks on the pipe.
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut pipe, &mut buf) {
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Server { child, url, stderr }
    }

    /// Runs `mlhost registry --json` and returns the parsed report.
    pub fn registry_json(&self) -> serde_json::Value {
        let out = self.mlhost(&["registry", "--json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "registry failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("registry prints JSON")
    }
}

/// A running `mlhost serve`; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// Stops the server and returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(std::time::Duration::from_millis(50)); // the drain's last read
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
