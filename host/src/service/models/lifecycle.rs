//! Stages, aliases, rollback and the changelog of registered models, each
//! change one transaction with its changelog entry and event (the store's).

use super::ModelError;
use crate::domain::{ModelRef, Stage, check_name};
use crate::store::{ChangeRow, Store, VersionRow};

/// One registered model in `models list`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelSummary {
    /// Its name.
    pub name: String,
    /// Versions registered.
    pub versions: usize,
    /// The newest version.
    pub latest: i64,
    /// Its semver.
    pub latest_semver: String,
    /// The production version, if any.
    pub production: Option<i64>,
    /// Aliases, as `alias -> version`.
    pub aliases: Vec<String>,
}

/// Every registered model.
pub fn list(store: &Store) -> Result<Vec<ModelSummary>, ModelError> {
    let mut out = Vec::new();
    for name in store.model_names()? {
        let versions = store.versions(&name)?;
        let Some(latest) = versions.first() else { continue };
        out.push(ModelSummary {
            name: name.clone(),
            versions: versions.len(),
            latest: latest.version,
            latest_semver: latest.semver.clone(),
            production: versions.iter().find(|v| v.stage == Stage::Production).map(|v| v.version),
            aliases: versions
                .iter()
                .flat_map(|v| v.aliases.iter().map(move |a| format!("{a} -> {}", v.version)))
                .collect(),
        });
    }
    Ok(out)
}

/// Every version of `name`, newest first (an unknown name is an error).
pub fn versions(store: &Store, name: &str) -> Result<Vec<VersionRow>, ModelError> {
    let v = store.versions(name)?;
    if v.is_empty() {
        return Err(unknown(name));
    }
    Ok(v)
}

fn unknown(name: &str) -> ModelError {
    ModelError::NotFound(format!(
        "no model '{name}'; `mlhost models list` shows the registered ones"
    ))
}

fn no_version(store: &Store, name: &str, version: i64) -> ModelError {
    match store.versions(name) {
        Ok(v) if !v.is_empty() => ModelError::NotFound(format!(
            "model '{name}' has no version {version} (it has 1 to {})",
            v[0].version
        )),
        _ => unknown(name),
    }
}

/// Moves `name`:`version` to `stage`; says what it did in one line.
pub fn stage(
    store: &mut Store,
    name: &str,
    version: i64,
    stage: &str,
) -> Result<String, ModelError> {
    let stage: Stage = stage.parse().map_err(ModelError::BadInput)?;
    let change =
        store.set_stage(name, version, stage)?.ok_or_else(|| no_version(store, name, version))?;
    let mut line = format!("{name}:{version}: {} -> {stage}", change.from);
    if let Some(old) = change.demoted {
        line.push_str(&format!(" ({name}:{old}: production -> deprecated)"));
    }
    Ok(line)
}

/// Points `alias` of `name` at `version`.
pub fn alias(
    store: &mut Store,
    name: &str,
    version: i64,
    alias: &str,
) -> Result<String, ModelError> {
    check_name("alias", alias).map_err(ModelError::BadInput)?;
    let before =
        store.set_alias(name, version, alias)?.ok_or_else(|| no_version(store, name, version))?;
    Ok(match before {
        Some(b) if b != version => format!("{name}@{alias}: {b} -> {version}"),
        _ => format!("{name}@{alias} -> {version}"),
    })
}

/// Moves production back to the previous production version.
pub fn rollback(store: &mut Store, name: &str) -> Result<String, ModelError> {
    versions(store, name)?;
    match store.rollback(name)? {
        Some((from, to)) => {
            Ok(format!("{name}: production {from} -> {to} ({name}:{from} is now deprecated)"))
        }
        None => Err(ModelError::BadInput(format!(
            "model '{name}' has no earlier production version to roll back to; `mlhost models changelog {name}` shows its history"
        ))),
    }
}

/// The changelog of `name`, oldest first.
pub fn changelog(store: &Store, name: &str) -> Result<Vec<ChangeRow>, ModelError> {
    versions(store, name)?;
    Ok(store.changelog(name)?)
}

/// The version `reference` names (`models show NAME[@ALIAS|:N]`).
pub fn show(store: &Store, reference: &str) -> Result<VersionRow, ModelError> {
    let r: ModelRef = reference.parse().map_err(ModelError::BadInput)?;
    super::find(store, &r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewVersion;

    fn register(store: &mut Store, name: &str) -> i64 {
        store.register_version(&NewVersion::example(name, "ab")).unwrap()
    }

    #[test]
    fn stages_aliases_and_rollback_keep_one_production_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("m.db")).unwrap();
        assert_eq!((register(&mut store, "churn"), register(&mut store, "churn")), (1, 2));
        assert!(
            rollback(&mut store, "churn")
                .unwrap_err()
                .to_string()
                .contains("no earlier production")
        );
        assert_eq!(
            stage(&mut store, "churn", 1, "production").unwrap(),
            "churn:1: development -> production"
        );
        assert_eq!(
            stage(&mut store, "churn", 2, "production").unwrap(),
            "churn:2: development -> production (churn:1: production -> deprecated)"
        );
        assert_eq!(alias(&mut store, "churn", 2, "champion").unwrap(), "churn@champion -> 2");
        assert_eq!(show(&store, "churn@champion").unwrap().version, 2);
        assert_eq!(
            rollback(&mut store, "churn").unwrap(),
            "churn: production 2 -> 1 (churn:2 is now deprecated)"
        );
        assert_eq!(show(&store, "churn").unwrap().version, 1, "NAME means the production version");
        let log: Vec<String> = changelog(&store, "churn")
            .unwrap()
            .into_iter()
            .map(|c| format!("{} {} {}", c.version, c.change, c.detail))
            .collect();
        assert_eq!(log.len(), 8, "{log:?}");
        assert_eq!(log.last().unwrap(), "1 rollback deprecated -> production");
        assert!(
            stage(&mut store, "churn", 9, "staging")
                .unwrap_err()
                .to_string()
                .contains("has no version 9 (it has 1 to 2)")
        );
        assert!(
            stage(&mut store, "churn", 1, "live")
                .unwrap_err()
                .to_string()
                .starts_with("no stage 'live'")
        );
        assert!(show(&store, "nope").unwrap_err().to_string().contains("no model 'nope'"));
        let events = store.pending_events(100).unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types.iter().filter(|t| **t == "model.registered").count(), 2);
        assert_eq!(types.iter().filter(|t| **t == "model.stage_changed").count(), 5);
    }
}
