//! How discovery opens one plugin file: inspect it (no code runs), look up
//! or run the child-process probe (verdicts cached by sha256 in the
//! store), and only then open it in this process under a watchdog.
//!
//! Must never open a file whose probe failed, or cache a verdict the probe
//! could not reach (no probe executable): that one is asked again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mlhost_plugin_api::ParamValue;

use crate::config::Config;
use std::sync::atomic::Ordering;

use crate::plugin::loader::{self, Inspected, LoadStep, Plugin, Rejection};
use crate::plugin::probe::{CtorProbe, PROBE_PROTOCOL, Prober, Verdict, Watchdog};
use crate::store::{ProbeVerdict, Store};

use super::Entry;

/// The key under which verdicts are cached: the ABI, the probe protocol and
/// the host build they were reached with.
/// The probe's limits are part of it: a verdict of "hung" or "out of
/// memory" under one limit says nothing about a higher one.
fn host_abi(prober: &Prober) -> String {
    format!(
        "{}/{PROBE_PROTOCOL}/{}/t{}/m{}",
        loader::PLUGIN_API_VERSION,
        env!("CARGO_PKG_VERSION"),
        prober.timeout.as_secs(),
        prober.max_memory_mb.unwrap_or(0)
    )
}

/// How discovery opens plugin files.
#[derive(Debug)]
pub struct Loading<'a> {
    /// Probe a file the cache does not know in a child process first.
    /// `None`: open every file in this process directly (trusted files).
    pub prober: Option<Prober>,
    /// Where probe verdicts are kept; without it every file is probed.
    pub cache: Option<&'a mut Store>,
    /// Ignore cached verdicts (they are still written).
    pub reprobe: bool,
    /// Watchdog on each in-process call into a plugin (open + info, new).
    pub watchdog: Watchdog,
    /// Folder of the private copies that are opened.
    pub image_dir: Option<PathBuf>,
    /// Problems of the cache itself, for the report's warnings.
    pub(super) warnings: Vec<String>,
}

