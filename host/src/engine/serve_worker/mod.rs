//! Process isolation for serving: a model version loaded in a long-lived
//! child `mlhost serve-worker` process that answers predict calls over its
//! stdin and stdout. A segfault, abort or exit in the plugin ends only that
//! child, and a call that does not answer within the timeout gets its child
//! killed; either way the caller gets a one-line reason and drops the
//! instance (the next call starts a fresh child).
//!
//! The protocol is frames, each a little-endian `u64` length and that many
//! bytes. The host sends a hello (JSON: protocol, plugin file, the model's
//! header) and the artifact's bytes; the child answers `OK` or an error.
//! Then, per call, the host sends a request (`proba` byte, `rows` as u64,
//! the encoded rows as f64) and the child answers the predictions or the
//! error. The child runs exactly [`Predictor::predict`], so a row is
//! prepared and checked as it is in process.
//!
//! The child's fd 1 is pointed at its stderr before the plugin is loaded,
//! and the frames go to a private copy of the original stdout: a plugin
//! that prints cannot corrupt the protocol.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::predictor::{Predictions, Predictor};
use super::train::ModelHeader;
use super::worker::death_reason;

/// The host↔serve-worker protocol version; another is refused in one line.
pub const SERVING_PROTOCOL: u32 = 1;

const OK: u8 = 0;
const ERR: u8 = 1;

/// The first frame the host sends.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hello {
    serving_protocol: u32,
    /// The plugin file (the registry's private image of it).
    plugin: PathBuf,
    header: ModelHeader,
}

fn write_frame(w: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    w.write_all(&(len as u64).to_le_bytes())?;
    for p in parts {
        w.write_all(p)?;
    }
    w.flush()
}

/// The next frame, or `None` when the other side closed the pipe.
fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 8];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::try_from(u64::from_le_bytes(len))
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame too long"))?;
    let mut buf = Vec::new();
    r.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(buf))
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// A request: `[proba u8][rows u64][x f64…]`.
fn encode_request(x: &[f64], rows: usize, proba: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + x.len() * 8);
    out.push(u8::from(proba));
    out.extend((rows as u64).to_le_bytes());
    out.extend(f64_bytes(x));
    out
}

fn decode_request(frame: &[u8]) -> Result<(Vec<f64>, usize, bool), String> {
    let (Some(&proba), Some(rows)) = (frame.first(), u64_at(frame, 1)) else {
        return Err("serve worker: a request shorter than its header".into());
    };
    let x = frame.get(9..).unwrap_or_default();
    if x.len() % 8 != 0 {
        return Err("serve worker: a request whose values are not whole f64s".into());
    }
    Ok((f64s(x), rows as usize, proba != 0))
}

/// A reply: `[OK][rows u64][values][k u64][proba]` (k 0: no
/// probabilities) or `[ERR][message]`.
fn encode_reply(answer: Result<Predictions, String>) -> Vec<u8> {
    match answer {
        Ok(p) => {
            let proba = p.proba.unwrap_or_default();
            let k = if p.values.is_empty() { 0 } else { proba.len() / p.values.len() };
            let mut out = vec![OK];
            out.extend((p.values.len() as u64).to_le_bytes());
            out.extend(f64_bytes(&p.values));
            out.extend((k as u64).to_le_bytes());
            out.extend(f64_bytes(&proba));
            out
        }
        Err(e) => [&[ERR][..], e.as_bytes()].concat(),
    }
}

fn decode_reply(frame: &[u8]) -> Result<Predictions, String> {
    let bad = || "the serve worker sent a reply that does not read".to_owned();
    match frame.first() {
        Some(&ERR) => Err(String::from_utf8_lossy(&frame[1..]).into_owned()),
        Some(&OK) => {
            let rows = u64_at(frame, 1).ok_or_else(bad)? as usize;
            let values_end = 9 + rows.checked_mul(8).ok_or_else(bad)?;
            let values = f64s(frame.get(9..values_end).ok_or_else(bad)?);
            let k = u64_at(frame, values_end).ok_or_else(bad)? as usize;
            let proba = frame.get(values_end + 8..).ok_or_else(bad)?;
            if proba.len() != rows * k * 8 {
                return Err(bad());
            }
            Ok(Predictions { values, proba: (k > 0).then(|| f64s(proba)) })
        }
        _ => Err(bad()),
    }
}

