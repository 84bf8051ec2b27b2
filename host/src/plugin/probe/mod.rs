//! The load-time probe: before the host maps a plugin file it has not seen,
//! a child `mlhost probe` process opens it, reads its root module, calls
//! `info()` and each configured constructor, and reports each step as it
//! starts. A crash (SIGSEGV in an ELF constructor, say) or a hang then ends
//! only the child, and the step it was in names the place. Only a file that
//! passed is opened in the host.
//!
//! Owns the host↔probe protocol (a JSON request on stdin; JSON lines on
//! stdout, the first a `hello` with [`PROBE_PROTOCOL`]), the child's side,
//! turning a child's death into a one-line reason, and the in-process
//! [`Watchdog`] that keeps a hang in the host's own calls
//! into plugin code from hanging the host. Must never cache anything itself
//! (the registry stores verdicts); the probe itself never runs plugin code in
//! the host process (the watchdog runs the host's own, already probed calls).

mod child;
mod watchdog;

pub use child::probe_main;
pub use watchdog::Watchdog;

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plugin::loader::{Inspected, LoadStep, one_line};
use crate::plugin::wire::signal_name;

/// Whether `reason` is a probe's account of a death or a hang (which may
/// depend on the moment, unlike a clean rejection of the bytes).
pub fn is_death(reason: &str) -> bool {
    const DEATHS: [&str; 6] =
        ["crashed", "hung", "ended ", "exceeded", "constructor crashed", "constructor hung"];
    DEATHS.iter().any(|d| reason.starts_with(d))
}

/// The protocol version; a probe that speaks another is refused.
pub const PROBE_PROTOCOL: u32 = 1;

/// One constructor call the probe makes: the params of a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CtorProbe {
    /// The candidate, for the reason.
    pub id: String,
    /// Only when the file's plugin has this name (None: any plugin).
    pub plugin: Option<String>,
    /// Parameters as given (the child resolves them against the schema).
    pub params: BTreeMap<String, serde_json::Value>,
}

impl CtorProbe {
    /// The cache key of this call: canonical JSON of its params.
    pub fn key(&self) -> String {
        serde_json::to_string(&self.params).expect("params serialize")
    }
}

/// What the host asks the probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeRequest {
    /// [`PROBE_PROTOCOL`] of the host.
    pub protocol: u32,
    /// The plugin file.
    pub path: PathBuf,
    /// Its sha256 as the host read it; a different file is refused.
    pub sha256: String,
    /// Where the private copy that is opened lives (see `loader::open`).
    pub image_dir: Option<PathBuf>,
    /// Constructors to call once `info()` answered.
    pub ctors: Vec<CtorProbe>,
    /// Memory limit of the child (RLIMIT_DATA), in MB.
    pub max_memory_mb: Option<u64>,
}

/// A line the probe writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "camelCase")]
enum ProbeLine {
    Hello {
        protocol: u32,
    },
    /// About to run the file's code in this step.
    Step {
        step: LoadStep,
    },
    /// About to call the constructor of `key`.
    New {
        key: String,
    },
    /// The constructor of `key` returned (an error is a clean answer too).
    Returned {
        key: String,
    },
    Loaded {
        plugin: String,
    },
    Rejected {
        reason: String,
    },
    Done,
}

/// A verdict: safe to run in the host, or why not (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It ran and returned.
    Passed,
    /// It crashed, hung, exited, or the file is no plugin.
    Failed(String),
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The file: `Ok(plugin name)` when it loaded and described itself.
    pub file: Result<String, String>,
    /// Per constructor key that was reached: its verdict. Keys not reached
    /// (the child died before) are absent; probe them again.
    pub ctors: BTreeMap<String, Verdict>,
    /// Whether the answer can be cached: false when the probe itself could
    /// not be run (no executable), so the next load tries again.
    pub cacheable: bool,
}

/// How the host runs probes.
#[derive(Debug, Clone)]
pub struct Prober {
    /// The `mlhost` executable.
    pub exe: PathBuf,
    /// Time limit of one probe (`[plugins] probe_timeout_secs`).
    pub timeout: Duration,
    /// Memory limit of the child (`[eval] max_memory_mb`).
    pub max_memory_mb: Option<u64>,
    /// Folder of the private copies that are opened.
    pub image_dir: Option<PathBuf>,
}

