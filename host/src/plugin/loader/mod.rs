//! Loading plugin `.so` files: the only module that touches abi_stable and
//! libloading, and the only one with `unsafe`.
//!
//! Each file goes through, in order: a regular file, not group/world-writable,
//! read and hashed (sha256), an ELF structure check (a truncated or foreign
//! file would crash dlopen before any check of ours ran), `dlopen` with
//! RTLD_NOW (a missing symbol fails here, not as a crash at first call), the
//! abi_stable header and root module (version and layout checks), then the
//! plugin's own `info()`. Every failure becomes a [`Rejection`] with a
//! one-line reason that says what to do. Libraries are never unloaded:
//! model objects and leaked statics point into them.
//!
//! Must never: load through `RootModule::load_from_*` (it caches one module
//! per type and would hand back the first plugin for every later one), or let
//! a panic or error from one file stop the others.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::lib_header_from_path;
use mlhost_plugin_api::__private::{error_from_ffi, info_from_ffi};
use mlhost_plugin_api::PluginInfo;
use mlhost_plugin_api::ffi::PluginModRef;
use sha2::{Digest, Sha256};

mod elf;
mod model;
mod reasons;

pub use elf::check_elf;
pub use model::{FitHooks, Model, PlainHooks};
pub use reasons::{MAX_REASON_CHARS, one_line};
use reasons::{dlopen_reason, library_reason};

/// The plugin-api version this host was built against (the ABI version).
pub const PLUGIN_API_VERSION: &str = mlhost_plugin_api::ffi::PLUGIN_API_VERSION;

/// A plugin file that was loaded and described itself.
pub struct Plugin {
    /// Absolute path of the `.so` as found in a plugin dir.
    pub path: PathBuf,
    /// The file actually mapped: a private copy of `path` whose bytes are
    /// exactly the ones hashed (or `path` itself without an image dir).
    /// Worker processes open this one.
    pub image: PathBuf,
    /// Lowercase hex sha256 of the file as loaded.
    pub sha256: String,
    /// What the plugin says about itself (validated).
    pub info: PluginInfo,
    module: PluginModRef,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("image", &self.image)
            .field("sha256", &self.sha256)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Set once a plugin's code hung inside dlopen in this process: that thread
/// holds the dynamic loader's lock for good.
static WEDGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that a dlopen in this process never returned.
pub fn mark_wedged() {
    WEDGED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether a dlopen in this process never returned (see [`exit_now`]).
pub fn wedged() -> bool {
    WEDGED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Ends the process at once with `code`, after flushing stdout and stderr,
/// without atexit handlers or library destructors. A normal exit runs
/// glibc's `_dl_fini`, which takes the loader lock a hung dlopen holds, and
/// would never return.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointers and never returns; skipping
    // destructors is the point (they would wait on the wedged lock), and
    // the only buffered output, std's stdout, was flushed just above.
    unsafe { libc::_exit(code) }
}

/// A file that could not be used as a plugin, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The sha256 of the file, when it could be read.
    pub sha256: Option<String>,
    /// One line: what is wrong and what to do.
    pub reason: String,
}

impl Rejection {
    fn new(sha256: Option<&str>, reason: impl Into<String>) -> Self {
        Self { sha256: sha256.map(str::to_owned), reason: one_line(&reason.into()) }
    }
}

/// A plugin file that passed every check that runs none of its code:
/// readable regular file, not group/world-writable, hashed, a structurally
/// sound ELF shared object. Nothing has been mapped or run yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// Lowercase hex sha256 of its bytes.
    pub sha256: String,
    /// The bytes that were hashed, until [`Inspected::stage`] wrote them.
    bytes: Option<Arc<Vec<u8>>>,
    /// The private copy of those bytes, once staged.
    image: Option<PathBuf>,
    /// A Rust proc-macro library (it exports `__rustc_proc_macro_decls_`):
    /// a compiler plugin cargo puts beside the built plugins, not one of
    /// ours; the registry skips it.
    pub proc_macro: bool,
}

impl Inspected {
    /// Writes the private copy into `image_dir` now (see [`open`]) and lets
    /// go of the bytes, so a scan of many files holds one file in memory at
    /// a time. Without a folder, or when it cannot be written, the file
    /// itself will be opened.
    pub fn stage(&mut self, image_dir: Option<&Path>) {
        if let Some(dir) = image_dir {
            self.image = private_image(self, dir).ok();
        }
        self.bytes = None;
    }
}