/// The child's side: read the hello and the bytes, load the model, then
/// answer each request until the host closes stdin. A model that cannot be
/// loaded is an error reply; only I/O errors are errors.
pub fn serve_worker_main(input: impl Read, output: impl Write) -> io::Result<()> {
    let mut input = BufReader::new(input);
    let mut output = BufWriter::new(output);
    let model = match open_model(&mut input)? {
        Ok(model) => model,
        Err(e) => return write_frame(&mut output, &[&[ERR], e.as_bytes()]),
    };
    write_frame(&mut output, &[&[OK]])?;
    while let Some(frame) = read_frame(&mut input)? {
        let answer =
            decode_request(&frame).and_then(|(x, rows, proba)| model.predict(&x, rows, proba));
        write_frame(&mut output, &[&encode_reply(answer)])?;
    }
    Ok(())
}

fn open_model(input: &mut impl Read) -> io::Result<Result<Predictor, String>> {
    let (Some(hello), Some(bytes)) = (read_frame(input)?, read_frame(input)?) else {
        return Ok(Err("serve worker: the host closed the pipe before the model".into()));
    };
    let hello = serde_json::from_slice::<serde_json::Value>(&hello)
        .map_err(|e| format!("serve worker hello: {e}"))
        .and_then(|v| {
            let version = v.get("servingProtocol").and_then(serde_json::Value::as_u64).unwrap_or(0);
            if version != u64::from(SERVING_PROTOCOL) {
                return Err(format!(
                    "serve worker protocol mismatch: the host speaks {version}, this worker {SERVING_PROTOCOL}; install mlhost again so both are one build"
                ));
            }
            serde_json::from_value::<Hello>(v).map_err(|e| format!("serve worker hello: {e}"))
        });
    Ok(hello.and_then(|h| {
        let plugin = crate::plugin::loader::load(&h.plugin)
            .map_err(|r| format!("plugin {} rejected: {}", h.plugin.display(), r.reason))?;
        Predictor::with_plugin(Arc::new(plugin), h.header, &bytes)
    }))
}

/// Readies this process to be a serve worker: it is killed when the
/// server that started it ends (a worker hung in a plugin call would
/// otherwise outlive it), and fd 1 points at stderr. Returns the original
/// stdout, for the frames: whatever a plugin prints lands in the log the
/// host reads on a crash.
pub fn private_stdout() -> io::Result<std::fs::File> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no
    // pointers; dup and dup2 act on the process's own standard
    // descriptors, and the new descriptor is owned by the returned File.
    unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(fd))
    }
}

/// A model version loaded in a child process.
#[derive(Debug)]
pub struct ChildPredictor {
    io: Mutex<Io>,
    timeout: Duration,
}

#[derive(Debug)]
struct Io {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Vec<u8>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl ChildPredictor {
    /// Starts `exe serve-worker` and loads `bytes` in it with the plugin
    /// file `plugin`. A child that does not answer within `timeout` is
    /// killed; one that dies or refuses is a one-line reason.
    pub fn spawn(
        exe: &Path,
        plugin: &Path,
        header: &ModelHeader,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<ChildPredictor, String> {
        let mut child = Command::new(exe)
            .arg("serve-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a serve worker process ({}): {e}", exe.display()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("all three are piped")
        };
        let (tx, replies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            while let Ok(Some(frame)) = read_frame(&mut stdout) {
                if tx.send(frame).is_err() {
                    break;
                }
            }
        });
        let stderr = Some(std::thread::spawn(move || tail(stderr, 8 << 10)));
        let io = Io { child, stdin, replies, stderr };
        let me = ChildPredictor { io: Mutex::new(io), timeout };
        let hello = Hello {
            serving_protocol: SERVING_PROTOCOL,
            plugin: plugin.to_owned(),
            header: header.clone(),
        };
        let hello = serde_json::to_vec(&hello).expect("a header serializes");
        let ready = me.exchange(&[&hello], Some(bytes), "loading the model")?;
        match ready.first() {
            Some(&OK) => Ok(me),
            _ => Err(decode_reply(&ready).err().unwrap_or_else(|| "refused".into())),
        }
    }

