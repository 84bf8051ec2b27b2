//! What commands that run or read stored work share: the session a run
//! opens (run context with Ctrl-C, probed registry, store, relay), the
//! registry every command sees, and how engine errors become exit codes.

use super::BadInput;
use crate::config::Config;
use crate::registry::Registry;
use crate::store::Store;

/// An engine error as the CLI reports it: bad input exits 2, the rest 1.
pub(super) fn engine_error(e: crate::engine::EvalError) -> anyhow::Error {
    use crate::engine::EvalError;
    match e {
        EvalError::BadInput(msg) => BadInput::Other(msg).into(),
        EvalError::Store(e) => e.into(),
        EvalError::Host(e) => anyhow::anyhow!(e),
    }
}

/// What a command that runs jobs opens: the run context (Ctrl-C cancels
/// it cleanly: running jobs stop and become cancelled, queued ones do not
/// start, and the run can be resumed), the probed registry, the store and,
/// when Redis is configured, the outbox relay.
pub(super) struct Session {
    pub(super) ctx: crate::engine::RunContext,
    pub(super) registry: Registry,
    pub(super) store: Store,
    pub(super) relay: Option<crate::service::relay::Relay>,
}

impl Session {
    pub(super) fn open(config: &Config) -> anyhow::Result<Session> {
        let ctx = crate::service::runs::context(std::env::current_exe()?, &config.database, None);
        let cancel = ctx.cancel.clone();
        super::signals::on_stop(move || cancel.stop());
        let registry = discover(config, false)?;
        refuse_if_wedged(&registry)?;
        let store = Store::open(&config.database)?;
        let relay = relay_config(config)
            .map(|cfg| crate::service::relay::Relay::spawn(config.database.clone(), cfg));
        Ok(Session { ctx, registry, store, relay })
    }

    /// Publishes what the relay still holds.
    pub(super) fn finish_relay(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.finish();
        }
    }
}

/// The registry as every command sees it (`registry::discover_probed`).
pub(super) fn discover(config: &Config, reprobe: bool) -> anyhow::Result<Registry> {
    let exe = std::env::current_exe()?;
    Ok(crate::registry::discover_probed(config, exe, reprobe).map_err(BadInput::Config)?)
}

/// After a plugin hung inside dlopen, this process cannot start a thread
/// (each one waits on the loader's lock): `registry` can still report, a
/// run or a server cannot start.
pub(super) fn refuse_if_wedged(registry: &Registry) -> anyhow::Result<()> {
    if !crate::plugin::loader::wedged() {
        return Ok(());
    }
    let culprit = registry
        .candidates
        .iter()
        .find(|c| c.reason().is_some_and(|r| r.starts_with("hung while loading in the host")))
        .map_or_else(|| "a plugin".to_owned(), |c| format!("plugin file '{}'", c.id));
    anyhow::bail!(
        "{culprit} hung inside the dynamic loader in this process, which can start no threads now; remove it and run again (`mlhost registry` shows it)"
    )
}

pub(super) fn relay_config(config: &Config) -> Option<crate::service::relay::RelayConfig> {
    Some(crate::service::relay::RelayConfig {
        redis_url: config.events.redis_url.clone()?,
        stream: config.events.stream.clone(),
        maxlen: config.events.maxlen,
    })
}
