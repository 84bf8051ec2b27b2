//! Planning: which trials a run has. A trial is one job: one candidate,
//! one concrete parameter set, the run's protocol. A candidate that cannot
//! run (rejected, another task, gone from the registry) is still a trial,
//! planned as refused, so the run records why.

use std::sync::Arc;

use mlhost_plugin_api::{Params, Task};

use super::run::EvalError;
use crate::data::dataset::{Dataset, Target};
use crate::data::prep::PrepSpec;
use crate::domain::{JobId, JobStatus, RunSpec};
use crate::plugin::loader::Plugin;
use crate::registry::{Candidate, Registry, State};
use crate::store::{JobRow, NewJob};

/// What a trial will do.
pub(crate) enum Planned {
    /// Run the plugin with these params.
    Run { plugin: Arc<Plugin>, params: Params, prep: PrepSpec },
    /// Record this reason instead.
    Refused(String),
}

/// One job of a run.
pub(crate) struct Trial {
    pub(crate) job_id: JobId,
    pub(crate) model_id: String,
    pub(crate) version: String,
    pub(crate) params_json: String,
    pub(crate) plan: Planned,
}

impl Trial {
    /// The row [`crate::store::Store::create_run`] stores.
    pub(crate) fn new_job(&self) -> NewJob {
        NewJob {
            job_id: self.job_id.clone(),
            model_id: self.model_id.clone(),
            model_version: self.version.clone(),
            params_json: self.params_json.clone(),
        }
    }
}

/// One trial per chosen candidate with the params the registry resolved.
pub(crate) fn plan(
    registry: &Registry,
    spec: &RunSpec,
    task: Task,
) -> Result<Vec<Trial>, EvalError> {
    let known = || registry.candidates.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ");
    let chosen: Vec<&Candidate> = if spec.models.is_empty() {
        let fitting: Vec<_> = registry.ready().filter(|c| c.tasks.contains(&task)).collect();
        if fitting.is_empty() {
            return Err(EvalError::BadInput(format!(
                "no ready candidate can do {task}; `mlhost registry` shows what is there"
            )));
        }
        fitting
    } else {
        let mut picked = Vec::new();
        for id in &spec.models {
            let c = registry.candidates.iter().find(|c| &c.id == id).ok_or_else(|| {
                EvalError::BadInput(format!("unknown model '{id}'; the candidates are {}", known()))
            })?;
            picked.push(c);
        }
        picked
    };
    Ok(chosen
        .into_iter()
        .map(|c| {
            let plan = plan_candidate(c, task);
            Trial {
                job_id: JobId::generate(),
                model_id: c.id.clone(),
                version: c.version.clone().unwrap_or_default(),
                params_json: params_json(&plan),
                plan,
            }
        })
        .collect())
}

/// The trials of a stored run that did not succeed, planned again.
pub(crate) fn plan_resume(registry: &Registry, jobs: Vec<JobRow>, task: Task) -> Vec<Trial> {
    jobs.into_iter()
        .filter(|j| j.status != JobStatus::Succeeded)
        .map(|j| {
            let plan = match registry.candidates.iter().find(|c| c.id == j.model_id) {
                None => {
                    Planned::Refused(format!("model '{}' is no longer in the registry", j.model_id))
                }
                Some(c) if c.version.as_deref().is_some_and(|v| v != j.model_version) => {
                    Planned::Refused(format!(
                        "plugin version changed: the run used {}, the registry has {}; start a new run",
                        j.model_version,
                        c.version.as_deref().unwrap_or("?")
                    ))
                }
                Some(c) => match plan_candidate(c, task) {
                    // A trial is one parameter set: resuming it with others
                    // would store results under params they did not use.
                    // ('{}': a job from before trials recorded params.)
                    plan if j.params_json != "{}" && params_json(&plan) != j.params_json => {
                        Planned::Refused(format!(
                            "parameters changed in models.toml: the run used {}, the registry has {}; start a new run",
                            j.params_json,
                            params_json(&plan)
                        ))
                    }
                    plan => plan,
                },
            };
            Trial {
                job_id: j.id,
                model_id: j.model_id,
                version: j.model_version,
                params_json: j.params_json,
                plan,
            }
        })
        .collect()
}

fn plan_candidate(c: &Candidate, task: Task) -> Planned {
    match &c.state {
        State::Rejected { reason } => Planned::Refused(format!("rejected: {reason}")),
        State::Ready { .. } if !c.tasks.contains(&task) => Planned::Refused(format!(
            "plugin '{}' does {}, but this dataset is {task}; choose another dataset or force the task with --task",
            c.plugin.as_deref().unwrap_or("?"),
            c.tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" and ")
        )),
        State::Ready { plugin, params } => {
            Planned::Run { plugin: plugin.clone(), params: params.clone(), prep: c.prep }
        }
    }
}

fn params_json(plan: &Planned) -> String {
    match plan {
        Planned::Run { params, .. } => {
            serde_json::to_string(&crate::plugin::wire::params_json(params))
                .expect("params serialize")
        }
        Planned::Refused(_) => "{}".to_owned(),
    }
}

/// The positive class code: the one named, or the greater label.
pub(crate) fn pos_label(data: &Dataset, wanted: Option<&str>) -> Result<u32, EvalError> {
    let Target::Classes { labels, .. } = &data.target else { return Ok(0) };
    match wanted {
        None => Ok(labels.len().saturating_sub(1) as u32),
        Some(_) if labels.len() != 2 => Err(EvalError::BadInput(format!(
            "--pos-label applies to two classes; {} has {}",
            data.source,
            labels.len()
        ))),
        Some(w) => labels.iter().position(|l| l == w).map(|p| p as u32).ok_or_else(|| {
            EvalError::BadInput(format!(
                "--pos-label {w:?} is not a label of {}; the labels are {}",
                data.source,
                labels.join(", ")
            ))
        }),
    }
}

/// `--fairness-col` checks binary predictions: any other task is refused
/// before anything is stored.
pub(crate) fn check_fairness(spec: &RunSpec, data: &Dataset) -> Result<(), EvalError> {
    let Some(col) = &spec.fairness_col else { return Ok(()) };
    let has = match data.n_classes() {
        2 => return Ok(()),
        0 => "a regression target".to_owned(),
        k => format!("{k} classes"),
    };
    Err(EvalError::BadInput(format!(
        "--fairness-col {col}: the bias check is for binary classification, and {} has {has}",
        data.source
    )))
}
