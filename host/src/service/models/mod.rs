//! Registered models, the use cases `mlhost train`, `predict`, `models` and
//! the serving API share: train a candidate into a versioned, content-
//! addressed artifact with its lineage; resolve `NAME[@ALIAS|:N]` to a
//! version and load it, checking the artifact's bytes; move stages and
//! aliases ([`lifecycle`]).

use mlhost_plugin_api::ParamValue;
use serde_json::json;

use crate::domain::{
    Change, ModelRef, RunDefaults, RunRequest, RunSpec, Semver, StudySpec, check_name,
};
use crate::engine::EvalError;
use crate::engine::predictor::{Predictor, ready_plugin};
use crate::engine::train::{self, ModelHeader, Trained};
use crate::registry::Registry;
use crate::store::artifacts::{ArtifactError, Artifacts};
use crate::store::{NewVersion, Store, StoreError, VersionRow};

mod cache;
mod instance;
pub mod lifecycle;
pub mod predict;
pub mod serving;

/// Why a model use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The request cannot be served as asked (exit 2 / HTTP 4xx).
    #[error("{0}")]
    BadInput(String),
    /// No such model, version or alias (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The version exists but cannot be loaded: artifact or plugin.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EvalError> for ModelError {
    fn from(e: EvalError) -> Self {
        match e {
            EvalError::Store(s) => ModelError::Store(s),
            other => ModelError::BadInput(other.to_string()),
        }
    }
}

impl From<ArtifactError> for ModelError {
    fn from(e: ArtifactError) -> Self {
        ModelError::Unavailable(e.to_string())
    }
}

/// What `mlhost train` asks for.
#[derive(Debug, Clone, Default)]
pub struct TrainRequest {
    /// Dataset, label, task, seed (as `eval`).
    pub run: RunRequest,
    /// The candidate (with `--from`: defaults to the source's).
    pub model: Option<String>,
    /// `--param NAME=VALUE`, on top of the candidate's (and the source's).
    pub params: Vec<(String, String)>,
    /// `--from STUDY|RUN`: the best trial's params, or the run's job's.
    pub from: Option<String>,
    /// The registered model's name (default: the candidate id).
    pub name: Option<String>,
    /// `--message`.
    pub message: Option<String>,
}

/// What `mlhost train` did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainReport {
    /// The new version, as stored.
    pub version: VersionRow,
    /// Rows trained on.
    pub rows: usize,
    /// The artifact's path.
    pub artifact_path: String,
}

/// Where a version comes from.
struct Source {
    spec: RunSpec,
    model: String,
    params: Vec<(String, ParamValue)>,
    run: Option<String>,
    study: Option<String>,
    metrics: serde_json::Value,
}

/// Trains, stores the artifact and its manifest, registers the version.
pub fn train(
    registry: &Registry,
    store: &mut Store,
    artifacts: &Artifacts,
    defaults: &RunDefaults,
    req: TrainRequest,
) -> Result<TrainReport, ModelError> {
    let source = source(store, defaults, &req)?;
    let name = req.name.clone().unwrap_or_else(|| source.model.clone());
    check_name("model", &name).map_err(ModelError::BadInput)?;
    let mut overrides = source.params.clone();
    overrides.extend(parse_params(registry, &source.model, &req.params)?);
    let trained = train::train(registry, &source.spec, &source.model, &overrides)?;
    let latest = store.versions(&name)?.into_iter().next();
    let semver = match &latest {
        None => Semver::FIRST,
        Some(v) => v.semver.parse::<Semver>().unwrap_or(Semver::FIRST).bump(change(v, &trained)),
    }
    .to_string();
    let metrics = json!({"source": source.metrics, "training": trained.metrics});
    let manifest = manifest(&name, &semver, &trained, &source, &metrics);
    let header = serde_json::to_value(&trained.header).expect("headers serialize");
    let sha = artifacts.put(&header, &trained.bytes, &manifest)?;
    let h = &trained.header;
    let version = store.register_version(&NewVersion {
        name: &name,
        semver: &semver,
        artifact: &sha,
        plugin: (&h.plugin, &h.plugin_version, &trained.plugin.sha256),
        candidate: &trained.candidate,
        task: &h.task,
        params_json: &json!(h.params).to_string(),
        features_json: &json!(h.columns).to_string(),
        dataset_id: &trained.dataset_id,
        source_run: source.run.as_deref(),
        source_study: source.study.as_deref(),
        metrics_json: &metrics.to_string(),
        message: req.message.as_deref(),
        prep_json: &json!(trained.prep).to_string(),
    })?;
    let row = store.resolve_version(&ModelRef::Version(name.clone(), version))?;
    let version = row.ok_or_else(|| ModelError::NotFound(format!("{name}:{version} vanished")))?;
    tracing::info!(model = %name, version = version.version, semver = %semver, artifact = %sha, "model registered");
    Ok(TrainReport {
        version,
        rows: trained.rows,
        artifact_path: artifacts.path(&sha).display().to_string(),
    })
}

