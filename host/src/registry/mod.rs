//! The candidate registry: every `*.so` found in `plugin_dirs` plus the
//! entries of `models.toml`, each either ready to evaluate or rejected with a
//! reason, and the report operators read.
//!
//! Owns how entries and discovered plugins become candidates; the
//! `models.toml` format is `entries`, how one file is opened `loading`, how
//! a plugin and its entry become a checked candidate `candidates`, the
//! report `report`. Must never load a library itself (that is `loader`), and
//! one bad file or entry must never hide the others.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlhost_plugin_api::{ParamSpec, ParamValue, Params, Task};

use crate::config::{Config, ConfigError};
use crate::data::prep::PrepSpec;
use crate::plugin::loader::{self, Plugin};

mod candidates;
mod entries;
pub mod live;
mod loading;
mod report;
pub mod watch;

pub use crate::plugin::wire::param_json;
use candidates::{Given, prepare, trial_constructions};
pub use entries::{Entry, parse_entries, read_entries};
pub use live::{LiveRegistry, discover_probed};
pub use loading::Loading;
use loading::{ctor_key, ctor_probes};
pub use report::{ParamSchema, Report, ReportRow};

/// Reasons of constructor calls that died in a probe, by (plugin name,
/// params key).
type Crashed = HashMap<(String, String), String>;

/// Whether a candidate can be evaluated.
#[derive(Debug, Clone)]
pub enum State {
    /// Loaded, params valid, a model was built.
    Ready {
        /// The loaded plugin.
        plugin: Arc<Plugin>,
        /// Resolved parameters (schema defaults filled in).
        params: Params,
    },
    /// Unusable; the reason says why and what to do.
    Rejected {
        /// One line.
        reason: String,
    },
}

/// One row of the registry.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Candidate id.
    pub id: String,
    /// Plugin name, when the file could be loaded.
    pub plugin: Option<String>,
    /// Plugin version.
    pub version: Option<String>,
    /// The tasks the plugin can do.
    pub tasks: Vec<Task>,
    /// The library file, when there is one.
    pub path: Option<PathBuf>,
    /// sha256 of the library file.
    pub sha256: Option<String>,
    /// Entry description, else the plugin's.
    pub description: String,
    /// Data preparation applied by the host (scale, encode, impute).
    pub prep: PrepSpec,
    /// The plugin's parameter schema (empty when no plugin loaded).
    pub schema: Vec<ParamSpec>,
    /// The parameters its `models.toml` entry sets: a study keeps them
    /// as they are unless `--param` names them.
    pub fixed: Vec<String>,
    /// Ready or rejected.
    pub state: State,
}

impl Candidate {
    /// The reason, when rejected.
    pub fn reason(&self) -> Option<&str> {
        match &self.state {
            State::Rejected { reason } => Some(reason),
            State::Ready { .. } => None,
        }
    }
}

/// Every candidate, plus what an operator should know about the scan.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Sorted by id.
    pub candidates: Vec<Candidate>,
    /// Ids of disabled entries.
    pub disabled: Vec<String>,
    /// Things that are not errors but deserve a look (an empty plugin dir).
    pub warnings: Vec<String>,
}

impl Registry {
    /// Scans `config.plugin_dirs` and opens every `*.so` in this process
    /// without probing it in a child first: a plugin whose ELF constructor
    /// crashes takes the caller down. For tests and benches on files you
    /// built; the `mlhost` commands use [`Registry::discover_with`] and
    /// [`Loading::probing`].
    pub fn discover_unprobed(config: &Config) -> Result<Registry, ConfigError> {
        Self::discover_with(config, &mut Loading::in_process(config))
    }

    /// Scans `config.plugin_dirs`, loads every `*.so` one at a time (a new
    /// file is probed in a child process first when `loading` has a
    /// prober), and resolves `models.toml` against what loaded. Only an
    /// invalid registry file is an error; every plugin problem becomes a
    /// rejected row.
    pub fn discover_with(
        config: &Config,
        loading: &mut Loading<'_>,
    ) -> Result<Registry, ConfigError> {
        let entries =
            if config.registry.exists() { read_entries(&config.registry)? } else { Vec::new() };
        let mut reg = Registry::default();
        if !config.registry.exists() {
            reg.warnings.push(format!(
                "no registry file at {}; every plugin gets one candidate with default params",
                config.registry.display()
            ));
        }
        let files = reg.scan(&config.plugin_dirs);
        let (plugins, crashed) = reg.load_plugins(files, &entries, loading);
        reg.warnings.append(&mut loading.warnings);
        let referenced: HashSet<&str> = entries.iter().map(|e| e.plugin.as_str()).collect();
        let entry_ids: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let died = |p: &Plugin, given: &[(String, ParamValue)]| {
            crashed.get(&(p.info.name.clone(), ctor_key(given))).cloned()
        };
        // Every candidate's pin and params are checked here; the trial
        // constructions then run as one batch under the watchdog.
        let mut pending: Vec<(Candidate, Option<Arc<Plugin>>)> = Vec::new();
        for entry in &entries {
            if !entry.enabled {
                reg.disabled.push(entry.id.clone());
                continue;
            }
            let plugin = plugins.iter().find(|p| p.info.name == entry.plugin);
            pending.push(match plugin {
                Some(p) => prepare(
                    entry.id.clone(),
                    p,
                    Given { params: &entry.params, line: Some(entry.params_line) },
                    entry.sha256.as_deref(),
                    &entry.description,
                    entry.prep,
                    died(p, &entry.params),
                ),
                None => {
                    let reason = missing_plugin(entry, &plugins, &config.plugin_dirs);
                    let c = Candidate {
                        id: entry.id.clone(),
                        plugin: Some(entry.plugin.clone()),
                        version: None,
                        tasks: Vec::new(),
                        path: None,
                        sha256: None,
                        description: entry.description.clone(),
                        prep: entry.prep,
                        schema: Vec::new(),
                        fixed: Vec::new(),
                        state: State::Rejected { reason: loader::one_line(&reason) },
                    };
                    (c, None)
                }
            });
        }
        for p in &plugins {
            if referenced.contains(p.info.name.as_str()) {
                continue;
            }
            if entry_ids.contains(p.info.name.as_str()) {
                reg.warnings.push(format!(
                    "plugin '{}' gets no default candidate: a models.toml entry already uses that id",
                    p.info.name
                ));
                continue;
            }
            let id = p.info.name.clone();
            let given = Given { params: &[], line: None };
            pending.push(prepare(id, p, given, None, "", PrepSpec::default(), died(p, &[])));
        }
        reg.candidates.extend(trial_constructions(pending, &mut loading.watchdog));
        reg.candidates.sort_by(|a, b| a.id.cmp(&b.id));
        reg.log();
        Ok(reg)
    }