    /// As [`Predictor::predict`], in the child.
    pub fn predict(&self, x: &[f64], rows: usize, proba: bool) -> Result<Predictions, String> {
        let request = encode_request(x, rows, proba);
        let reply = self.exchange(&[&request], None, "predict")?;
        let p = decode_reply(&reply)?;
        if p.values.len() != rows {
            return Err(format!("the serve worker answered {} rows for {rows}", p.values.len()));
        }
        Ok(p)
    }

    /// Sends `frame` (and `then`, a second frame) and waits for one reply.
    fn exchange(
        &self,
        frame: &[&[u8]],
        then: Option<&[u8]>,
        doing: &str,
    ) -> Result<Vec<u8>, String> {
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        let sent = write_frame(&mut io.stdin, frame)
            .and_then(|()| then.map_or(Ok(()), |b| write_frame(&mut io.stdin, &[b])));
        let got = match sent {
            Ok(()) => io.replies.recv_timeout(self.timeout),
            // A child that died closed its stdin; its exit says why.
            Err(_) => Err(RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(reply) => Ok(reply),
            Err(RecvTimeoutError::Timeout) => {
                let _ = io.child.kill();
                let _ = io.child.wait();
                Err(format!(
                    "{doing} did not answer within {} s; its worker process was killed",
                    self.timeout.as_secs_f64()
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = io.child.wait().map_err(|e| format!("lost the serve worker: {e}"))?;
                let stderr = io.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
                Err(format!("{doing}: {}", death_reason(status, &stderr, None)))
            }
        }
    }
}

impl Drop for ChildPredictor {
    fn drop(&mut self) {
        let io = self.io.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = io.child.kill();
        let _ = io.child.wait();
    }
}

/// The last `keep` bytes or so `r` writes until it closes.
fn tail(mut r: impl Read, keep: usize) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let x = [1.0, -2.5, f64::NAN, 4.0];
        let (back, rows, proba) = decode_request(&encode_request(&x, 2, true)).unwrap();
        assert_eq!((rows, proba, back.len()), (2, true, 4));
        assert!(back[2].is_nan() && back[1] == -2.5);
        let p = Predictions { values: vec![0.0, 2.0], proba: Some(vec![0.25, 0.75, 0.5, 0.5]) };
        assert_eq!(decode_reply(&encode_reply(Ok(p.clone()))), Ok(p));
        let plain = Predictions { values: vec![3.5], proba: None };
        assert_eq!(decode_reply(&encode_reply(Ok(plain.clone()))), Ok(plain));
        assert_eq!(decode_reply(&encode_reply(Err("boom".into()))), Err("boom".into()));
        let reply = encode_reply(Ok(Predictions { values: vec![1.0], proba: None }));
        assert!(decode_reply(&reply[..reply.len() - 3]).is_err(), "a truncated reply is refused");
    }

    #[test]
    fn frames_round_trip_and_a_closed_pipe_is_none() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[b"ab", b"c"]).unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        assert!(read_frame(&mut &buf[..10]).is_err(), "a cut frame is an error");
    }

    #[test]
    fn another_protocol_is_refused_in_one_line() {
        let mut input = Vec::new();
        write_frame(&mut input, &[br#"{"servingProtocol": 99}"#]).unwrap();
        write_frame(&mut input, &[b""]).unwrap();
        let mut out = Vec::new();
        serve_worker_main(&input[..], &mut out).unwrap();
        let reply = read_frame(&mut &out[..]).unwrap().unwrap();
        let said = decode_reply(&reply).unwrap_err();
        assert!(said.contains("protocol mismatch: the host speaks 99"), "{said}");
    }

    #[test]
    fn tail_keeps_the_end() {
        let text: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let kept = tail(&text[..], 1000);
        assert!(kept.len() >= 1000 && kept.len() <= 2000 + 4096);
        assert!(text.ends_with(&kept));
    }
}
