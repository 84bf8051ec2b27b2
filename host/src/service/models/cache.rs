//! Model versions kept loaded for serving: loaded on first use, kept, and
//! the least recently used one let go once more than `max_loaded` are.
//!
//! A plugin's model object is `Send` but not `Sync` (the ABI's `ModelFfi`
//! promises no more: a plugin may keep scratch space in it), so one
//! instance serves one call at a time. Each loaded version holds a small
//! pool of instances instead, built on demand from the artifact bytes read
//! (and checked) once, up to `instances` (the cores): concurrent requests
//! for one version run concurrently, one more than the pool waits for an
//! instance. An instance whose call failed (a plugin error, a caught
//! panic, or in a worker a crash or a timeout) is dropped, never reused;
//! the next call builds a fresh one.
//!
//! With `[serving] isolation = "process"` (the default) each instance is a
//! child process ([`Instance`]): a crash or a hang in predict ends that
//! child, the call answers 503, and the next call starts a fresh one.
//!
//! Requests that arrive together for a version not loaded yet load it
//! once: the first loads, the others wait for it.
//!
//! A version that cannot be loaded (its artifact missing or corrupt, its
//! plugin missing or refusing the bytes) is remembered for
//! [`RETRY_AFTER`], so a burst of requests for it does not read and hash
//! the artifact once each; it is tried again after that, or at once when
//! the plugins change (a hot reload).
//!
//! Each version keeps the registry it was loaded with, so every instance
//! of it runs on the same library even after a hot reload replaced that
//! file (libraries are never unloaded): a version stays on its library
//! until it is evicted, and is loaded again on the current one after.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::instance::{Instance, Placement};
use super::{ModelError, read_artifact};
use crate::engine::train::ModelHeader;
use crate::registry::Registry;
use crate::store::VersionRow;
use crate::store::artifacts::Artifacts;

/// Loaded versions by (name, version), least recently used first out.
#[derive(Debug)]
pub(crate) struct ModelCache {
    artifacts: Artifacts,
    max_loaded: usize,
    instances: usize,
    placement: Placement,
    entries: Mutex<Entries>,
    failed: Mutex<HashMap<Key, Failure>>,
    /// One gate per version: while one request loads it, the others for
    /// it wait and then find it loaded (or its failure), instead of each
    /// reading the artifact and starting a worker of its own.
    loading: Mutex<HashMap<Key, Arc<Mutex<()>>>>,
    /// Loads started, for the tests and the log.
    loads: std::sync::atomic::AtomicUsize,
}

/// A version: its model's name and its number.
type Key = (String, i64);

/// How long a version that failed to load answers with that failure
/// before it is tried again.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(10);

/// A load that failed: of which artifact, on which plugins, when, why.
#[derive(Debug)]
struct Failure {
    artifact: String,
    registry: Arc<Registry>,
    at: Instant,
    why: String,
}

#[derive(Debug, Default)]
struct Entries {
    /// The version and when it was last used (a tick of `clock`).
    map: HashMap<(String, i64), (Arc<Loaded>, u64)>,
    clock: u64,
}

/// One version, loaded: the checked bytes and a pool of model instances.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The version as it was loaded.
    pub(crate) row: VersionRow,
    /// Columns, labels, preparation.
    pub(crate) header: ModelHeader,
    bytes: Vec<u8>,
    /// The plugins it was loaded with (its library, for every instance).
    registry: Arc<Registry>,
    placement: Placement,
    pool: Mutex<Pool>,
    freed: Condvar,
    max: usize,
}

