//! Retention: removing a run with everything that hangs off it (jobs,
//! results, predictions, epochs, a study and its trials, its published
//! events) in one transaction, and the artifacts registered versions still
//! need. Unpublished events stay in the outbox for the relay.

use std::collections::BTreeSet;

use rusqlite::params;

use super::{Result, Store};

impl Store {
    /// Deletes run `run_id` and everything stored under it, except its
    /// unpublished events. Returns the rows removed.
    pub fn delete_run(&mut self, run_id: &str) -> Result<usize> {
        self.write(|tx| {
            let jobs = "SELECT id FROM jobs WHERE run_id = ?1";
            let mut removed = 0;
            for sql in [
                format!("DELETE FROM predictions WHERE job_id IN ({jobs})"),
                format!("DELETE FROM epoch_metrics WHERE job_id IN ({jobs})"),
                "DELETE FROM trials WHERE study_id IN (SELECT id FROM studies WHERE run_id = ?1)"
                    .into(),
                "DELETE FROM studies WHERE run_id = ?1".into(),
                "DELETE FROM results WHERE run_id = ?1".into(),
                "DELETE FROM jobs WHERE run_id = ?1".into(),
                "DELETE FROM events WHERE run_id = ?1 AND published_at IS NOT NULL".into(),
                "DELETE FROM runs WHERE id = ?1".into(),
            ] {
                removed += tx.execute(&sql, params![run_id])?;
            }
            Ok(removed)
        })
    }

    /// Artifacts a registered version needs: every version's, except an
    /// archived one without an alias.
    pub fn needed_artifacts(&self) -> Result<BTreeSet<String>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT DISTINCT artifact FROM model_versions v
                 WHERE v.stage != 'archived'
                    OR EXISTS (SELECT 1 FROM model_aliases a WHERE a.name = v.name AND a.version = v.version)",
            )?;
            q.query_map([], |r| r.get(0))?.collect()
        })
    }

    /// Runs (and studies' runs) a registered version that is not archived,
    /// or has an alias, names as its source: its lineage.
    pub fn lineage_runs(&self) -> Result<BTreeSet<String>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT DISTINCT source_run FROM model_versions v WHERE source_run IS NOT NULL AND
                   (v.stage != 'archived'
                    OR EXISTS (SELECT 1 FROM model_aliases a WHERE a.name = v.name AND a.version = v.version))",
            )?;
            q.query_map([], |r| r.get(0))?.collect()
        })
    }
}
