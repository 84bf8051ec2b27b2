//! The serve worker's side: load the model named by the hello, then answer
//! each request until the server closes stdin (or goes away).

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::Duration;

use super::{
    ERR, Hello, OK, SERVING_PROTOCOL, decode_request, encode_reply, read_frame, write_frame,
};
use crate::engine::child_process::{Peer, versioned};
use crate::engine::predictor::Predictor;
use crate::plugin::loader;

/// How often a worker checks that the server that started it is there.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// Read the hello and the bytes, load the model, then answer each request
/// until the host closes stdin. A model that cannot be loaded is an error
/// reply; only I/O errors are errors.
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
            let peer = Peer { what: "serve worker", field: "servingProtocol", sender: "server" };
            let fix =
                "the mlhost binary was replaced under a running server: restart `mlhost serve`";
            versioned::<Hello>(v, &peer, SERVING_PROTOCOL, fix)
        });
    Ok(hello.and_then(|h| {
        if let Some(mb) = h.max_memory_mb {
            let bytes = mb.saturating_mul(1 << 20);
            rlimit::setrlimit(rlimit::Resource::DATA, bytes, bytes)
                .map_err(|e| format!("cannot set the memory limit: {e}"))?;
        }
        let rejected = |r: loader::Rejection| format!("plugin {} rejected: {}", h.plugin.display(), r.reason);
        // Checked before any of its code runs.
        let file = loader::inspect(&h.plugin).map_err(rejected)?;
        if file.sha256 != h.sha256 {
            return Err(format!(
                "plugin file {} is not the one the server loaded (sha256 {}, expected {}); restart `mlhost serve`",
                h.plugin.display(),
                file.sha256,
                h.sha256
            ));
        }
        let plugin = loader::open(&file, None).map_err(rejected)?;
        Predictor::with_plugin(Arc::new(plugin), h.header, &bytes)
    }))
}

/// Readies this process to be a serve worker and returns the stream its
/// frames go to: a private copy of stdout, closed on exec (a process a
/// plugin starts does not hold the server's reply pipe open), while fd 1
/// now points at stderr (whatever a plugin prints lands in the log the
/// server reads on a crash, not in the frames). A watchdog thread ends the
/// worker once the server that started it is gone, even while a plugin
/// call is stuck. Ctrl-C, SIGTERM and SIGHUP reach the whole process
/// group; the worker ignores them and lets the server end it (or end with
/// it), so requests in flight while the server shuts down still answer.
pub fn worker_stdout() -> io::Result<std::fs::File> {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: SIG_IGN installs no handler and takes no pointers.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) and dup2 act on the process's own
    // standard descriptors and take no pointers; the new descriptor is
    // owned by the returned File alone.
    let frames = unsafe {
        let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        std::fs::File::from_raw_fd(fd)
    };
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    std::thread::Builder::new().name("mlhost-parent-watch".into()).spawn(move || {
        loop {
            // SAFETY: getppid has no preconditions; `_exit` takes no
            // pointers and skips destructors and std's stdout flush (the
            // main thread holds stdout's lock for good, and a plugin call
            // may be stuck holding anything else).
            if unsafe { libc::getppid() } != parent {
                unsafe { libc::_exit(1) }
            }
            std::thread::sleep(PARENT_CHECK);
        }
    })?;
    Ok(frames)
}
