//! `mlhost gc [--dry-run]`: retention as `[retention]` says. Old runs go
//! with their results, predictions, epochs, trials and published events;
//! artifacts no registered version needs go. A running run, a run a model
//! version came from (unless that version is archived) and anything a
//! staged or aliased version needs stay; unpublished events stay for the
//! relay.

use std::time::{Duration, SystemTime};

use crate::config::RetentionConfig;
use crate::domain::RunStatus;
use crate::store::artifacts::{ArtifactError, Artifacts};
use crate::store::{Store, StoreError};

/// What gc removes (or, with `--dry-run`, would).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    /// Whether anything was removed.
    pub dry_run: bool,
    /// Runs removed, with why.
    pub runs: Vec<GcRun>,
    /// Runs retention would remove but that stay, with why.
    pub kept: Vec<GcRun>,
    /// Artifacts removed (sha256).
    pub artifacts: Vec<String>,
    /// Their bytes.
    pub artifact_bytes: u64,
    /// Database rows removed.
    pub rows: usize,
}

/// One run gc looked at.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcRun {
    /// The run.
    pub run_id: String,
    /// When it was created.
    pub created_at: String,
    /// Why it goes or stays.
    pub why: String,
}

/// Why gc failed.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The artifacts folder.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

/// Applies `retention` (or only reports, `dry_run`) at time `now`.
pub fn gc(
    store: &mut Store,
    artifacts: &Artifacts,
    retention: &RetentionConfig,
    now: SystemTime,
    dry_run: bool,
) -> Result<GcReport, GcError> {
    let mut report = GcReport { dry_run, ..GcReport::default() };
    let lineage = store.lineage_runs()?;
    for (i, run) in store.runs()?.into_iter().enumerate() {
        let Some(why) = expired(retention, i, &run.created_at, now) else { continue };
        let entry = |why: String| GcRun {
            run_id: run.id.to_string(),
            created_at: run.created_at.clone(),
            why,
        };
        if matches!(run.status, RunStatus::Running | RunStatus::Queued) {
            report.kept.push(entry(format!("{why}, but it is {} (skipped)", run.status)));
        } else if lineage.contains(run.id.as_str()) {
            report
                .kept
                .push(entry(format!("{why}, but a registered model version was trained from it")));
        } else {
            if !dry_run {
                report.rows += store.delete_run(run.id.as_str())?;
            }
            report.runs.push(entry(why));
        }
    }
    let needed = store.needed_artifacts()?;
    for sha in artifacts.list()?.into_iter().filter(|s| !needed.contains(s)) {
        report.artifact_bytes += std::fs::metadata(artifacts.path(&sha)).map_or(0, |m| m.len());
        if !dry_run {
            artifacts.remove(&sha)?;
        }
        report.artifacts.push(sha);
    }
    Ok(report)
}

/// Why retention removes the `index`-th newest run, created at `created`.
fn expired(r: &RetentionConfig, index: usize, created: &str, now: SystemTime) -> Option<String> {
    if let Some(keep) = r.keep_runs
        && index as u64 >= keep
    {
        return Some(format!("beyond the newest {keep} runs (keep_runs)"));
    }
    let days = r.max_age_days?;
    let at = humantime::parse_rfc3339_weak(created).ok()?;
    let age = now.duration_since(at).unwrap_or(Duration::ZERO);
    (age > Duration::from_secs(days * 86_400))
        .then(|| format!("older than {days} days (max_age_days)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_counts_newest_first_and_ages_by_creation() {
        let r = RetentionConfig { keep_runs: Some(2), max_age_days: Some(30) };
        let now = humantime::parse_rfc3339("2026-11-30T00:00:00Z").unwrap();
        assert_eq!(expired(&r, 0, "2026-11-29T00:00:00.000Z", now), None);
        assert!(expired(&r, 2, "2026-11-29T00:00:00.000Z", now).unwrap().contains("keep_runs"));
        assert!(expired(&r, 0, "2026-10-01T00:00:00.000Z", now).unwrap().contains("max_age_days"));
        assert_eq!(expired(&RetentionConfig::default(), 9, "2020-01-01T00:00:00Z", now), None);
    }
}