#[derive(Debug)]
struct Pool {
    idle: Vec<Instance>,
    /// Instances in existence: idle plus lent.
    live: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ModelCache {
    /// At most `max_loaded` versions, each with at most `instances` model
    /// instances, placed as `placement` says.
    pub(crate) fn new(
        artifacts: Artifacts,
        max_loaded: usize,
        instances: usize,
        placement: Placement,
    ) -> Self {
        ModelCache {
            artifacts,
            max_loaded: max_loaded.max(1),
            instances: instances.max(1),
            placement,
            entries: Mutex::default(),
            failed: Mutex::default(),
            loading: Mutex::default(),
            loads: Default::default(),
        }
    }

    /// Version `row`, loaded with `registry`'s plugins unless it is loaded
    /// already. A version that cannot be loaded is not kept; the failure
    /// is remembered (see the module).
    pub(crate) fn get(
        &self,
        registry: &Arc<Registry>,
        row: &VersionRow,
    ) -> Result<Arc<Loaded>, ModelError> {
        let key = (row.name.clone(), row.version);
        if let Some(hit) = self.touch(&key, &row.artifact) {
            return Ok(hit);
        }
        let gate = lock(&self.loading).entry(key.clone()).or_default().clone();
        let _turn = lock(&gate);
        if let Some(hit) = self.touch(&key, &row.artifact) {
            return Ok(hit); // loaded by the request this one waited for
        }
        self.recent_failure(&key, registry, &row.artifact)?;
        let started = Instant::now();
        self.loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let loaded = self.load(registry, row).inspect_err(|e| {
            if let ModelError::Unavailable(why) = e {
                let failure = Failure {
                    artifact: row.artifact.clone(),
                    registry: registry.clone(),
                    at: Instant::now(),
                    why: why.clone(),
                };
                let mut failed = lock(&self.failed);
                failed.retain(|_, f| f.at.elapsed() < RETRY_AFTER);
                failed.insert(key.clone(), failure);
            }
        })?;
        lock(&self.failed).remove(&key);
        tracing::info!(
            model = %row.name,
            version = row.version,
            plugin = %loaded.header.plugin,
            placement = if matches!(self.placement, Placement::InProcess) { "in process" } else { "child process" },
            ms = started.elapsed().as_secs_f64() * 1e3,
            "model loaded for serving"
        );
        Ok(self.insert(key, loaded))
    }

    /// The remembered failure to load `key` (same artifact, same plugins,
    /// under [`RETRY_AFTER`] ago), if any.
    fn recent_failure(
        &self,
        key: &(String, i64),
        registry: &Arc<Registry>,
        artifact: &str,
    ) -> Result<(), ModelError> {
        let failed = lock(&self.failed);
        match failed.get(key) {
            Some(f)
                if f.artifact == artifact
                    && Arc::ptr_eq(&f.registry, registry)
                    && f.at.elapsed() < RETRY_AFTER =>
            {
                Err(ModelError::Unavailable(format!(
                    "{} (failed {:.1} s ago; tried again {} s after a failure, or when the plugins change)",
                    f.why,
                    f.at.elapsed().as_secs_f64(),
                    RETRY_AFTER.as_secs()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Reads, checks and loads version `row` with its first instance.
    fn load(&self, registry: &Arc<Registry>, row: &VersionRow) -> Result<Arc<Loaded>, ModelError> {
        let (header, bytes) = read_artifact(&self.artifacts, row)?;
        let first = Instance::build(&self.placement, registry, row, &header, &bytes)?;
        Ok(Arc::new(Loaded {
            row: row.clone(),
            header,
            bytes,
            registry: registry.clone(),
            placement: self.placement.clone(),
            pool: Mutex::new(Pool { idle: vec![first], live: 1 }),
            freed: Condvar::new(),
            max: self.instances,
        }))
    }

    /// The loaded version under `key`, marked as just used, when it is
    /// the artifact asked for.
    fn touch(&self, key: &(String, i64), artifact: &str) -> Option<Arc<Loaded>> {
        let mut e = lock(&self.entries);
        e.clock += 1;
        let now = e.clock;
        let (loaded, used) = e.map.get_mut(key)?;
        if loaded.row.artifact != artifact {
            return None;
        }
        *used = now;
        Some(loaded.clone())
    }

    /// Keeps `loaded` (or the one another request loaded meanwhile) and
    /// lets go of the least recently used versions past `max_loaded`.
    fn insert(&self, key: (String, i64), loaded: Arc<Loaded>) -> Arc<Loaded> {
        let mut e = lock(&self.entries);
        e.clock += 1;
        let now = e.clock;
        if let Some((kept, used)) = e.map.get_mut(&key)
            && kept.row.artifact == loaded.row.artifact
        {
            *used = now;
            return kept.clone();
        }
        e.map.insert(key, (loaded.clone(), now));
        let mut evicted = Vec::new();
        while e.map.len() > self.max_loaded {
            let oldest = e.map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            evicted.extend(e.map.remove(&k));
            tracing::info!(model = %k.0, version = k.1, "model evicted from the serving cache (least recently used)");
        }
        drop(e);
        // Dropped out of the lock: letting a version go stops its worker
        // processes, and no other request should wait for that.
        drop(evicted);
        loaded
    }

    /// Loads started so far (a version loaded once per first use, however
    /// many requests arrived at once).
    pub(crate) fn loads(&self) -> usize {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `(name, version, instances)` of every loaded version, sorted.
    pub(crate) fn loaded(&self) -> Vec<(String, i64, usize)> {
        let e = lock(&self.entries);
        let mut out: Vec<_> =
            e.map.iter().map(|((n, v), (l, _))| (n.clone(), *v, lock(&l.pool).live)).collect();
        out.sort();
        out
    }
}

impl Loaded {
    /// An instance to call, for as long as the lease lives: an idle one, a
    /// new one while the pool has room, else the next one given back.
    pub(crate) fn checkout(&self) -> Result<Lease<'_>, ModelError> {
        let mut pool = lock(&self.pool);
        loop {
            if let Some(p) = pool.idle.pop() {
                return Ok(Lease { from: self, model: Some(p) });
            }
            if pool.live < self.max {
                pool.live += 1;
                drop(pool);
                let built = Instance::build(
                    &self.placement,
                    &self.registry,
                    &self.row,
                    &self.header,
                    &self.bytes,
                );
                return match built {
                    Ok(p) => Ok(Lease { from: self, model: Some(p) }),
                    Err(e) => {
                        self.gone();
                        Err(e)
                    }
                };
            }
            pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// One instance fewer (it failed, or could not be built).
    fn gone(&self) {
        lock(&self.pool).live -= 1;
        self.freed.notify_one();
    }
}

/// An instance lent out of a pool; given back when dropped.
#[derive(Debug)]
pub(crate) struct Lease<'a> {
    from: &'a Loaded,
    model: Option<Instance>,
}

impl Lease<'_> {
    /// Drops the instance instead of giving it back: its call failed, and
    /// what a failed (or panicked) call left in it is unknown.
    pub(crate) fn discard(mut self) {
        self.model = None;
        self.from.gone();
    }
}

impl Deref for Lease<'_> {
    type Target = Instance;
    fn deref(&self) -> &Instance {
        self.model.as_ref().expect("a lease holds its instance until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.model.take() {
            lock(&self.from.pool).idle.push(p);
            self.from.freed.notify_one();
        }
    }
}