impl Prober {
    /// Probes `file`, calling each constructor in `ctors` whose plugin
    /// matches. Never fails: every problem is in the report.
    pub fn probe(&self, file: &Inspected, ctors: &[CtorProbe]) -> ProbeReport {
        let request = ProbeRequest {
            protocol: PROBE_PROTOCOL,
            path: file.path.clone(),
            sha256: file.sha256.clone(),
            image_dir: self.image_dir.clone(),
            ctors: ctors.to_vec(),
            max_memory_mb: self.max_memory_mb,
        };
        let ids: BTreeMap<String, &str> = ctors.iter().map(|c| (c.key(), c.id.as_str())).collect();
        match self.run(&request) {
            Ok(run) => run.report(&ids, self),
            Err(why) => ProbeReport {
                file: Err(one_line(&format!("not checked: {why}"))),
                ctors: BTreeMap::new(),
                cacheable: false,
            },
        }
    }

    fn run(&self, request: &ProbeRequest) -> Result<ChildRun, String> {
        let mut child = Command::new(&self.exe)
            .arg("probe")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the probe process {}: {e}", self.exe.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A child that dies at once closes its stdin; its exit says why.
            let _ = stdin.write_all(&serde_json::to_vec(request).expect("request serializes"));
        }
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                // A plugin may print too, even without newlines: read at
                // most 1 MB per line; only our lines parse.
                let mut out = std::io::BufReader::new(stdout);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match out.by_ref().take(1 << 20).read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if let Ok(line) = serde_json::from_slice::<ProbeLine>(&line)
                        && tx.send(line).is_err()
                    {
                        return;
                    }
                }
            });
        }
        // The first 64 KB of stderr, for the reason; the rest is drained so a
        // chatty plugin never blocks on a full pipe.
        let (etx, stderr) = mpsc::channel();
        if let Some(mut err) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = err.by_ref().take(64 << 10).read_to_end(&mut buf);
                let _ = etx.send(buf);
                let _ = std::io::copy(&mut err, &mut std::io::sink());
            });
        }
        let deadline = Instant::now() + self.timeout;
        let mut lines = Vec::new();
        let mut hung = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                // The verdict is in: a helper the plugin started may still
                // hold stdout open, so do not wait for it to close.
                Ok(ProbeLine::Done) => {
                    lines.push(ProbeLine::Done);
                    break;
                }
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    hung = true;
                    let _ = child.kill();
                    break;
                }
            }
        }
        // stdout closed: the child is ending; a child that closed its
        // stdout early but lives on is still bound by the deadline.
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    hung = true;
                    let _ = child.kill();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(_) => break None,
            }
        };
        // A grandchild may hold stderr open: do not wait for its end.
        let stderr = stderr.recv_timeout(Duration::from_millis(200)).unwrap_or_default();
        Ok(ChildRun { lines, status, hung, stderr })
    }
}

/// What one probe child said and how it ended.
struct ChildRun {
    lines: Vec<ProbeLine>,
    status: Option<std::process::ExitStatus>,
    hung: bool,
    stderr: Vec<u8>,
}

impl ChildRun {
    fn report(self, ids: &BTreeMap<String, &str>, prober: &Prober) -> ProbeReport {
        let mut report =
            ProbeReport { file: Err(String::new()), ctors: BTreeMap::new(), cacheable: true };
        let mut at: Option<&ProbeLine> = None;
        let mut done = false;
        match self.lines.first() {
            Some(ProbeLine::Hello { protocol }) if *protocol == PROBE_PROTOCOL => {}
            Some(ProbeLine::Hello { protocol }) => {
                report.file = Err(format!(
                    "not checked: the probe {} speaks protocol {protocol}, this host {PROBE_PROTOCOL}; install mlhost again so both are one build",
                    prober.exe.display()
                ));
                report.cacheable = false;
                return report;
            }
            _ => {}
        }
        for line in &self.lines {
            match line {
                ProbeLine::Step { .. } | ProbeLine::New { .. } => at = Some(line),
                ProbeLine::Returned { key } => {
                    report.ctors.insert(key.clone(), Verdict::Passed);
                    at = None;
                }
                ProbeLine::Loaded { plugin } => {
                    report.file = Ok(plugin.clone());
                    at = None;
                }
                ProbeLine::Rejected { reason } => {
                    // The probe could not judge the file: ask again next time.
                    report.cacheable &= !reason.starts_with("not checked");
                    report.file = Err(reason.clone());
                }
                ProbeLine::Done => done = true,
                ProbeLine::Hello { .. } => {}
            }
        }
        let clean_exit = self.status.is_some_and(|s| s.success());
        if done && clean_exit && !self.hung {
            if matches!(&report.file, Err(reason) if reason.is_empty()) {
                // Done, but neither loaded nor rejected: a line was lost (the
                // plugin wrote over the protocol?). No verdict to keep.
                report.file = Err("not checked: the probe ended without a verdict (does the plugin write to stdout while loading?)".to_owned());
                report.cacheable = false;
            }
            return report;
        }
        let how = self.death(prober);
        let why = match at {
            Some(ProbeLine::New { key }) => {
                let id = ids.get(key).copied().unwrap_or("?");
                let why = format!(
                    "constructor {how} in new() for candidate '{id}' with params {key}; fix the plugin's new()"
                );
                report.ctors.insert(key.clone(), Verdict::Failed(one_line(&why)));
                return report;
            }
            Some(ProbeLine::Step { step }) => format!("{how} while loading, {}", step.place()),
            _ => format!("{how} while loading"),
        };
        report.file = Err(one_line(&format!("{why}; fix the plugin and rebuild it")));
        report
    }

