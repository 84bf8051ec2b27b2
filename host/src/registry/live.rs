//! The registry a long-running process serves from, replaceable while it
//! runs (`serve`'s plugin watcher puts each fresh scan in place), and the
//! probed scan every command and the watcher use.
//!
//! A reader takes the current registry once ([`LiveRegistry::current`])
//! and keeps that `Arc` for as long as its work lasts: a reload never
//! changes the plugins under a call in flight, and libraries are never
//! unloaded, so a model built on a replaced library keeps working.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Loading, Registry};
use crate::config::{Config, ConfigError};
use crate::store::Store;

/// The registry as it is now.
#[derive(Debug)]
pub struct LiveRegistry {
    current: RwLock<Arc<Registry>>,
    reloads: AtomicU64,
}

impl LiveRegistry {
    /// Serves `registry` until it is replaced.
    pub fn new(registry: Registry) -> Self {
        LiveRegistry { current: RwLock::new(Arc::new(registry)), reloads: AtomicU64::new(0) }
    }

    /// The registry now; keep it for the whole of one piece of work.
    pub fn current(&self) -> Arc<Registry> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `registry` in place of the current one, which it returns.
    pub fn replace(&self, registry: Registry) -> Arc<Registry> {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        self.reloads.fetch_add(1, Ordering::SeqCst);
        std::mem::replace(&mut *current, Arc::new(registry))
    }

    /// How many times it was replaced.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::SeqCst)
    }
}

/// The registry as every command sees it: each plugin file the database
/// has no verdict for is probed in a child `exe probe` before this process
/// opens it (`reprobe`: ask again whatever the cache says). A database that
/// cannot be opened only costs the cache, with a warning in the report.
pub fn discover_probed(
    config: &Config,
    exe: PathBuf,
    reprobe: bool,
) -> Result<Registry, ConfigError> {
    let mut store = Store::open(&config.database);
    let (cache, unavailable) = match &mut store {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let mut loading = Loading::probing(config, exe, cache);
    loading.reprobe = reprobe;
    let mut registry = Registry::discover_with(config, &mut loading)?;
    if let Some(e) = unavailable {
        registry.warnings.push(format!("probe cache unavailable, every plugin was probed: {e}"));
    }
    Ok(registry)
}

/// What changed between two scans, by plugin file: `(added, replaced,
/// removed)` paths (replaced: the same path with other bytes).
pub fn changes(old: &Registry, new: &Registry) -> (Vec<String>, Vec<String>, Vec<String>) {
    let files = |r: &Registry| -> std::collections::BTreeMap<String, Option<String>> {
        r.candidates
            .iter()
            .filter_map(|c| Some((c.path.as_ref()?.display().to_string(), c.sha256.clone())))
            .collect()
    };
    let (before, after) = (files(old), files(new));
    let added = after.keys().filter(|p| !before.contains_key(*p)).cloned().collect();
    let replaced = after
        .iter()
        .filter(|(p, sha)| before.get(*p).is_some_and(|old| old != *sha))
        .map(|(p, _)| p.clone())
        .collect();
    let removed = before.keys().filter(|p| !after.contains_key(*p)).cloned().collect();
    (added, replaced, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_the_registry_it_took() {
        let live = LiveRegistry::new(Registry::default());
        let taken = live.current();
        let mut next = Registry::default();
        next.warnings.push("second scan".into());
        let old = live.replace(next);
        assert!(Arc::ptr_eq(&taken, &old), "the replaced one is the one readers hold");
        assert!(taken.warnings.is_empty());
        assert_eq!(live.current().warnings, ["second scan"]);
        assert_eq!(live.reloads(), 1);
    }
}
