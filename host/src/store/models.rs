//! `model_versions` and `model_aliases`: registered models, registered
//! and read. Every change (a new version, a stage, an alias, a rollback)
//! is one transaction with its changelog entry and its event; the changes
//! after registration are in `model_changes.rs`.

use rusqlite::{OptionalExtension, params};

use super::model_changes::log;
use super::outbox::{Event, emit_model};
use super::{Result, Store, now};
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

#[cfg(test)]
impl<'a> NewVersion<'a> {
    /// A version of `name` with `artifact` and placeholder lineage, for tests.
    pub(crate) fn example(name: &'a str, artifact: &'a str) -> Self {
        NewVersion {
            name,
            semver: "1.0.0",
            artifact,
            plugin: ("p", "0.1.0", "sha"),
            candidate: "p",
            task: "classification",
            params_json: "{}",
            features_json: "[]",
            dataset_id: "d",
            source_run: None,
            source_study: None,
            metrics_json: "{}",
            message: None,
            prep_json: "null",
        }
    }
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
}
