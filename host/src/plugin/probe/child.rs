//! The probe's child side (`mlhost probe`): read a request, load the file
//! and call the constructors, saying each step before it runs it. Runs the
//! plugin's code, so it runs only in a child process.

use std::io::{Read, Write};

use super::{PROBE_PROTOCOL, ProbeLine, ProbeRequest};
use crate::plugin::loader;

/// The child's side: read a request from `input`, load the file and call
/// the constructors, writing (and flushing) each step before it runs. A
/// clean failure is a `rejected` line; only I/O errors are errors.
pub fn probe_main(input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    let mut say = |line: &ProbeLine| -> std::io::Result<()> {
        // A newline first: whatever the plugin left on stdout without one
        // stays on its own line instead of swallowing ours.
        output.write_all(b"\n")?;
        serde_json::to_writer(&mut output, line)?;
        output.write_all(b"\n")?;
        output.flush()
    };
    say(&ProbeLine::Hello { protocol: PROBE_PROTOCOL })?;
    let request = match serde_json::from_reader::<_, ProbeRequest>(input) {
        Ok(r) if r.protocol == PROBE_PROTOCOL => r,
        Ok(r) => {
            let reason = format!(
                "not checked: host speaks probe protocol {}, this probe {PROBE_PROTOCOL}; install mlhost again so both are one build",
                r.protocol
            );
            say(&ProbeLine::Rejected { reason })?;
            return say(&ProbeLine::Done);
        }
        Err(e) => {
            say(&ProbeLine::Rejected { reason: format!("not checked: bad probe request: {e}") })?;
            return say(&ProbeLine::Done);
        }
    };
    if let Some(mb) = request.max_memory_mb {
        let bytes = mb.saturating_mul(1 << 20);
        let _ = rlimit::setrlimit(rlimit::Resource::DATA, bytes, bytes);
    }
    let file = match loader::inspect(&request.path) {
        Ok(mut f) if f.sha256 == request.sha256 => {
            f.stage(request.image_dir.as_deref());
            f
        }
        // The host read this file a moment ago: a different answer now means
        // it is being replaced. "not checked" keeps the verdict out of the
        // cache, so the next scan looks again.
        Ok(_) => {
            let reason = "not checked: the file changed while it was being checked; copy it in one step (write elsewhere, then mv)".to_owned();
            say(&ProbeLine::Rejected { reason })?;
            return say(&ProbeLine::Done);
        }
        Err(r) => {
            let reason =
                format!("not checked: the file changed while it was being checked: {}", r.reason);
            say(&ProbeLine::Rejected { reason })?;
            return say(&ProbeLine::Done);
        }
    };
    let mut io = Ok(());
    let opened = loader::open_observed(&file, request.image_dir.as_deref(), &mut |step| {
        if io.is_ok() {
            io = say(&ProbeLine::Step { step });
        }
    });
    io?;
    let plugin = match opened {
        Ok(p) => p,
        Err(r) => {
            say(&ProbeLine::Rejected { reason: r.reason })?;
            return say(&ProbeLine::Done);
        }
    };
    say(&ProbeLine::Loaded { plugin: plugin.info.name.clone() })?;
    for ctor in &request.ctors {
        if ctor.plugin.as_ref().is_some_and(|p| *p != plugin.info.name) {
            continue;
        }
        let key = ctor.key();
        say(&ProbeLine::New { key: key.clone() })?;
        // A clean error (invalid params, a caught panic) is an answer: the
        // host makes the same call and reports it. Only a death counts.
        if let Ok(given) = crate::plugin::wire::params_from_json(&ctor.params)
            && let Ok(params) = plugin.info.resolve(given.iter().map(|(k, v)| (k.as_str(), v)))
        {
            drop(plugin.new_model(&params));
        }
        say(&ProbeLine::Returned { key })?;
    }
    say(&ProbeLine::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_refuses_another_protocol_and_a_bad_request() {
        let mut out = Vec::new();
        probe_main(&b"{\"protocol\":2,\"path\":\"/x\",\"sha256\":\"\",\"ctors\":[]}"[..], &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("host speaks probe protocol 2"), "{text}");
        let mut out = Vec::new();
        probe_main(&b"not json"[..], &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("bad probe request"));
    }
}
