//! `epoch_metrics`: what iterative plugins report while they train.

use rusqlite::params;

use super::{EpochRow, Result, Store};

impl Store {
    /// Records epochs (replacing a same-numbered one), in one transaction.
    pub fn record_epochs(&mut self, epochs: &[EpochRow]) -> Result<()> {
        self.write(|tx| {
            let mut q = tx.prepare_cached(
                "INSERT INTO epoch_metrics (job_id, fold, epoch, metrics_json, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job_id, fold, epoch) DO UPDATE SET metrics_json = excluded.metrics_json, recorded_at = excluded.recorded_at",
            )?;
            for e in epochs {
                q.execute(params![e.job_id, e.fold, e.epoch, e.metrics_json, e.recorded_at])?;
            }
            Ok(())
        })
    }

    /// A job's (operation's) epochs, by fold then epoch.
    pub fn epochs(&self, job_id: &str) -> Result<Vec<EpochRow>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT job_id, fold, epoch, metrics_json, recorded_at FROM epoch_metrics WHERE job_id = ?1 ORDER BY fold, epoch",
            )?;
            let rows = q.query_map([job_id], |r| {
                Ok(EpochRow {
                    job_id: r.get(0)?,
                    fold: r.get(1)?,
                    epoch: r.get(2)?,
                    metrics_json: r.get(3)?,
                    recorded_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }
}
