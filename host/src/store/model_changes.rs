//! Changes to registered models after registration: stages (one
//! production version at a time), rollback, aliases, and the changelog
//! that records each of them (`model_changelog`), each one transaction
//! with its entry and its event.

use rusqlite::{OptionalExtension, params};

use super::outbox::{Event, emit_model};
use super::{Result, Store, Tx, now};
use crate::domain::Stage;

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRow {
    /// RFC 3339.
    pub at: String,
    /// The version changed.
    pub version: i64,
    /// `registered`, `stage`, `alias`, `rollback`.
    pub change: String,
    /// What changed, e.g. `staging -> production`.
    pub detail: String,
}

pub(super) fn log(
    tx: &Tx<'_>,
    name: &str,
    version: i64,
    change: &str,
    detail: &str,
    at: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO model_changelog (name, version, change, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, version, change, detail, at],
    )?;
    Ok(())
}

fn stage_of(tx: &Tx<'_>, name: &str, version: i64) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT stage FROM model_versions WHERE name = ?1 AND version = ?2",
        params![name, version],
        |r| r.get(0),
    )
    .optional()
}

/// Sets a stage with its changelog entry and event; `why` is the change
/// (`stage` or `rollback`).
fn set_stage(
    tx: &Tx<'_>,
    name: &str,
    version: i64,
    to: Stage,
    why: &str,
    at: &str,
) -> rusqlite::Result<String> {
    let from = stage_of(tx, name, version)?.unwrap_or_default();
    tx.execute(
        "UPDATE model_versions SET stage = ?3 WHERE name = ?1 AND version = ?2",
        params![name, version, to.as_str()],
    )?;
    log(tx, name, version, why, &format!("{from} -> {to}"), at)?;
    let event =
        Event::ModelStageChanged { name, version, from: &from, to: to.as_str(), change: why };
    emit_model(tx, &event, at)?;
    Ok(from)
}

/// What a stage change did.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    /// The version's stage before.
    pub from: String,
    /// The production version moved to `deprecated` to make room, if any.
    pub demoted: Option<i64>,
}

impl Store {
    /// Moves `name`:`version` to `stage`. A new production version moves
    /// the one before it to `deprecated` (one production version at a
    /// time). `None` when the version does not exist.
    pub fn set_stage(
        &mut self,
        name: &str,
        version: i64,
        stage: Stage,
    ) -> Result<Option<StageChange>> {
        self.write(|tx| {
            if stage_of(tx, name, version)?.is_none() {
                return Ok(None);
            }
            let at = now();
            let mut demoted = None;
            if stage == Stage::Production {
                demoted = tx
                    .query_row(
                        "SELECT version FROM model_versions WHERE name = ?1 AND stage = 'production' AND version != ?2",
                        params![name, version],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(old) = demoted {
                    set_stage(tx, name, old, Stage::Deprecated, "stage", &at)?;
                }
            }
            let from = set_stage(tx, name, version, stage, "stage", &at)?;
            Ok(Some(StageChange { from, demoted }))
        })
    }

    /// Moves production back to the version that was production before
    /// the current one; the current one becomes `deprecated`. `Ok(None)`
    /// when there is no current or no earlier production version.
    pub fn rollback(&mut self, name: &str) -> Result<Option<(i64, i64)>> {
        self.write(|tx| {
            let current: Option<i64> = tx
                .query_row(
                    "SELECT version FROM model_versions WHERE name = ?1 AND stage = 'production'",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(current) = current else { return Ok(None) };
            let earlier: Option<i64> = tx
                .query_row(
                    "SELECT version FROM model_changelog WHERE name = ?1 AND version != ?2
                       AND change IN ('stage', 'rollback') AND detail LIKE '% -> production'
                     ORDER BY id DESC LIMIT 1",
                    params![name, current],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(earlier) = earlier else { return Ok(None) };
            let at = now();
            set_stage(tx, name, current, Stage::Deprecated, "rollback", &at)?;
            set_stage(tx, name, earlier, Stage::Production, "rollback", &at)?;
            Ok(Some((current, earlier)))
        })
    }

    /// Points `alias` of `name` at `version` (moving it if it pointed
    /// elsewhere). `None` when the version does not exist; else the version
    /// it pointed at before.
    pub fn set_alias(
        &mut self,
        name: &str,
        version: i64,
        alias: &str,
    ) -> Result<Option<Option<i64>>> {
        self.write(|tx| {
            if stage_of(tx, name, version)?.is_none() {
                return Ok(None);
            }
            let before: Option<i64> = tx
                .query_row(
                    "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2",
                    params![name, alias],
                    |r| r.get(0),
                )
                .optional()?;
            tx.execute(
                "INSERT INTO model_aliases (name, alias, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                params![name, alias, version],
            )?;
            let at = now();
            let detail = match before {
                Some(b) => format!("@{alias}: {b} -> {version}"),
                None => format!("@{alias} -> {version}"),
            };
            log(tx, name, version, "alias", &detail, &at)?;
            let event = Event::ModelAliasSet { name, version, alias, previous: before };
            emit_model(tx, &event, &at)?;
            Ok(Some(before))
        })
    }

    /// The changelog of `name`, oldest first.
    pub fn changelog(&self, name: &str) -> Result<Vec<ChangeRow>> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT at, version, change, detail FROM model_changelog WHERE name = ?1 ORDER BY id",
            )?;
            q.query_map([name], |r| {
                Ok(ChangeRow { at: r.get(0)?, version: r.get(1)?, change: r.get(2)?, detail: r.get(3)? })
            })?
            .collect()
        })
    }
}
