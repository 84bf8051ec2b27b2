//! `mlhost gc [--dry-run]`: what `[retention]` removes, said line by line.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Config;
use crate::service::gc;
use crate::store::Store;
use crate::store::artifacts::Artifacts;

pub(super) fn run(
    config: &Config,
    dry_run: bool,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(&config.database)?;
    let artifacts = Artifacts::new(&config.artifacts);
    let report =
        gc::gc(&mut store, &artifacts, &config.retention, std::time::SystemTime::now(), dry_run)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for r in &report.runs {
        writeln!(out, "{verb} run {} ({}): {}", r.run_id, r.created_at, r.why)?;
    }
    for r in &report.kept {
        writeln!(out, "kept run {} ({}): {}", r.run_id, r.created_at, r.why)?;
    }
    for sha in &report.artifacts {
        writeln!(out, "{verb} artifact {sha}: no registered version needs it")?;
    }
    writeln!(
        out,
        "{verb} {} runs ({} rows) and {} artifacts ({} bytes); kept {} runs",
        report.runs.len(),
        report.rows,
        report.artifacts.len(),
        report.artifact_bytes,
        report.kept.len()
    )?;
    if config.retention.keep_runs.is_none() && config.retention.max_age_days.is_none() {
        writeln!(
            out,
            "note: no [retention] keep_runs or max_age_days in {}: no run is old",
            config.path.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
