//! How a plugin and its `models.toml` entry become a candidate: judged
//! first without running the plugin (the pin, the params, the probe's
//! verdict), then by building one model of each, all under the watchdog,
//! so a constructor that fails or hangs rejects only its candidate.

use std::sync::Arc;

use mlhost_plugin_api::{ParamValue, Params};

use super::{Candidate, State};
use crate::data::prep::PrepSpec;
use crate::plugin::loader::{self, Plugin};
use crate::plugin::probe::Watchdog;

/// A candidate of `plugin` as far as it can be judged without running the
/// plugin: the pin, the params, and the probe's verdict on its constructor.
/// When it needs a trial construction, the plugin comes back beside it and
/// the state holds the resolved params for now.
/// A candidate's params as written, and the `models.toml` line they are on.
pub(super) struct Given<'a> {
    pub(super) params: &'a [(String, ParamValue)],
    pub(super) line: Option<usize>,
}

pub(super) fn prepare(
    id: String,
    plugin: &Arc<Plugin>,
    given: Given<'_>,
    pin: Option<&str>,
    description: &str,
    prep: PrepSpec,
    crashed: Option<String>,
) -> (Candidate, Option<Arc<Plugin>>) {
    let check = || -> Result<Params, String> {
        if let Some(pin) = pin
            && pin != plugin.sha256
        {
            // Prefixes keep the reason one line; the report has the full sha256.
            return Err(format!(
                "sha256 does not match the registry pin: pinned {}…, file has {}…; rebuild the pinned version or update the pin to the file's sha256",
                &pin[..12],
                &plugin.sha256[..12]
            ));
        }
        let params = plugin
            .info
            .resolve(given.params.iter().map(|(k, v)| (k.as_str(), v)))
            .map_err(|e| {
                let at = given.line.map_or_else(String::new, |n| {
                    format!("; fix `params` at models.toml line {n}")
                });
                format!("parameters invalid: {e}{at}")
            })?;
        // A constructor that crashed in the probe is not called again.
        crashed.clone().map_or(Ok(params), Err)
    };
    let (state, trial) = match check() {
        Ok(params) => {
            (State::Ready { plugin: Arc::clone(plugin), params }, Some(Arc::clone(plugin)))
        }
        Err(reason) => (State::Rejected { reason: loader::one_line(&reason) }, None),
    };
    let c = Candidate {
        id,
        plugin: Some(plugin.info.name.clone()),
        version: Some(plugin.info.version.clone()),
        tasks: plugin.info.tasks.clone(),
        path: Some(plugin.path.clone()),
        sha256: Some(plugin.sha256.clone()),
        description: if description.is_empty() {
            plugin.info.description.clone()
        } else {
            description.to_owned()
        },
        prep,
        schema: plugin.info.params.clone(),
        fixed: given.params.iter().map(|(name, _)| name.clone()).collect(),
        state,
    };
    (c, trial)
}

/// Builds one model per prepared candidate, as a trial, so a failing
/// constructor is caught now, not mid-run: all in one batch under the
/// watchdog, so one that hangs is left behind and only its candidate is
/// rejected.
pub(super) fn trial_constructions(
    pending: Vec<(Candidate, Option<Arc<Plugin>>)>,
    watchdog: &mut Watchdog,
) -> Vec<Candidate> {
    let calls: Vec<(usize, Arc<Plugin>, Params)> = pending
        .iter()
        .enumerate()
        .filter_map(|(i, (c, plugin))| match (&c.state, plugin) {
            (State::Ready { params, .. }, Some(p)) => Some((i, Arc::clone(p), params.clone())),
            _ => None,
        })
        .collect();
    let at: Vec<usize> = calls.iter().map(|(i, ..)| *i).collect();
    if loader::wedged() {
        // A plugin hung inside dlopen holds the loader's lock: no new thread
        // can start, so no trial construction can run.
        let mut out: Vec<Candidate> = pending.into_iter().map(|(c, _)| c).collect();
        for i in at {
            out[i].state = State::Rejected {
                reason: "not built: another plugin hung inside the dynamic loader in this process; remove it and run again".to_owned(),
            };
        }
        return out;
    }
    let build = |(_, p, params): (usize, Arc<Plugin>, Params)| {
        p.new_model(&params).map(drop).map_err(|e| match e.kind() {
            mlhost_plugin_api::ErrorKind::Panicked => e.message().to_owned(),
            mlhost_plugin_api::ErrorKind::InvalidParam => format!("parameters invalid: {e}"),
            _ => format!("constructor failed: {e}"),
        })
    };
    let built = watchdog.run_each(calls, build, || !loader::wedged());
    let secs = watchdog.limit().as_secs();
    let mut out: Vec<Candidate> = pending.into_iter().map(|(c, _)| c).collect();
    for (i, result) in at.into_iter().zip(built) {
        let failed = match result {
            Some(Ok(())) => continue,
            Some(Err(why)) => why,
            None => format!(
                "constructor hung: new() did not return within {secs} s (left behind); fix the plugin's new()"
            ),
        };
        out[i].state = State::Rejected { reason: loader::one_line(&failed) };
    }
    out
}
