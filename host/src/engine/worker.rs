//! Process isolation: each job in a child `mlhost worker` process that
//! loads the plugin and maps the dataset snapshot. A segfault, abort, exit,
//! runaway allocation or hang in a plugin ends only that child; the host
//! records why (the signal by name, the exit code, the memory limit, or the
//! timeout) and carries on.
//!
//! Owns the host↔worker protocol (a JSON spec on the child's stdin, a JSON
//! outcome on its stdout), the child's side of it, and turning a child's
//! death into a reason. A plugin that crashes `quarantine_after` times in a
//! run is not started again in that run.

use std::collections::{BTreeMap, HashMap};

use crate::domain::JobStatus;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::data::prep::PrepSpec;
use crate::data::snapshot::Snapshot;
use crate::data::split;
use crate::domain::StopFlag;
use crate::engine::child_process::{Peer, death_reason, versioned};
use crate::engine::job::{EpochSink, FoldScores, Job, JobFailure, run_job};
use crate::plugin::wire::params_from_json;

/// The host↔worker protocol version; a worker refuses another in one line.
/// 2: outcomes carry each fold's held-out predictions.
/// 3: the spec carries the candidate's data preparation and thread budget.
pub const WORKER_PROTOCOL: u32 = 4;

/// What a worker process runs: one job, every fold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerSpec {
    /// [`WORKER_PROTOCOL`] of the host that wrote it (0: a host from before
    /// the protocol had a version).
    #[serde(default)]
    pub worker_protocol: u32,
    /// The plugin file.
    pub plugin: PathBuf,
    /// Resolved parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Feature scaling.
    pub prep: PrepSpec,
    /// Threads the job may use.
    pub threads: usize,
    /// Seed handed to the plugin.
    pub seed: u64,
    /// Positive class code.
    pub pos_label: u32,
    /// The memory-mapped dataset.
    pub snapshot: PathBuf,
    /// The run's folds, written by the host.
    pub folds: PathBuf,
    /// Address-space limit of the child (RLIMIT_DATA), in MB.
    pub max_memory_mb: Option<u64>,
    /// The job, for its epoch records.
    pub job_id: String,
    /// Early stopping on validation loss.
    pub early_stopping: Option<crate::domain::Patience>,
}

/// What a worker prints on stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum WorkerOutcome {
    /// Per fold, metrics, milliseconds and predictions.
    Succeeded {
        /// As `FoldScores`.
        folds: FoldScores,
    },
    /// Why it did not succeed.
    Failed {
        /// failed | timed_out.
        status: JobStatus,
        /// The reason.
        error: String,
    },
}

/// A line the child writes: an epoch as it happens, or the final outcome.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Line {
    EpochRow(crate::domain::EpochRow),
    Outcome(WorkerOutcome),
}

/// The child's side: read a spec from `input`, run it, write each epoch and
/// then the outcome to `output`, one JSON line each. Plugin failures are
/// outcomes; only I/O errors are errors.
pub fn worker_main(input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    let refused = |error: String| WorkerOutcome::Failed { status: JobStatus::Failed, error };
    let spec = serde_json::from_reader::<_, serde_json::Value>(input)
        .map_err(|e| format!("worker spec: {e}"))
        .and_then(|v| {
            let peer = Peer { what: "worker", field: "workerProtocol", sender: "host" };
            versioned(v, &peer, WORKER_PROTOCOL, "install mlhost again so both are one build")
        });
    let spec = match spec {
        Ok(spec) => spec,
        Err(error) => {
            serde_json::to_writer(&mut output, &Line::Outcome(refused(error)))?;
            return output.flush();
        }
    };
    // The job runs on its own thread; this one forwards its epochs as they
    // come, so the host sees training live.
    let (tx, rx) = std::sync::mpsc::channel();
    let job = std::thread::spawn(move || run_spec(&spec, tx));
    for row in rx {
        serde_json::to_writer(&mut output, &Line::EpochRow(row))?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    let outcome = job.join().unwrap_or_else(|_| WorkerOutcome::Failed {
        status: JobStatus::Failed,
        error: "the worker's job thread panicked".into(),
    });
    serde_json::to_writer(&mut output, &Line::Outcome(outcome))?;
    output.write_all(b"\n")?;
    output.flush()
}

fn run_spec(spec: &WorkerSpec, epochs: EpochSink) -> WorkerOutcome {
    let failed = |error: String| WorkerOutcome::Failed { status: JobStatus::Failed, error };
    if let Some(mb) = spec.max_memory_mb {
        let bytes = mb.saturating_mul(1 << 20);
        if let Err(e) = rlimit::setrlimit(rlimit::Resource::DATA, bytes, bytes) {
            return failed(format!("cannot set the memory limit: {e}"));
        }
    }
    let plugin = match crate::plugin::loader::load(&spec.plugin) {
        Ok(p) => p,
        Err(r) => return failed(format!("rejected: {}", r.reason)),
    };
    let given = match params_from_json(&spec.params) {
        Ok(g) => g,
        Err(e) => return failed(e),
    };
    let params = match plugin.info.resolve(given.iter().map(|(k, v)| (k.as_str(), v))) {
        Ok(p) => p,
        Err(e) => return failed(format!("parameters invalid: {e}")),
    };
    let snapshot = match Snapshot::open(&spec.snapshot) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let data = snapshot.view();
    let folds = match split::read_folds(&spec.folds, data.y.len()) {
        Ok(f) => f,
        Err(e) => return failed(e),
    };
    // The host fixed this job's share of its pool when it started the child.
    let budget = super::budget::Budget::new(spec.threads);
    let _alone = budget.job();
    let job = Job {
        plugin: &plugin,
        params: &params,
        prep: spec.prep,
        seed: spec.seed,
        pos_label: spec.pos_label,
        job_id: &spec.job_id,
        epochs: Some(&epochs),
        early: spec.early_stopping,
        budget: &budget,
    };
    // The host enforces the timeout by killing this process.
    match run_job(&job, data, &folds, &StopFlag::default()) {
        Ok(folds) => WorkerOutcome::Succeeded { folds },
        Err(f) => WorkerOutcome::Failed { status: f.status, error: f.error },
    }
}

/// Crash counts per plugin within one run.
#[derive(Debug, Clone, Default)]
pub struct Crashes(Arc<Mutex<HashMap<String, u32>>>);

impl Crashes {
    fn get(&self, plugin: &str) -> u32 {
        self.0.lock().map(|m| m.get(plugin).copied().unwrap_or(0)).unwrap_or(0)
    }
    fn add(&self, plugin: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(plugin.to_owned()).or_default() += 1;
        }
    }
}

