//! Where the host's own log goes: `tracing` events and spans (run > job >
//! fold) to stderr, filtered by `RUST_LOG` (default `warn`, `info` for
//! `serve`), as text or as JSON lines (`--log-format json`). What a command
//! prints for its user stays on stdout.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line, with the current span and its parents
    /// (`run_id`, `job_id`, `model`, `fold`).
    Json,
}

/// Installs the subscriber for this process. `default` is the filter used
/// when `RUST_LOG` is not set.
pub fn init(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests call `run` many times in one process) is a no-op.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(false)
            .try_init(),
    };
}