    /// "crashed (SIGSEGV)", "hung (no answer within 10 s; killed)", ...
    fn death(&self, prober: &Prober) -> String {
        if self.hung {
            return format!(
                "hung (no answer within {} s, killed; raise [plugins] probe_timeout_secs if it is only slow)",
                prober.timeout.as_secs()
            );
        }
        let stderr = String::from_utf8_lossy(&self.stderr);
        if let Some(mb) = prober.max_memory_mb
            && (stderr.contains("memory allocation of") || stderr.contains("capacity overflow"))
        {
            return format!("exceeded the memory limit of {mb} MB");
        }
        match self.status.map(|s| (s.signal(), s.code())) {
            Some((Some(sig), _)) => format!("crashed ({})", signal_name(sig)),
            Some((None, Some(code))) => format!("ended the process (exit code {code})"),
            _ => "ended abnormally".to_owned(),
        }
    }
}

/// The default folder of private plugin copies: `plugin-images/` beside
/// the database.
pub fn image_dir(database: &Path) -> PathBuf {
    database.parent().unwrap_or(Path::new(".")).join("plugin-images")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prober() -> Prober {
        Prober {
            exe: PathBuf::from("/bin/true"),
            timeout: Duration::from_secs(7),
            max_memory_mb: None,
            image_dir: None,
        }
    }

    fn report(lines: Vec<ProbeLine>, code: i32, hung: bool) -> ProbeReport {
        let status = std::process::ExitStatus::from_raw(code);
        let run = ChildRun { lines, status: Some(status), hung, stderr: Vec::new() };
        let ids = BTreeMap::from([("{\"k\":1}".to_owned(), "cand")]);
        run.report(&ids, &prober())
    }

    #[test]
    fn a_death_is_named_by_the_step_it_happened_in() {
        use ProbeLine::*;
        let hello = Hello { protocol: PROBE_PROTOCOL };
        let segv = 11; // raw wait status of a SIGSEGV death
        let r = report(vec![hello.clone(), Step { step: LoadStep::Dlopen }], segv, false);
        assert_eq!(
            r.file.unwrap_err(),
            "crashed (SIGSEGV) while loading, in the library's constructor (it ran while dlopen loaded it); fix the plugin and rebuild it"
        );
        let r = report(vec![hello.clone(), Step { step: LoadStep::Info }], 9, true);
        assert!(r.file.unwrap_err().starts_with("hung (no answer within 7 s, killed;"));
        let lines = vec![
            hello.clone(),
            Step { step: LoadStep::Info },
            Loaded { plugin: "p".into() },
            New { key: "{\"k\":1}".into() },
        ];
        let r = report(lines, 6, false);
        assert_eq!(r.file, Ok("p".to_owned()));
        assert_eq!(
            r.ctors["{\"k\":1}"],
            Verdict::Failed("constructor crashed (SIGABRT) in new() for candidate 'cand' with params {\"k\":1}; fix the plugin's new()".into())
        );
        let lines = vec![
            hello.clone(),
            Loaded { plugin: "p".into() },
            New { key: "{}".into() },
            Returned { key: "{}".into() },
            Done,
        ];
        let r = report(lines, 0, false);
        assert_eq!((r.file, r.ctors["{}"].clone()), (Ok("p".to_owned()), Verdict::Passed));
        let r = report(vec![hello, Step { step: LoadStep::Dlopen }], 3 << 8, false);
        assert!(r.file.unwrap_err().starts_with("ended the process (exit code 3) while loading"));
    }

    #[test]
    fn another_protocol_is_refused_in_one_line() {
        let r = report(vec![ProbeLine::Hello { protocol: 99 }], 0, false);
        assert!(r.file.unwrap_err().contains("speaks protocol 99, this host 1"));
        assert!(!r.cacheable);
    }
}