/// Loads one plugin file in this process: [`inspect`] then [`open`]. Call it
/// for one file at a time; it never panics. The host runs the file in a
/// probe first (see `probe`); `mlhost worker` children call this directly.
pub fn load(path: &Path) -> Result<Plugin, Rejection> {
    open(&inspect(path)?, None)
}

/// Reads, hashes and checks a file without mapping or running any of it.
pub fn inspect(path: &Path) -> Result<Inspected, Rejection> {
    let path = std::path::absolute(path).map_err(|e| Rejection::new(None, e.to_string()))?;
    let meta = fs::metadata(&path).map_err(|e| {
        let hint = if path.is_symlink() { " (a dangling symlink?)" } else { "" };
        Rejection::new(None, format!("cannot read the file{hint}: {e}"))
    })?;
    if !meta.is_file() {
        return Err(Rejection::new(None, "not a regular file"));
    }
    let bytes =
        fs::read(&path).map_err(|e| Rejection::new(None, format!("cannot read the file: {e}")))?;
    let sha256 = sha256_hex(&bytes);
    let sha = Some(sha256.as_str());
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 {
        let who = if mode & 0o002 != 0 { "world" } else { "group" };
        return Err(Rejection::new(
            sha,
            format!(
                "file is {who}-writable (mode {:o}): anyone could replace the code; run `chmod go-w {}`",
                mode & 0o777,
                path.file_name().map_or(path.display(), |n| Path::new(n).display())
            ),
        ));
    }
    check_elf(&bytes).map_err(|why| Rejection::new(sha, why))?;
    let proc_macro = memchr::memmem::find(&bytes, b"__rustc_proc_macro_decls_").is_some();
    Ok(Inspected { path, sha256, bytes: Some(Arc::new(bytes)), image: None, proc_macro })
}

/// Maps and runs an inspected file: `dlopen`, the abi_stable checks and
/// `info()`. With `image_dir`, the bytes that were hashed are first written
/// to `<image_dir>/<sha256>.so` (once; read-only) and that private copy is
/// opened: what runs is exactly what was hashed and probed, and a plugin
/// file overwritten in place later cannot pull pages from under the host
/// (a truncated mapping raises SIGBUS). When the folder cannot be written,
/// the file itself is opened.
pub fn open(file: &Inspected, image_dir: Option<&Path>) -> Result<Plugin, Rejection> {
    open_observed(file, image_dir, &mut |_| {})
}

/// Where in loading a file's code runs, so a death can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LoadStep {
    /// `dlopen`: the dynamic loader maps the file and runs its ELF
    /// constructors (`.init_array`).
    Dlopen,
    /// abi_stable reads and checks the root module (its initializer runs).
    RootModule,
    /// The plugin's `info()`.
    Info,
}

impl LoadStep {
    /// Where it happened, for a reason: "in the library's constructor".
    pub fn place(self) -> &'static str {
        match self {
            LoadStep::Dlopen => "in the library's constructor (it ran while dlopen loaded it)",
            LoadStep::RootModule => "while its root module was initialized",
            LoadStep::Info => "in its info()",
        }
    }
}

/// [`open`], telling `on_step` before each step that runs the file's code.
pub fn open_observed(
    file: &Inspected,
    image_dir: Option<&Path>,
    on_step: &mut dyn FnMut(LoadStep),
) -> Result<Plugin, Rejection> {
    let sha = Some(file.sha256.as_str());
    // Without a writable image folder the file itself is opened: the copy
    // is a second line of defence, not a reason to refuse a plugin.
    let image = match (&file.image, image_dir) {
        (Some(image), _) => image.clone(),
        (None, Some(dir)) => private_image(file, dir).unwrap_or_else(|_| file.path.clone()),
        (None, None) => file.path.clone(),
    };
    let module = open_module(&image, on_step).map_err(|why| Rejection::new(sha, why))?;
    on_step(LoadStep::Info);
    let info = call_info(module).map_err(|why| Rejection::new(sha, why))?;
    Ok(Plugin { path: file.path.clone(), image, sha256: file.sha256.clone(), info, module })
}