/// The semver change from `latest` to `trained`: other features or task,
/// other plugin, params or data preparation, else data.
fn change(latest: &VersionRow, trained: &Trained) -> Change {
    let h = &trained.header;
    if latest.task != h.task || latest.features != json!(h.columns) {
        Change::Interface
    } else if latest.plugin != h.plugin
        || latest.plugin_version != h.plugin_version
        || latest.plugin_sha256 != trained.plugin.sha256
        || latest.params != json!(h.params)
        || (!latest.preparation.is_null() && latest.preparation != json!(trained.prep))
    {
        Change::Model
    } else {
        Change::Data
    }
}

fn manifest(
    name: &str,
    semver: &str,
    t: &Trained,
    source: &Source,
    metrics: &serde_json::Value,
) -> serde_json::Value {
    let h: &ModelHeader = &t.header;
    json!({
        "name": name,
        "semver": semver,
        "plugin": {"name": h.plugin, "version": h.plugin_version, "sha256": t.plugin.sha256},
        "candidate": t.candidate,
        "task": h.task,
        "params": h.params,
        "preprocessing": h.prep,
        "features": h.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "label": h.label,
        "labels": h.labels,
        "datasetId": t.dataset_id,
        "dataset": source.spec.dataset,
        "sourceRun": source.run,
        "sourceStudy": source.study,
        "metrics": metrics,
        "hostVersion": env!("CARGO_PKG_VERSION"),
        "createdAt": crate::domain::now(),
    })
}

/// The spec, candidate and params a version is trained from.
fn source(store: &Store, defaults: &RunDefaults, req: &TrainRequest) -> Result<Source, ModelError> {
    let bad = ModelError::BadInput;
    let Some(from) = &req.from else {
        let spec = RunSpec::resolve(req.run.clone(), defaults).map_err(|e| bad(e.to_string()))?;
        let model = req
            .model
            .clone()
            .ok_or_else(|| bad("--model ID is required (or --from STUDY)".into()))?;
        return Ok(Source {
            spec,
            model,
            params: Vec::new(),
            run: None,
            study: None,
            metrics: json!(null),
        });
    };
    if let Some(report) = crate::service::tuning::report(store, from)? {
        let study = store.study(from)?.expect("reported");
        let spec: StudySpec = serde_json::from_str(&study.spec_json)
            .map_err(|e| bad(format!("study {from}: its stored spec does not read: {e}")))?;
        let best = report.best.as_ref().ok_or_else(|| {
            bad(format!(
                "study {} has no complete trial to train from; `mlhost show {}` says why",
                report.study_id, report.study_id
            ))
        })?;
        let model = spec.model.clone();
        if req.model.as_ref().is_some_and(|m| *m != model) {
            return Err(bad(format!(
                "--from {from} tuned '{model}', not '{}'; drop --model",
                req.model.as_deref().unwrap_or("")
            )));
        }
        let params = object_params(&best.params)?;
        let metrics = json!(report.trials.get(best.trial).map(|t| &t.metrics));
        return Ok(Source {
            spec: spec.run,
            model,
            params,
            run: Some(report.run_id.to_string()),
            study: Some(report.study_id.clone()),
            metrics,
        });
    }
    if let Some(run) = crate::service::runs::report(store, from)? {
        let row = store.run(from)?.expect("reported");
        let spec: RunSpec = serde_json::from_str(&row.spec_json)
            .map_err(|e| bad(format!("run {from}: its stored spec does not read: {e}")))?;
        let model = req.model.clone().ok_or_else(|| {
            bad(format!("--from RUN needs --model ID: which of run {}'s models", run.run_id))
        })?;
        let m = run
            .models
            .iter()
            .find(|m| m.model_id == model && m.status == crate::domain::JobStatus::Succeeded)
            .ok_or_else(|| bad(format!("run {} has no succeeded model '{model}'", run.run_id)))?;
        let job =
            store.jobs(&row.id)?.into_iter().find(|j| j.id == m.job_id).expect("reported job");
        let params: serde_json::Value = serde_json::from_str(&job.params_json).unwrap_or(json!({}));
        return Ok(Source {
            spec,
            model,
            params: object_params(&params)?,
            run: Some(run.run_id.to_string()),
            study: None,
            metrics: json!(m.metrics),
        });
    }
    Err(ModelError::NotFound(format!(
        "--from {from}: no such study or run; `mlhost runs` lists them"
    )))
}

