//! `tune --resume`: the stored trials of a study back into its `Study`,
//! each point in the space's order, each curve from its stored epochs;
//! the trials that had not ended are handed back to run again.

use mlhost_plugin_api::ParamValue;

use super::{Tuned, feed};
use crate::domain::{StudyId, StudySpec, TrialStatus};
use crate::engine::run::EvalError;
use crate::search::prune::Curve;
use crate::search::sample::Point;
use crate::search::space::Space;
use crate::search::study::{Study, Trial, TrialState};
use crate::store::Store;

/// Puts the stored trials of study `id` back into `study`; returns those
/// that had not ended (they run again, with their own job ids).
pub(super) fn restore(
    store: &mut Store,
    id: &StudyId,
    spec: &StudySpec,
    tuned: &Tuned,
    space: &Space,
    study: &mut Study,
    context: &str,
) -> Result<Vec<(usize, crate::domain::JobId)>, EvalError> {
    let bad = |m: String| EvalError::BadInput(format!("{context}{m}"));
    let row = store.study(id)?.expect("the study exists");
    let jobs = store.jobs(&row.run_id)?;
    let mut again = Vec::new();
    for t in store.trials(id)? {
        let number = t.number as usize;
        let point = point_from_json(&t.params_json, space).map_err(&bad)?;
        let job = jobs.iter().find(|j| j.id == t.job_id).expect("a trial's job exists");
        if job.model_version != tuned.version {
            return Err(bad(format!(
                "plugin version changed: the study used {}, the registry has {}; start a new study",
                job.model_version, tuned.version
            )));
        }
        let params = feed::params_json(&tuned.params(&point));
        if params != job.params_json {
            return Err(bad(format!(
                "parameters changed in models.toml: trial {number} ran with {}, it would now run with {params}; start a new study",
                job.params_json
            )));
        }
        let state = match t.state {
            TrialStatus::Complete => {
                let values: Vec<f64> =
                    serde_json::from_str(t.values_json.as_deref().unwrap_or("null"))
                        .map_err(|e| bad(format!("trial {number} has unreadable values: {e}")))?;
                TrialState::Complete(values)
            }
            TrialStatus::Pruned => TrialState::Pruned,
            TrialStatus::Failed => TrialState::Failed,
            TrialStatus::Running => {
                // Run again from its start: epochs of the attempt that
                // died would otherwise outlive what the new one reports.
                store.forget_epochs(&t.job_id)?;
                again.push((number, t.job_id.clone()));
                TrialState::Running
            }
        };
        let curves = curves(store, &t.job_id, &spec.prune_on)?;
        study.restore(Trial::restored(number, point, state, curves));
    }
    Ok(again)
}

/// A job's stored per-fold curves of `prune_on`.
fn curves(store: &Store, job_id: &str, prune_on: &str) -> Result<Vec<Curve>, EvalError> {
    let mut out: Vec<Curve> = Vec::new();
    for e in store.epochs(job_id)? {
        let Some(v) = e.metrics().ok().and_then(|m| m.get(prune_on)) else { continue };
        let fold = e.fold.max(0) as usize;
        if out.len() <= fold {
            out.resize_with(fold + 1, Curve::default);
        }
        out[fold].values.insert(e.epoch.max(0) as u32, v);
    }
    Ok(out)
}

/// A stored point (`{name: value}`) in the space's order.
fn point_from_json(text: &str, space: &Space) -> Result<Point, String> {
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("a stored trial is unreadable: {e}"))?;
    let values = crate::plugin::wire::params_from_json(&map)?;
    space
        .dims
        .iter()
        .map(|d| {
            let v = values.iter().find(|(n, _)| *n == d.name).map(|(_, v)| v.clone());
            let v = v.ok_or_else(|| format!("a stored trial has no value for '{}'", d.name))?;
            // JSON cannot tell 2.0 from 2: a float dimension reads a float.
            Ok((
                d.name.clone(),
                match (&d.domain, v) {
                    (crate::search::space::Domain::Float { .. }, ParamValue::Int(i)) => {
                        ParamValue::Float(i as f64)
                    }
                    (_, v) => v,
                },
            ))
        })
        .collect()
}