impl Loading<'_> {
    /// Opens files in this process without a probe; private copies go
    /// beside the database.
    pub fn in_process(config: &Config) -> Loading<'static> {
        Loading {
            prober: None,
            cache: None,
            reprobe: false,
            watchdog: Watchdog::new(Duration::from_secs(config.plugins.probe_timeout_secs)),
            image_dir: Some(crate::plugin::probe::image_dir(&config.database)),
            warnings: Vec::new(),
        }
    }

    /// Probes every new file with `exe probe` first, caching verdicts in
    /// `cache`.
    pub fn probing<'s>(config: &Config, exe: PathBuf, cache: Option<&'s mut Store>) -> Loading<'s> {
        let image_dir = Some(crate::plugin::probe::image_dir(&config.database));
        Loading {
            prober: Some(Prober {
                exe,
                timeout: Duration::from_secs(config.plugins.probe_timeout_secs),
                max_memory_mb: config.eval.max_memory_mb,
                image_dir: image_dir.clone(),
            }),
            cache,
            reprobe: false,
            watchdog: Watchdog::new(Duration::from_secs(config.plugins.probe_timeout_secs)),
            image_dir,
            warnings: Vec::new(),
        }
    }

    /// Inspects one file and, with a prober, makes sure it passed its probe;
    /// on success also the one-line reasons of the constructor calls (by
    /// params key) that died in the probe. Runs none of the file's code in
    /// this process.
    pub(super) fn check_file(
        &mut self,
        path: &Path,
        ctors: &[CtorProbe],
    ) -> Result<(Inspected, BTreeMap<String, String>), Rejection> {
        let mut file = loader::inspect(path)?;
        if file.proc_macro {
            // Not a plugin: the caller skips it; nothing to stage or probe.
            return Ok((file, BTreeMap::new()));
        }
        // The copy that the probe and then this process open.
        file.stage(self.image_dir.as_deref());
        let died = match self.prober.clone() {
            Some(prober) => self.check(&prober, &file, ctors)?,
            None => BTreeMap::new(),
        };
        Ok((file, died))
    }

    /// Opens checked files in this process, in order, each under the
    /// watchdog: a file whose open or `info()` hangs is rejected and left
    /// behind, the others go on.
    pub(super) fn open_all(&mut self, files: Vec<Inspected>) -> Vec<Result<Plugin, Rejection>> {
        let started = std::time::Instant::now();
        let names: Vec<(String, String)> = files
            .iter()
            .map(|f| {
                (
                    f.sha256.clone(),
                    f.path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                )
            })
            .collect();
        let dir = self.image_dir.clone();
        // Where the call in flight is: a hang inside dlopen holds the dynamic
        // loader's lock for good (no thread can start after it, so the
        // watchdog gives up on the rest), a hang in info() does not.
        let in_dlopen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = in_dlopen.clone();
        let in_call = in_dlopen.clone();
        let opened = self.watchdog.run_each(
            files,
            move |f| {
                let mut on_step = |s: LoadStep| flag.store(s == LoadStep::Dlopen, Ordering::SeqCst);
                loader::open_observed(&f, dir.as_deref(), &mut on_step)
            },
            // A call hung inside dlopen holds the loader's lock: creating a
            // thread to go on could block this one for good.
            move || !in_call.load(Ordering::SeqCst),
        );
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(files = opened.len(), ms, "opened in the host");
        let secs = self.watchdog.limit().as_secs();
        let mut hung: Option<String> = None;
        opened
            .into_iter()
            .zip(names)
            .map(|(r, (sha256, name))| {
                r.unwrap_or_else(|| {
                    if in_dlopen.load(Ordering::SeqCst) {
                        loader::mark_wedged();
                    }
                    let reason = match &hung {
                        None => format!(
                            "hung while loading in the host (no answer within {secs} s; left behind); fix the plugin's initialization"
                        ),
                        Some(first) => format!(
                            "not loaded: {first} hung while loading in this process and may hold the loader's lock; restart without it"
                        ),
                    };
                    hung.get_or_insert(name);
                    Err(Rejection { sha256: Some(sha256), reason })
                })
            })
            .collect()
    }

    /// The probe's verdicts for `file`: cached ones, then a probe for what
    /// is not known yet (again after a constructor killed it, for the
    /// constructors it did not reach).
    fn check(
        &mut self,
        prober: &Prober,
        file: &Inspected,
        ctors: &[CtorProbe],
    ) -> Result<BTreeMap<String, String>, Rejection> {
        let abi = host_abi(prober);
        let reject = |reason: String| Rejection { sha256: Some(file.sha256.clone()), reason };
        let mut plugin = match self.cached(&file.sha256, "", &abi) {
            Some(ProbeVerdict { passed: false, reason, .. }) => {
                return Err(reject(cached(reason)));
            }
            Some(v) => v.plugin,
            None => None,
        };
        let mut died = BTreeMap::new();
        let mut todo: Vec<CtorProbe> = Vec::new();
        for c in ctors {
            let relevant = match (&plugin, &c.plugin) {
                (Some(name), Some(wanted)) => name == wanted,
                _ => true,
            };
            if !relevant {
                continue;
            }
            match self.cached(&file.sha256, &c.key(), &abi) {
                Some(ProbeVerdict { passed: false, reason, .. }) => {
                    died.insert(c.key(), cached(reason));
                }
                Some(_) => {}
                None => todo.push(c.clone()),
            }
        }
        while plugin.is_none() || !todo.is_empty() {
            let started = std::time::Instant::now();
            let report = prober.probe(file, &todo);
            tracing::debug!(
                path = %file.path.display(),
                constructors = todo.len(),
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "probed in a child"
            );
            let name = match &report.file {
                Ok(name) => name.clone(),
                Err(reason) => {
                    if report.cacheable {
                        let v = ProbeVerdict {
                            plugin: None,
                            passed: false,
                            reason: Some(reason.clone()),
                        };
                        self.remember(&file.sha256, "", &abi, &v);
                    }
                    return Err(reject(reason.clone()));
                }
            };
            let passed = ProbeVerdict { plugin: Some(name.clone()), passed: true, reason: None };
            self.remember(&file.sha256, "", &abi, &passed);
            plugin = Some(name.clone());
            todo.retain(|c| c.plugin.as_ref().is_none_or(|p| *p == name));
            for (key, verdict) in &report.ctors {
                let v = match verdict {
                    Verdict::Passed => passed.clone(),
                    Verdict::Failed(why) => {
                        died.insert(key.clone(), why.clone());
                        ProbeVerdict {
                            plugin: Some(name.clone()),
                            passed: false,
                            reason: Some(why.clone()),
                        }
                    }
                };
                self.remember(&file.sha256, key, &abi, &v);
            }
            todo.retain(|c| !report.ctors.contains_key(&c.key()));
            if report.ctors.is_empty() {
                // The probe answered for the file but reached none of the
                // constructors: asking again would not get further. What
                // is left runs in-process under the watchdog.
                break;
            }
        }
        Ok(died)
    }

    fn cached(&mut self, sha256: &str, key: &str, abi: &str) -> Option<ProbeVerdict> {
        if self.reprobe {
            return None;
        }
        let store = self.cache.as_deref()?;
        match store.probe_verdict(sha256, key, abi) {
            Ok(v) => v,
            Err(e) => {
                self.cache_failed(e);
                None
            }
        }
    }

    fn remember(&mut self, sha256: &str, key: &str, abi: &str, verdict: &ProbeVerdict) {
        let Some(store) = self.cache.as_deref_mut() else { return };
        if let Err(e) = store.record_probe(sha256, key, abi, verdict) {
            self.cache_failed(e);
        }
    }

    /// A cache that fails is dropped for the rest of the scan, said once.
    fn cache_failed(&mut self, e: crate::store::StoreError) {
        self.cache = None;
        self.warnings.push(loader::one_line(&format!(
            "probe cache unavailable, every plugin is probed: {e}"
        )));
    }
}