/// How the host runs a job in a child.
#[derive(Debug, Clone)]
pub struct ChildJob {
    /// The `mlhost` executable.
    pub exe: PathBuf,
    /// What the child runs.
    pub spec: WorkerSpec,
    /// The plugin's name, for quarantine.
    pub plugin_name: String,
    /// Crashes before the plugin is not started again in this run.
    pub quarantine_after: u32,
    /// Shared by the run's jobs.
    pub crashes: Crashes,
    /// Where the child's epochs go.
    pub epochs: EpochSink,
}

/// Runs `job` in a child process, killing it when `stop` is set.
pub(crate) fn run_in_child(job: &ChildJob, stop: &StopFlag) -> Result<FoldScores, JobFailure> {
    let crashes = job.crashes.get(&job.plugin_name);
    if crashes >= job.quarantine_after {
        return Err(JobFailure::failed(format!(
            "quarantined: plugin '{}' crashed {crashes} times in this run; not started again",
            job.plugin_name
        )));
    }
    let mut child = Command::new(&job.exe)
        .arg("worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            JobFailure::failed(format!(
                "cannot start a worker process ({}): {e}",
                job.exe.display()
            ))
        })?;
    let spec = serde_json::to_vec(&job.spec).expect("spec serializes");
    if let Some(mut stdin) = child.stdin.take() {
        // A child that dies at once closes its stdin; its exit says why.
        let _ = stdin.write_all(&spec);
    }
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    // stdout: epoch lines forwarded as they come, then the outcome line.
    let out = {
        let stdout = child.stdout.take();
        let sink = job.epochs.clone();
        std::thread::spawn(move || {
            let mut outcome = None;
            if let Some(stdout) = stdout {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                    match serde_json::from_str::<Line>(&line) {
                        Ok(Line::EpochRow(row)) => {
                            let _ = sink.send(row);
                        }
                        Ok(Line::Outcome(o)) => outcome = Some(o),
                        Err(_) => {}
                    }
                }
            }
            outcome
        })
    };
    let err = drain(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let mut pause = Duration::from_micros(50);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if stop.is_set() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(JobFailure {
                    status: JobStatus::TimedOut,
                    error: "killed at its deadline".to_owned(),
                });
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Err(e) => return Err(JobFailure::failed(format!("lost the worker process: {e}"))),
        }
    };
    let outcome = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success()
        && let Some(outcome) = outcome
    {
        return match outcome {
            // What crossed the pipe is checked like what a plugin returns.
            WorkerOutcome::Succeeded { folds }
                if folds.iter().any(|f| !f.predictions.is_consistent()) =>
            {
                Err(JobFailure::failed(
                    "the worker returned predictions whose lengths disagree".to_owned(),
                ))
            }
            WorkerOutcome::Succeeded { folds } => Ok(folds),
            WorkerOutcome::Failed { status, error } => Err(JobFailure {
                status: if status == JobStatus::TimedOut {
                    JobStatus::TimedOut
                } else {
                    JobStatus::Failed
                },
                error,
            }),
        };
    }
    job.crashes.add(&job.plugin_name);
    Err(JobFailure::failed(death_reason(status, &stderr, job.spec.max_memory_mb)))
}

/// The default folder for snapshot files.
pub fn snapshot_dir(database: &Path) -> PathBuf {
    database.parent().unwrap_or(Path::new(".")).join("snapshots")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_protocol_is_refused_in_one_line() {
        let mut out = Vec::new();
        worker_main(&b"{\"workerProtocol\": 99}"[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let said =
            format!("worker protocol mismatch: the host speaks 99, this worker {WORKER_PROTOCOL}");
        assert!(text.contains(&said), "{text}");
    }
}