fn object_params(v: &serde_json::Value) -> Result<Vec<(String, ParamValue)>, ModelError> {
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_value(v.clone()).unwrap_or_default();
    crate::plugin::wire::params_from_json(&map).map_err(ModelError::BadInput)
}

/// `--param NAME=VALUE`, each typed by the candidate's schema.
fn parse_params(
    registry: &Registry,
    model: &str,
    given: &[(String, String)],
) -> Result<Vec<(String, ParamValue)>, ModelError> {
    let Some(c) = registry.candidates.iter().find(|c| c.id == model) else { return Ok(Vec::new()) };
    given
        .iter()
        .map(|(k, v)| {
            let spec = c.schema.iter().find(|s| s.name == *k).ok_or_else(|| {
                let known: Vec<&str> = c.schema.iter().map(|s| s.name.as_str()).collect();
                ModelError::BadInput(format!(
                    "--param {k}: model '{model}' has no parameter '{k}' (known: {})",
                    known.join(", ")
                ))
            })?;
            let value = crate::search::space::value(spec, v)
                .map_err(|e| ModelError::BadInput(format!("--param {k}={v}: {e}")))?;
            Ok((k.clone(), value))
        })
        .collect()
}

/// The version `r` names, loaded: its artifact read and checked against
/// its sha256, its bytes loaded by the plugin that saved them.
pub fn load(
    registry: &Registry,
    store: &Store,
    artifacts: &Artifacts,
    r: &ModelRef,
) -> Result<(VersionRow, Predictor), ModelError> {
    let v = find(store, r)?;
    let (header, bytes) = read_artifact(artifacts, &v)?;
    let p = open(registry, &v, header, &bytes)?;
    Ok((v, p))
}

/// The artifact of version `v`, read and checked against its sha256: the
/// header and the plugin's bytes.
pub fn read_artifact(
    artifacts: &Artifacts,
    v: &VersionRow,
) -> Result<(ModelHeader, Vec<u8>), ModelError> {
    let (header, bytes) = artifacts.get(&v.artifact)?;
    let header: ModelHeader = serde_json::from_value(header).map_err(|e| {
        ModelError::Unavailable(format!(
            "artifact {}: its header does not read: {e}",
            artifacts.path(&v.artifact).display()
        ))
    })?;
    Ok((header, bytes))
}

/// A model of version `v` from its artifact's `header` and `bytes`, loaded
/// by the ready plugin of `registry` that saved them.
pub fn open(
    registry: &Registry,
    v: &VersionRow,
    header: ModelHeader,
    bytes: &[u8],
) -> Result<Predictor, ModelError> {
    if ready_plugin(registry, &header.plugin).is_none() {
        return Err(not_loaded(v, &header));
    }
    Predictor::open(registry, header, bytes)
        .map_err(|e| ModelError::Unavailable(format!("{}:{}: {e}", v.name, v.version)))
}

/// Version `v` cannot be loaded: the plugin that saved it is not ready.
pub(crate) fn not_loaded(v: &VersionRow, header: &ModelHeader) -> ModelError {
    ModelError::Unavailable(format!(
        "{}:{} needs plugin '{}' ({}), which is not loaded; put its .so in a plugin dir",
        v.name, v.version, header.plugin, header.plugin_version
    ))
}

/// The stored version `r` names, or a message naming what is missing.
pub fn find(store: &Store, r: &ModelRef) -> Result<VersionRow, ModelError> {
    if let Some(v) = store.resolve_version(r)? {
        return Ok(v);
    }
    let versions = store.versions(r.name())?;
    Err(ModelError::NotFound(match (r, versions.is_empty()) {
        (_, true) => {
            format!("no model '{}'; `mlhost models list` shows the registered ones", r.name())
        }
        (ModelRef::Alias(n, a), _) => format!(
            "model '{n}' has no alias '{a}'; `mlhost models versions {n}` shows its aliases"
        ),
        (ModelRef::Version(n, v), _) => {
            format!("model '{n}' has no version {v} (it has 1 to {})", versions[0].version)
        }
        (ModelRef::Name(n), _) => format!("no model '{n}'"),
    }))
}
