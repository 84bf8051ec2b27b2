//! `model_versions`, `model_aliases` and `model_changelog`: registered
//! models. Every change (a new version, a stage, an alias, a rollback) is
//! one transaction with its changelog entry and its event.

use rusqlite::{OptionalExtension, params};

use super::outbox::{Event, emit_model};
use super::{Result, Store, Tx, now};
use crate::domain::{ModelRef, Stage};

/// A version to register (its number and parent are the store's to give).
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    /// The model's name.
    pub name: &'a str,
    /// Its semantic version.
    pub semver: &'a str,
    /// The artifact's sha256 (its file name).
    pub artifact: &'a str,
    /// Plugin name, version and the sha256 of its `.so`.
    pub plugin: (&'a str, &'a str, &'a str),
    /// The candidate it was trained as.
    pub candidate: &'a str,
    /// `classification` or `regression`.
    pub task: &'a str,
    /// Parameters, JSON.
    pub params_json: &'a str,
    /// Feature columns (names and kinds), JSON.
    pub features_json: &'a str,
    /// The training data's id.
    pub dataset_id: &'a str,
    /// The run or study the version came from.
    pub source_run: Option<&'a str>,
    /// The study, when `--from STUDY`.
    pub source_study: Option<&'a str>,
    /// Metrics, JSON.
    pub metrics_json: &'a str,
    /// `--message`.
    pub message: Option<&'a str>,
    /// The candidate's data preparation as configured (JSON).
    pub prep_json: &'a str,
}

/// One stored version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionRow {
    /// The model's name.
    pub name: String,
    /// 1, 2, ...
    pub version: i64,
    /// `MAJOR.MINOR.PATCH`.
    pub semver: String,
    /// Lifecycle stage.
    #[schema(value_type = String)]
    pub stage: Stage,
    /// The artifact's sha256.
    pub artifact: String,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub plugin_version: String,
    /// sha256 of the plugin's `.so`.
    pub plugin_sha256: String,
    /// The candidate id it was trained as.
    pub candidate: String,
    /// `classification` or `regression`.
    pub task: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// Feature columns.
    pub features: serde_json::Value,
    /// Training data id.
    pub dataset_id: String,
    /// Source run.
    pub source_run: Option<String>,
    /// Source study.
    pub source_study: Option<String>,
    /// The version before it (lineage).
    pub parent_version: Option<i64>,
    /// Metrics.
    pub metrics: serde_json::Value,
    /// `--message`.
    pub message: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The data preparation it was trained with, as configured:
    /// `{"scale","encode","impute"}` (`null` for a version registered
    /// before mlhost recorded it).
    #[schema(value_type = Object)]
    pub preparation: serde_json::Value,
    /// Aliases pointing at it.
    pub aliases: Vec<String>,
}

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

const COLUMNS: &str = "name, version, semver, stage, artifact, plugin, plugin_version, plugin_sha256, candidate, task, params_json, features_json, dataset_id, source_run, source_study, parent_version, metrics_json, message, created_at, prep_json";

fn json(s: String) -> serde_json::Value {
    serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    let stage: String = r.get(3)?;
    let stage = stage.parse::<Stage>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(VersionRow {
        name: r.get(0)?,
        version: r.get(1)?,
        semver: r.get(2)?,
        stage,
        artifact: r.get(4)?,
        plugin: r.get(5)?,
        plugin_version: r.get(6)?,
        plugin_sha256: r.get(7)?,
        candidate: r.get(8)?,
        task: r.get(9)?,
        params: json(r.get(10)?),
        features: json(r.get(11)?),
        dataset_id: r.get(12)?,
        source_run: r.get(13)?,
        source_study: r.get(14)?,
        parent_version: r.get(15)?,
        metrics: json(r.get(16)?),
        message: r.get(17)?,
        created_at: r.get(18)?,
        preparation: json(r.get(19)?),
        aliases: Vec::new(),
    })
}

