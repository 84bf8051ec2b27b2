//! The server's side: [`ChildPredictor`] starts a worker, loads the model
//! in it, and makes each predict call a round trip with a deadline.
//!
//! Three threads serve each worker: one writes requests to its stdin, one
//! reads replies from its stdout, one keeps the tail of its stderr. The
//! caller only waits on a channel, so the deadline covers writing too: a
//! worker that stops reading (stopped, or stuck before it read a large
//! request whole) costs the call its deadline, never a blocked thread.

use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use super::{Hello, OK, SERVING_PROTOCOL, decode_reply, encode_request, frame, read_frame};
use crate::engine::child_process::death_reason;
use crate::engine::predictor::Predictions;
use crate::engine::train::ModelHeader;

/// Loading a model gets at least this long, whatever the call timeout: a
/// large model's bytes cross the pipe and are parsed once.
const MIN_LOAD_TIME: Duration = Duration::from_secs(60);
/// How long a dead worker's stderr is waited for (a process the plugin
/// started may hold it open).
const STDERR_WAIT: Duration = Duration::from_millis(500);
/// Bytes of a worker's stderr kept for the reason of its death.
const STDERR_TAIL: usize = 8 << 10;

/// A model version loaded in a child process.
#[derive(Debug)]
pub struct ChildPredictor {
    io: Mutex<Io>,
    timeout: Duration,
    max_memory_mb: Option<u64>,
}

/// How a worker is started and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLimits {
    /// A predict call's deadline (a load gets at least a minute).
    pub timeout: Duration,
    /// The worker's memory limit, in MB.
    pub max_memory_mb: Option<u64>,
}

#[derive(Debug)]
struct Io {
    child: Child,
    /// Framed requests, to the writer thread.
    requests: Sender<Vec<u8>>,
    /// Reply frames, from the reader thread.
    replies: Receiver<Vec<u8>>,
    /// The tail of stderr, once it closes.
    stderr: Receiver<Vec<u8>>,
}

fn io_thread(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new().name(name.into()).spawn(f).map(drop)
}

impl ChildPredictor {
    /// Starts `exe serve-worker` and loads `bytes` in it with the plugin
    /// file `plugin` (whose sha256 is `sha256`), within `limits`. A call
    /// past its deadline gets the child killed; a child that dies or
    /// refuses is a one-line reason.
    pub fn spawn(
        exe: &Path,
        plugin: (&Path, &str),
        header: &ModelHeader,
        bytes: &[u8],
        limits: &WorkerLimits,
    ) -> Result<ChildPredictor, String> {
        let WorkerLimits { timeout, max_memory_mb } = *limits;
        let mut child = Command::new(exe)
            .arg("serve-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a serve worker process ({}): {e}", exe.display()))?;
        let io = match start_io(&mut child) {
            Ok((requests, replies, stderr)) => Io { child, requests, replies, stderr },
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot start the threads of a serve worker: {e}"));
            }
        };
        let me = ChildPredictor { io: Mutex::new(io), timeout, max_memory_mb };
        let hello = Hello {
            serving_protocol: SERVING_PROTOCOL,
            plugin: plugin.0.to_owned(),
            sha256: plugin.1.to_owned(),
            max_memory_mb,
            header: header.clone(),
        };
        let hello = serde_json::to_vec(&hello).expect("a header serializes");
        let load = [frame(&[&hello]), frame(&[bytes])].concat();
        let ready = me.exchange(load, timeout.max(MIN_LOAD_TIME), "loading the model")?;
        match ready.first() {
            Some(&OK) => Ok(me),
            _ => Err(decode_reply(&ready).err().unwrap_or_else(|| "refused".into())),
        }
    }

    /// As [`crate::engine::predictor::Predictor::predict`], in the child.
    pub fn predict(&self, x: &[f64], rows: usize, proba: bool) -> Result<Predictions, String> {
        let reply = self.exchange(encode_request(x, rows, proba), self.timeout, "predict")?;
        let p = decode_reply(&reply)?;
        if p.values.len() != rows {
            return Err(format!("the serve worker answered {} rows for {rows}", p.values.len()));
        }
        Ok(p)
    }

    /// Sends `request` (framed) and waits up to `limit` for one reply.
    fn exchange(&self, request: Vec<u8>, limit: Duration, doing: &str) -> Result<Vec<u8>, String> {
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        let got = match io.requests.send(request) {
            Ok(()) => io.replies.recv_timeout(limit),
            // The writer ended: the child closed its stdin (it died).
            Err(_) => Err(RecvTimeoutError::Disconnected),
        };
        let failed = match got {
            Ok(reply) => return Ok(reply),
            Err(RecvTimeoutError::Timeout) => format!(
                "{doing} did not answer within {} s; its worker process was killed (raise [serving] timeout_secs in mlhost.toml if the model needs longer)",
                limit.as_secs_f64()
            ),
            Err(RecvTimeoutError::Disconnected) => String::new(),
        };
        // Dead (or closed its stdout) or too slow: make sure it is gone.
        let _ = io.child.kill();
        let status = io.child.wait().map_err(|e| format!("lost the serve worker: {e}"))?;
        if !failed.is_empty() {
            return Err(failed);
        }
        let stderr = io.stderr.recv_timeout(STDERR_WAIT).unwrap_or_default();
        Err(format!("{doing}: {}", death_reason(status, &stderr, self.max_memory_mb)))
    }
}

/// Framed requests in; reply frames and, once it closes, stderr's tail out.
type Channels = (Sender<Vec<u8>>, Receiver<Vec<u8>>, Receiver<Vec<u8>>);

/// The three threads of a started child.
fn start_io(child: &mut Child) -> std::io::Result<Channels> {
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        unreachable!("all three are piped")
    };
    let (requests, to_write) = mpsc::channel::<Vec<u8>>();
    io_thread("mlhost-serve-in", move || {
        for request in to_write {
            if stdin.write_all(&request).is_err() {
                break;
            }
        }
    })?;
    let (tx, replies) = mpsc::channel();
    io_thread("mlhost-serve-out", move || {
        let mut stdout = BufReader::new(stdout);
        while let Ok(Some(frame)) = read_frame(&mut stdout) {
            if tx.send(frame).is_err() {
                break;
            }
        }
    })?;
    let (tx, tail_rx) = mpsc::channel();
    io_thread("mlhost-serve-err", move || {
        let _ = tx.send(tail(stderr, STDERR_TAIL));
    })?;
    Ok((requests, replies, tail_rx))
}

impl Drop for ChildPredictor {
    fn drop(&mut self) {
        let io = self.io.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = io.child.kill();
        let _ = io.child.wait();
    }
}

/// The last `keep` bytes or so `r` writes until it closes.
pub(super) fn tail(mut r: impl Read, keep: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * keep {
            kept.drain(..kept.len() - keep);
        }
    }
    kept
}
