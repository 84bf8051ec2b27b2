//! Process isolation for serving: a model version loaded in a long-lived
//! child `mlhost serve-worker` process that answers predict calls over its
//! stdin and stdout. A segfault, abort or exit in the plugin ends only that
//! child, and a call that does not answer in time gets its child killed;
//! either way the caller gets a one-line reason and drops the instance
//! (the next call starts a fresh child).
//!
//! The protocol is frames, each a little-endian `u64` length and that many
//! bytes. The host sends a hello (JSON: protocol, plugin file and its
//! sha256, memory limit, the model's header) and the artifact's bytes; the child answers
//! `OK` or an error. Then, per call, the host sends a request (`proba`
//! byte, `rows` as u64, the encoded rows as f64) and the child answers the
//! predictions or the error. The child runs exactly
//! [`Predictor::predict`], so a row is prepared and checked as it is in
//! process.
//!
//! `child.rs` is the worker's side, `host.rs` the server's
//! ([`ChildPredictor`]); this file the frames both speak.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::predictor::Predictions;
use super::train::ModelHeader;

mod child;
mod host;
#[cfg(test)]
mod tests;

pub use child::{serve_worker_main, worker_stdout};
pub use host::{ChildPredictor, WorkerLimits};

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
    /// Its sha256 as the server loaded it: the worker loads no other.
    sha256: String,
    /// The worker's memory limit (RLIMIT_DATA), in MB.
    max_memory_mb: Option<u64>,
    header: ModelHeader,
}

/// `parts` as one frame: its length, then the parts.
fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(8 + len);
    out.extend((len as u64).to_le_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
    out
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

/// A request, framed: `[proba u8][rows u64][x f64…]`.
fn encode_request(x: &[f64], rows: usize, proba: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 9 + x.len() * 8);
    out.extend(((9 + x.len() * 8) as u64).to_le_bytes());
    out.push(u8::from(proba));
    out.extend((rows as u64).to_le_bytes());
    for v in x {
        out.extend(v.to_le_bytes());
    }
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
    let size = |n: u64, each: usize| usize::try_from(n).ok()?.checked_mul(each);
    match frame.first() {
        Some(&ERR) => Err(String::from_utf8_lossy(&frame[1..]).into_owned()),
        Some(&OK) => {
            let rows = u64_at(frame, 1).ok_or_else(bad)?;
            let values_end = size(rows, 8).and_then(|n| n.checked_add(9)).ok_or_else(bad)?;
            let values = f64s(frame.get(9..values_end).ok_or_else(bad)?);
            let k = u64_at(frame, values_end).ok_or_else(bad)?;
            let proba = frame.get(values_end + 8..).ok_or_else(bad)?;
            let want = size(rows, 8).and_then(|n| n.checked_mul(usize::try_from(k).ok()?));
            if want != Some(proba.len()) {
                return Err(bad());
            }
            Ok(Predictions { values, proba: (k > 0).then(|| f64s(proba)) })
        }
        _ => Err(bad()),
    }
}