/// A stored rejection as the report says it: a death or hang (which may
/// depend on the moment) is marked `[cached]`, since `mlhost registry
/// --reprobe` asks again; a clean rejection of the bytes is not.
fn cached(reason: Option<String>) -> String {
    let reason = reason.unwrap_or_else(|| "rejected by its probe".into());
    if crate::plugin::probe::is_death(&reason) { format!("[cached] {reason}") } else { reason }
}

/// Params as JSON, ints staying ints.
fn params_json(given: &[(String, ParamValue)]) -> BTreeMap<String, serde_json::Value> {
    given.iter().map(|(k, v)| (k.clone(), super::param_json(v))).collect()
}

/// The cache key of a constructor call with `given` params.
pub(super) fn ctor_key(given: &[(String, ParamValue)]) -> String {
    serde_json::to_string(&params_json(given)).expect("params serialize")
}

/// The constructor calls a probe makes: each enabled entry's, and the
/// default params (a plugin no entry names gets a default candidate).
pub(super) fn ctor_probes(entries: &[Entry]) -> Vec<CtorProbe> {
    let default = CtorProbe { id: "(default)".into(), plugin: None, params: BTreeMap::new() };
    let wanted = entries.iter().filter(|e| e.enabled).map(|e| CtorProbe {
        id: e.id.clone(),
        plugin: Some(e.plugin.clone()),
        params: params_json(&e.params),
    });
    // One call per params key: a verdict is per (file, key), so two
    // plugins' entries with the same params share one call (for any plugin).
    let mut probes: Vec<CtorProbe> = Vec::new();
    for c in wanted.chain([default]) {
        match probes.iter_mut().find(|p| p.key() == c.key()) {
            Some(p) if p.plugin != c.plugin => p.plugin = None,
            Some(_) => {}
            None => probes.push(c),
        }
    }
    probes
}
