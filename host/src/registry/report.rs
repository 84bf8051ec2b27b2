//! The registry report operators read: `mlhost registry [--json]` and
//! `GET /api/ml/models`, in the shape DESIGN.md fixes.

use std::collections::BTreeMap;

use mlhost_plugin_api::{ParamSpec, ParamValue};
use serde::Serialize;

use super::{Registry, State};
use crate::plugin::loader;
use crate::plugin::wire::param_json;

impl Registry {
    /// The report in the shape DESIGN.md fixes.
    pub fn report(&self) -> Report {
        Report {
            models: self
                .candidates
                .iter()
                .map(|c| ReportRow {
                    id: c.id.clone(),
                    plugin: c.plugin.clone(),
                    version: c.version.clone(),
                    task: (!c.tasks.is_empty())
                        .then(|| c.tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>().join("|")),
                    state: if c.reason().is_some() { "rejected" } else { "ready" },
                    path: c.path.as_ref().map(|p| p.display().to_string()),
                    sha256: c.sha256.clone(),
                    reason: c.reason().map(str::to_owned),
                    description: c.description.clone(),
                    scale: c.prep.scale.as_str(),
                    encode: c.prep.encode.as_str(),
                    impute: c.prep.impute.as_str(),
                    params_schema: c.schema.iter().map(ParamSchema::from).collect(),
                    params: match &c.state {
                        State::Ready { params, .. } => {
                            params.iter().map(|(k, v)| (k.to_owned(), param_json(v))).collect()
                        }
                        State::Rejected { .. } => BTreeMap::new(),
                    },
                })
                .collect(),
            disabled: self.disabled.clone(),
            warnings: self.warnings.clone(),
            plugin_api_version: loader::PLUGIN_API_VERSION,
        }
    }
}

/// `mlhost registry --json`: `{"models":[...]}` plus camelCase extras.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// One row per candidate, sorted by id.
    pub models: Vec<ReportRow>,
    /// Ids of disabled entries.
    pub disabled: Vec<String>,
    /// Scan warnings.
    pub warnings: Vec<String>,
    /// The host's plugin-api (ABI) version.
    pub plugin_api_version: &'static str,
}

/// One candidate in the report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    /// Candidate id.
    pub id: String,
    /// Plugin name.
    pub plugin: Option<String>,
    /// Plugin version.
    pub version: Option<String>,
    /// `classification`, `regression`, or both joined by `|`.
    pub task: Option<String>,
    /// `ready` or `rejected`.
    pub state: &'static str,
    /// Library path.
    pub path: Option<String>,
    /// Library sha256.
    pub sha256: Option<String>,
    /// Why it was rejected; null when ready.
    pub reason: Option<String>,
    /// One line about the candidate.
    pub description: String,
    /// Feature scaling: none, standard, minmax or robust.
    pub scale: &'static str,
    /// Categorical columns: onehot or ordinal.
    pub encode: &'static str,
    /// Missing cells: auto (median / most frequent) or none (an error).
    pub impute: &'static str,
    /// Resolved parameters of a ready candidate.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The plugin's parameter schema.
    pub params_schema: Vec<ParamSchema>,
}

/// One parameter of a candidate's plugin, as search tools and people read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamSchema {
    /// The name `models.toml` uses.
    pub name: String,
    /// float, int, bool or choice.
    pub kind: &'static str,
    /// The default value.
    pub default: serde_json::Value,
    /// Inclusive lower bound (numbers).
    pub min: Option<f64>,
    /// Inclusive upper bound (numbers).
    pub max: Option<f64>,
    /// Searched on a log scale.
    pub log_scale: bool,
    /// Allowed names (choices).
    pub choices: Vec<String>,
    /// One line.
    pub description: String,
}

impl From<&ParamSpec> for ParamSchema {
    fn from(p: &ParamSpec) -> Self {
        ParamSchema {
            name: p.name.clone(),
            kind: match p.default {
                ParamValue::Float(_) => "float",
                ParamValue::Int(_) => "int",
                ParamValue::Bool(_) => "bool",
                ParamValue::Choice(_) => "choice",
            },
            default: param_json(&p.default),
            min: p.min,
            max: p.max,
            log_scale: p.log_scale,
            choices: p.choices.clone(),
            description: p.description.clone(),
        }
    }
}
