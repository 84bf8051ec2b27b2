//! Hot reload for `serve`: the plugin dirs and the folder of `models.toml`
//! are watched (inotify through the `notify` crate; where inotify cannot
//! watch, a poll of their files every second), and once changes to `*.so`
//! files or to `models.toml` have been quiet for [`QUIET`], the dirs are
//! scanned again as at start: a new or replaced file is probed in a child
//! process before this one opens it, files with a cached verdict are not
//! probed again, and the new registry replaces the live one. A
//! `models.toml` that does not read leaves the registry in use as it was
//! (a WARN names the line). The scan runs on the watcher's own thread;
//! requests go on with the registry they took.
//!
//! The folder, not the file, is watched for `models.toml`: an editor saves
//! by writing a new file and renaming it over the old one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{Event, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

use super::live::{LiveRegistry, changes, discover_probed};
use crate::config::Config;
use crate::plugin::loader;

/// How long changes must have stopped before the dirs are scanned (a file
/// being copied in sends several events).
pub const QUIET: Duration = Duration::from_millis(200);
/// The longest a stream of changes delays a scan.
const MAX_DELAY: Duration = Duration::from_secs(1);
/// How often the fallback polls the dirs.
const POLL: Duration = Duration::from_secs(1);

/// Watching until dropped (the thread ends with the watcher).
#[derive(Debug)]
pub struct PluginWatch {
    _backend: Backend,
    /// `inotify` or `poll`.
    pub mode: &'static str,
}

/// Held, never read: dropping it stops the watch.
#[derive(Debug)]
#[expect(dead_code, reason = "held for its Drop")]
enum Backend {
    Inotify(RecommendedWatcher),
    Poll(PollWatcher),
}

/// Watches `config.plugin_dirs` and `config.registry` and replaces `live`
/// after each change, probing new files with `exe probe`.
pub fn watch(
    config: Config,
    exe: PathBuf,
    live: Arc<LiveRegistry>,
) -> std::io::Result<PluginWatch> {
    let (tx, rx) = mpsc::channel::<()>();
    let registry = config.registry.clone();
    let handler = move || {
        let (tx, registry) = (tx.clone(), registry.clone());
        move |event: notify::Result<Event>| {
            // An error of the watcher itself: scan, to be safe.
            if event.as_ref().is_ok_and(|e| !concerns_plugins(e, &registry)) {
                return;
            }
            let _ = tx.send(());
        }
    };
    let mut dirs = config.plugin_dirs.clone();
    if let Some(folder) = config.registry.parent().filter(|f| !dirs.iter().any(|d| d == f)) {
        dirs.push(folder.to_owned());
    }
    let (backend, mode) = match inotify(&dirs, handler()) {
        Ok(w) => (Backend::Inotify(w), "inotify"),
        Err(e) => {
            tracing::warn!(error = %e, "inotify cannot watch the plugin dirs; polling them every second instead");
            (Backend::Poll(poll(&dirs, handler())?), "poll")
        }
    };
    std::thread::Builder::new()
        .name("mlhost-plugin-watch".into())
        .spawn(move || reload_on_change(&rx, &config, &exe, &live))?;
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    tracing::info!(mode, dirs = ?shown, "watching the plugin dirs for new or replaced .so files, and models.toml");
    Ok(PluginWatch { _backend: backend, mode })
}

fn inotify<F: notify::EventHandler>(
    dirs: &[PathBuf],
    handler: F,
) -> notify::Result<RecommendedWatcher> {
    let mut w = notify::recommended_watcher(handler)?;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        w.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(w)
}

fn poll<F: notify::EventHandler>(dirs: &[PathBuf], handler: F) -> std::io::Result<PollWatcher> {
    let config = notify::Config::default().with_poll_interval(POLL);
    let mut w = PollWatcher::new(handler, config).map_err(std::io::Error::other)?;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        w.watch(dir, RecursiveMode::NonRecursive).map_err(std::io::Error::other)?;
    }
    Ok(w)
}

/// Whether `e` may change what the dirs' `*.so` files load as, or the
/// candidates `registry` (models.toml) lists: anything but opening or
/// reading one (as the scan itself does).
fn concerns_plugins(e: &Event, registry: &Path) -> bool {
    let reads = matches!(
        e.kind,
        EventKind::Access(
            AccessKind::Open(_)
                | AccessKind::Read
                | AccessKind::Close(AccessMode::Read | AccessMode::Execute)
        )
    );
    let ours = e.paths.iter().any(|p| p.extension().is_some_and(|x| x == "so") || p == registry);
    e.need_rescan() || (ours && !reads)
}

/// Waits for a change, then for quiet, then scans; until the watcher goes.
fn reload_on_change(rx: &mpsc::Receiver<()>, config: &Config, exe: &Path, live: &LiveRegistry) {
    while rx.recv().is_ok() {
        let first = Instant::now();
        loop {
            match rx.recv_timeout(QUIET) {
                Ok(()) if first.elapsed() < MAX_DELAY => continue,
                Ok(()) | Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        reload(config, exe, live, first);
    }
}

/// Scans the dirs again and puts the result in place; a scan that fails
/// (an unreadable `models.toml`) leaves the registry in use as it was.
pub fn reload(config: &Config, exe: &Path, live: &LiveRegistry, since: Instant) {
    let next = match discover_probed(config, exe.to_owned(), false) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "plugin reload failed; the registry in use stays");
            return;
        }
    };
    let (added, replaced, removed) = changes(&live.current(), &next);
    let ready = next.ready().count();
    let rejected = next.candidates.len() - ready;
    live.replace(next);
    tracing::info!(
        ?added,
        ?replaced,
        ?removed,
        ready,
        rejected,
        ms = since.elapsed().as_millis() as u64,
        "plugins reloaded"
    );
    if loader::wedged() {
        tracing::error!(
            "a plugin hung inside the dynamic loader in this process: no new thread can start; remove it and restart serve"
        );
    }
}