fn log(
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
    /// Registers version N+1 of `v.name` (N = the latest; 1 for a new
    /// model), in `development`, with `model.registered`.
    pub fn register_version(&mut self, v: &NewVersion<'_>) -> Result<i64> {
        self.write(|tx| {
            let at = now();
            let parent: Option<i64> = tx.query_row(
                "SELECT MAX(version) FROM model_versions WHERE name = ?1",
                [v.name],
                |r| r.get(0),
            )?;
            let version = parent.unwrap_or(0) + 1;
            tx.execute(
                &format!("INSERT INTO model_versions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"),
                params![
                    v.name, version, v.semver, Stage::Development.as_str(), v.artifact,
                    v.plugin.0, v.plugin.1, v.plugin.2, v.candidate, v.task, v.params_json,
                    v.features_json, v.dataset_id, v.source_run, v.source_study, parent,
                    v.metrics_json, v.message, at, v.prep_json
                ],
            )?;
            log(tx, v.name, version, "registered", &format!("{} from {}", v.semver, v.source_run.unwrap_or("-")), &at)?;
            let event = Event::ModelRegistered {
                name: v.name,
                version,
                semver: v.semver,
                artifact: v.artifact,
                plugin: v.plugin.0,
                plugin_version: v.plugin.1,
                source_run: v.source_run,
                source_study: v.source_study,
            };
            emit_model(tx, &event, &at)?;
            Ok(version)
        })
    }

    /// Every version of `name`, newest first, with their aliases.
    pub fn versions(&self, name: &str) -> Result<Vec<VersionRow>> {
        self.read(|c| {
            let mut q = c.prepare(&format!(
                "SELECT {COLUMNS} FROM model_versions WHERE name = ?1 ORDER BY version DESC"
            ))?;
            let mut rows =
                q.query_map([name], version_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            let mut a = c.prepare(
                "SELECT alias, version FROM model_aliases WHERE name = ?1 ORDER BY alias",
            )?;
            for pair in
                a.query_map([name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            {
                let (alias, version) = pair?;
                if let Some(row) = rows.iter_mut().find(|r| r.version == version) {
                    row.aliases.push(alias);
                }
            }
            Ok(rows)
        })
    }

    /// The names of every registered model, sorted.
    pub fn model_names(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut q = c.prepare("SELECT DISTINCT name FROM model_versions ORDER BY name")?;
            q.query_map([], |r| r.get(0))?.collect()
        })
    }

    /// The version `r` means: `NAME:N`; `NAME@ALIAS`; `NAME` = the
    /// production version, else the latest. `None` when there is none.
    /// Reads that one version (serving resolves a reference per request,
    /// whatever the number of versions).
    pub fn resolve_version(&self, r: &ModelRef) -> Result<Option<VersionRow>> {
        self.read(|c| {
            let one = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
                let sql = format!("SELECT {COLUMNS} FROM model_versions WHERE {sql}");
                c.prepare_cached(&sql)?.query_row(p, version_row).optional()
            };
            let found = match r {
                ModelRef::Version(n, v) => one("name = ?1 AND version = ?2", &[n, v])?,
                ModelRef::Alias(n, a) => {
                    let at: Option<i64> = c
                        .prepare_cached(
                            "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2",
                        )?
                        .query_row(params![n, a], |r| r.get(0))
                        .optional()?;
                    match at {
                        Some(v) => one("name = ?1 AND version = ?2", &[n, &v])?,
                        None => None,
                    }
                }
                ModelRef::Name(n) => {
                    one("name = ?1 ORDER BY stage = 'production' DESC, version DESC LIMIT 1", &[n])?
                }
            };
            let Some(mut row) = found else { return Ok(None) };
            let mut q = c.prepare_cached(
                "SELECT alias FROM model_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias",
            )?;
            row.aliases = q
                .query_map(params![row.name, row.version], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(row))
        })
    }

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