/// Writes the file's bytes to `<dir>/<sha256>.so` unless a copy of the same
/// length is there; temp file, fsync, rename, mode 0555.
fn private_image(file: &Inspected, dir: &Path) -> Result<PathBuf, String> {
    let target = dir.join(format!("{}.so", file.sha256));
    let Some(bytes) = &file.bytes else {
        return Err("its bytes are gone (staged already)".to_owned());
    };
    let fail = |e: std::io::Error| {
        format!(
            "cannot write its private copy in {}: {e}; make that folder writable",
            dir.display()
        )
    };
    private_dir(dir)?;
    // Only this user can write in the folder (checked above), so a read-only
    // regular file of the right length under this name is the copy an earlier
    // run wrote; anything else (a symlink, say) is replaced, never run.
    let ours = fs::symlink_metadata(&target).is_ok_and(|m| {
        m.is_file() && m.len() == bytes.len() as u64 && m.permissions().mode() & 0o222 == 0
    });
    if ours {
        return Ok(target);
    }
    let tmp = dir.join(format!(".{}.{}.tmp", file.sha256, std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o555))?;
        fs::rename(&tmp, &target)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        fail(e)
    })?;
    Ok(target)
}

/// The image folder: created 0700 when missing; refused when it is a
/// symlink, writable by group or others, or owned by another user.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let me = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let mut m = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mine = m.is_dir() && me.is_none_or(|uid| uid == m.uid());
    if mine && m.mode() & 0o022 != 0 {
        // A folder of ours that others may write in (an older mlhost made it
        // with the umask): close it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot chmod 700 {}: {e}", dir.display()))?;
        m = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let unsafe_dir = !mine || m.mode() & 0o022 != 0;
    if unsafe_dir {
        return Err(format!(
            "{} is not a private folder (a symlink, writable by others, or not ours): `chmod 700` it or remove it",
            dir.display()
        ));
    }
    Ok(())
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::domain::hex(Sha256::digest(bytes).as_slice())
}

fn open_module(path: &Path, on_step: &mut dyn FnMut(LoadStep)) -> Result<PluginModRef, String> {
    on_step(LoadStep::Dlopen);
    // SAFETY: dlopen runs the library's initializers. The file passed the
    // ELF structure check above, so the loader maps only what is there;
    // running a plugin's code is what loading a plugin means.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| dlopen_reason(&e.to_string()))?;
    // Never unload: model objects and leaked statics point into the library.
    // abi_stable opens it again below and gets this same, fully bound handle.
    std::mem::forget(lib);
    let header = lib_header_from_path(path).map_err(|e| library_reason(&e))?;
    on_step(LoadStep::RootModule);
    header.init_root_module::<PluginModRef>().map_err(|e| library_reason(&e))
}

fn call_info(module: PluginModRef) -> Result<PluginInfo, String> {
    let raw = module.info()().into_result().map_err(|e| {
        let e = error_from_ffi(e);
        format!("its info() failed: {}", e.message())
    })?;
    let info = info_from_ffi(raw).map_err(|e| format!("its info() is unusable: {e}"))?;
    validate_info(&info)?;
    Ok(info)
}

fn validate_info(info: &PluginInfo) -> Result<(), String> {
    let name_ok = !info.name.is_empty()
        && info.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(format!(
            "its name {:?} is not usable: use letters, digits, '-' and '_' only",
            info.name
        ));
    }
    if info.version.trim().is_empty() {
        return Err(format!("plugin '{}' declares no version; set it in info()", info.name));
    }
    if info.tasks.is_empty() {
        return Err(format!(
            "plugin '{}' declares no task this host knows; declare classification or regression",
            info.name
        ));
    }
    for spec in &info.params {
        spec.check(&spec.default).map_err(|e| {
            format!("plugin '{}' has a default outside its own schema: {e}", info.name)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspected(dir: &Path, bytes: &[u8]) -> Inspected {
        let path = dir.join("p.so");
        fs::write(&path, bytes).unwrap();
        Inspected {
            path,
            sha256: sha256_hex(bytes),
            bytes: Some(Arc::new(bytes.to_vec())),
            image: None,
            proc_macro: false,
        }
    }

    #[test]
    fn a_planted_copy_is_replaced_and_the_folder_closed() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("images");
        fs::create_dir(&images).unwrap();
        fs::set_permissions(&images, fs::Permissions::from_mode(0o777)).unwrap();
        let file = inspected(tmp.path(), b"the real bytes");
        // Someone put a symlink under the name the real copy will have.
        let evil = tmp.path().join("evil.so");
        fs::write(&evil, b"other bytes, same len").unwrap();
        std::os::unix::fs::symlink(&evil, images.join(format!("{}.so", file.sha256))).unwrap();
        let image = private_image(&file, &images).unwrap();
        assert_eq!(fs::read(&image).unwrap(), b"the real bytes");
        assert!(!fs::symlink_metadata(&image).unwrap().file_type().is_symlink());
        let mode = fs::metadata(&images).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the folder is closed to others");
    }
}
