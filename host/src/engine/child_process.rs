//! What the two kinds of worker process (`worker` for a job,
//! `serve_worker` for serving) share: the protocol check of the first
//! message a worker reads, and a worker's death told in one line.

use std::os::unix::process::ExitStatusExt;

use crate::plugin::wire::signal_name;

/// Who sent a versioned message: for [`versioned`]'s refusal.
pub(crate) struct Peer {
    /// `worker` or `serve worker`.
    pub(crate) what: &'static str,
    /// The message's protocol field.
    pub(crate) field: &'static str,
    /// `host` or `server`.
    pub(crate) sender: &'static str,
}

/// `v` as a `T` once its protocol field says `expected`. The version is
/// read first: a host of another build may send a message of another
/// shape, and the answer must say "versions" (and `fix`), not "field x".
pub(crate) fn versioned<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
    peer: &Peer,
    expected: u32,
    fix: &str,
) -> Result<T, String> {
    let Peer { what, field, sender } = peer;
    let version = v.get(*field).and_then(serde_json::Value::as_u64).unwrap_or(0);
    if version != u64::from(expected) {
        return Err(format!(
            "{what} protocol mismatch: the {sender} speaks {version}, this worker {expected}; {fix}"
        ));
    }
    serde_json::from_value::<T>(v).map_err(|e| format!("{what} message: {e}"))
}

/// Why a worker died, in one line.
pub(crate) fn death_reason(
    status: std::process::ExitStatus,
    stderr: &[u8],
    max_memory_mb: Option<u64>,
) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let last = stderr.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("");
    let out_of_memory =
        stderr.contains("memory allocation of") || stderr.contains("capacity overflow");
    if let (Some(mb), true) = (max_memory_mb, out_of_memory) {
        return format!("exceeded memory limit of {mb} MB");
    }
    let said = if last.is_empty() {
        String::new()
    } else {
        format!(" (it said: {})", truncate(last, 200))
    };
    match (status.signal(), status.code()) {
        (Some(sig), _) => format!("worker process killed by {}{said}", signal_name(sig)),
        (None, Some(code)) => format!("worker process exited with code {code}{said}"),
        (None, None) => format!("worker process ended abnormally{said}"),
    }
}

fn truncate(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deaths_are_named() {
        use std::process::ExitStatus;
        let sig = |n: i32| ExitStatus::from_raw(n); // signalled: low 7 bits
        let code = |c: i32| ExitStatus::from_raw(c << 8);
        assert_eq!(death_reason(sig(11), b"", None), "worker process killed by SIGSEGV");
        assert_eq!(
            death_reason(sig(6), b"thread panicked\nfatal runtime error: boom\n", None),
            "worker process killed by SIGABRT (it said: fatal runtime error: boom)"
        );
        assert_eq!(death_reason(code(3), b"", None), "worker process exited with code 3");
        assert_eq!(
            death_reason(sig(6), b"memory allocation of 1048576 bytes failed\n", Some(64)),
            "exceeded memory limit of 64 MB"
        );
        assert_eq!(signal_name(64), "signal 64");
    }
}