    /// One INFO line per candidate: discovered (ready) or rejected, why.
    fn log(&self) {
        for c in &self.candidates {
            let path = c.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            match c.reason() {
                None => tracing::info!(
                    model = %c.id,
                    plugin = c.plugin.as_deref().unwrap_or(""),
                    version = c.version.as_deref().unwrap_or(""),
                    path,
                    "plugin discovered"
                ),
                Some(reason) => tracing::info!(
                    model = %c.id,
                    plugin = c.plugin.as_deref().unwrap_or(""),
                    path,
                    reason,
                    "plugin rejected"
                ),
            }
        }
        for w in &self.warnings {
            tracing::info!(warning = %w, "registry");
        }
    }

    /// Checks every file (probe), opens those that passed as one batch,
    /// and keeps one plugin per name; the rest become rejected rows. Also
    /// gives the reasons of constructor calls that died in a probe, by
    /// (plugin name, params key).
    fn load_plugins(
        &mut self,
        files: Vec<PathBuf>,
        entries: &[Entry],
        loading: &mut Loading<'_>,
    ) -> (Vec<Arc<Plugin>>, Crashed) {
        let probes = ctor_probes(entries);
        let mut checked = Vec::new();
        for file in files {
            match loading.check_file(&file, &probes) {
                Ok((inspected, _)) if inspected.proc_macro => {
                    tracing::debug!(file = %file.display(), "skipped: a Rust proc-macro library, not a plugin");
                }
                Ok((inspected, died)) => checked.push((file, inspected, died)),
                Err(r) => self.candidates.push(file_rejection(&file, r.sha256, r.reason)),
            }
        }
        let inspected = checked.iter().map(|(_, i, _)| i.clone()).collect();
        let opened = loading.open_all(inspected);
        let mut plugins: Vec<Arc<Plugin>> = Vec::new();
        let mut crashed = HashMap::new();
        for ((file, _, died), result) in checked.into_iter().zip(opened) {
            let p = match result {
                Ok(p) => p,
                Err(r) => {
                    self.candidates.push(file_rejection(&file, r.sha256, r.reason));
                    continue;
                }
            };
            if let Some(first) = plugins.iter().find(|q| q.info.name == p.info.name) {
                let reason = format!(
                    "duplicate plugin name '{}': {} already provides it; remove one of the files",
                    p.info.name,
                    first.path.display()
                );
                self.candidates.push(file_rejection(&file, Some(p.sha256.clone()), reason));
                continue;
            }
            for (key, why) in died {
                crashed.insert((p.info.name.clone(), key), why);
            }
            plugins.push(Arc::new(p));
        }
        (plugins, crashed)
    }

    fn scan(&mut self, dirs: &[PathBuf]) -> Vec<PathBuf> {
        let mut seen = HashSet::new();
        let mut files = Vec::new();
        for dir in dirs {
            let listing = match std::fs::read_dir(dir) {
                Ok(l) => l,
                Err(e) => {
                    self.warnings.push(format!("plugin dir {} cannot be read: {e}", dir.display()));
                    continue;
                }
            };
            let mut found: Vec<PathBuf> = listing
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "so") && !p.is_dir())
                .collect();
            found.sort();
            for f in found {
                let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
                if seen.insert(key) {
                    files.push(f);
                }
            }
        }
        if files.is_empty() {
            self.warnings.push(format!(
                "no *.so plugin files in {}; build the plugins (`cargo build --release`) or drop a .so there",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            ));
        }
        files
    }

    /// The ready candidates.
    pub fn ready(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| matches!(c.state, State::Ready { .. }))
    }
}

fn file_rejection(file: &Path, sha256: Option<String>, reason: String) -> Candidate {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let id = stem.strip_prefix("lib").filter(|s| !s.is_empty()).unwrap_or(&stem).to_owned();
    Candidate {
        id,
        plugin: None,
        version: None,
        tasks: Vec::new(),
        path: Some(std::path::absolute(file).unwrap_or_else(|_| file.to_owned())),
        sha256,
        description: String::new(),
        prep: PrepSpec::default(),
        schema: Vec::new(),
        fixed: Vec::new(),
        state: State::Rejected { reason: loader::one_line(&reason) },
    }
}

fn missing_plugin(entry: &Entry, plugins: &[Arc<Plugin>], dirs: &[PathBuf]) -> String {
    let loaded: Vec<&str> = plugins.iter().map(|p| p.info.name.as_str()).collect();
    format!(
        "plugin '{}' not found in {} (loaded: {}); fix `plugin` at models.toml line {} or build the plugin",
        entry.plugin,
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        if loaded.is_empty() { "none".to_owned() } else { loaded.join(", ") },
        entry.line
    )
}
