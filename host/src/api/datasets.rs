//! Which datasets a caller may name, and CSV uploads.
//!
//! A posted `dataset` is exactly one of `builtin:NAME`, `dataset:ID` (an
//! upload, stored content-addressed under `<database folder>/datasets/`), or
//! a path inside one of `[api] data_dirs`. Paths and data dirs are
//! canonicalised, so neither `..` nor a symlink leaves a data dir. Anything
//! else gets one 403 whose body does not depend on the path, so the API is
//! no oracle for what exists on the server. A path inside a data dir must be
//! a regular file, checked before anything opens it (a FIFO would block
//! forever, `/dev/zero` never ends). Uploads themselves are in `uploads`.

use std::fs;
use std::path::{Path, PathBuf};

use super::{AppState, Problem};
use crate::data::dataset::BUILTINS;

const HOW_TO_UPLOAD: &str = "upload the CSV with `POST /api/ml/datasets` (body: the file, e.g. `curl --data-binary @FILE.csv`) and pass the \"dataset\" it answers with (\"dataset:ID\")";

/// Where uploads live: `<folder of the database>/datasets/<id>.csv`.
pub fn uploads_dir(database: &Path) -> PathBuf {
    database.parent().unwrap_or(Path::new(".")).join("datasets")
}

/// An upload id: the sha256 of the uploaded bytes, 64 lowercase hex digits.
/// Nothing else is ever joined to a path, so an id cannot traverse.
pub fn is_upload_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What kind of dataset a request named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Builtin,
    Upload,
    DataDir,
}

/// A posted `dataset`, checked.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    pub(super) kind: Kind,
    /// What the run loads: `builtin:NAME` or an absolute, canonical path.
    pub(super) spec: String,
    /// What callers see in place of `spec` (`dataset:ID` for an upload, the
    /// path as posted for a data-dir file).
    pub(super) public: String,
}

/// Checks a posted `dataset` against what this server lets callers name.
pub(super) fn resolve(state: &AppState, raw: &str) -> Result<Resolved, Problem> {
    if raw.is_empty() {
        return Err(Problem::invalid(
            "unknown-dataset",
            "dataset is empty; pass \"builtin:NAME\", \"dataset:ID\" or a path inside [api] data_dirs",
        ));
    }
    if let Some(name) = raw.strip_prefix("builtin:") {
        if !BUILTINS.iter().any(|(n, ..)| *n == name) {
            let names: Vec<&str> = BUILTINS.iter().map(|(n, ..)| *n).collect();
            return Err(Problem::invalid(
                "unknown-dataset",
                format!("no built-in dataset '{name}'; choose one of {}", names.join(", ")),
            ));
        }
        return Ok(Resolved { kind: Kind::Builtin, spec: raw.to_owned(), public: raw.to_owned() });
    }
    if let Some(id) = raw.strip_prefix("dataset:") {
        let path = upload_path(&state.uploads, id)?;
        return Ok(Resolved {
            kind: Kind::Upload,
            spec: path.to_string_lossy().into_owned(),
            public: raw.to_owned(),
        });
    }
    let real = resolve_path(&state.config.api.data_dirs, raw)?;
    Ok(Resolved {
        kind: Kind::DataDir,
        spec: real.to_string_lossy().into_owned(),
        public: raw.to_owned(),
    })
}

/// Checks again, right before a run loads it, that a queued dataset is
/// still what it was when it was posted: a file swapped for a FIFO or a
/// symlink meanwhile is refused rather than opened.
pub(super) fn recheck(data_dirs: &[PathBuf], d: &Resolved) -> Result<(), String> {
    let still = match d.kind {
        Kind::Builtin => true,
        Kind::Upload => fs::symlink_metadata(&d.spec).is_ok_and(|m| m.is_file()),
        Kind::DataDir => {
            resolve_path(data_dirs, &d.spec).is_ok_and(|p| p.as_os_str() == d.spec.as_str())
        }
    };
    if still {
        Ok(())
    } else {
        Err(format!("{}: changed after it was posted and is no longer a regular file", d.public))
    }
}

/// The stored file of upload `id`, which must exist.
pub(super) fn upload_path(dir: &Path, id: &str) -> Result<PathBuf, Problem> {
    if !is_upload_id(id) {
        return Err(Problem::invalid(
            "unknown-dataset",
            format!(
                "\"dataset:ID\" takes the 64 lowercase hex digits an upload answers with; {HOW_TO_UPLOAD}"
            ),
        ));
    }
    let path = dir.join(format!("{id}.csv"));
    if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return Err(Problem::invalid(
            "unknown-dataset",
            format!("no uploaded dataset '{id}'; {HOW_TO_UPLOAD}"),
        ));
    }
    Ok(path)
}

/// `dataset:ID` for a path that is an upload's stored file, so answers
/// never show where the server keeps uploads.
pub(super) fn public_name(uploads: &Path, spec: &str) -> Option<String> {
    let p = Path::new(spec);
    let id = p.file_name()?.to_str()?.strip_suffix(".csv")?;
    (p.parent() == Some(uploads) && is_upload_id(id)).then(|| format!("dataset:{id}"))
}

/// `detail` with an upload's stored path (as a message about a run's
/// dataset names it) written `dataset:ID`.
pub(super) fn public_detail(uploads: &Path, detail: String) -> String {
    let prefix = format!("{}/", uploads.display());
    let Some(start) = detail.find(&prefix) else { return detail };
    let Some(len) = detail[start..].find(".csv") else { return detail };
    let stored = &detail[start..start + len + 4];
    match public_name(uploads, stored) {
        Some(public) => detail.replace(stored, &public),
        None => detail,
    }
}

/// The one answer for every path outside the data dirs, existing or not.
fn outside(data_dirs: &[PathBuf]) -> Problem {
    let detail = if data_dirs.is_empty() {
        format!(
            "this server takes no dataset paths: [api] data_dirs is empty (set e.g. data_dirs = [\"/srv/mlhost/data\"] in mlhost.toml); {HOW_TO_UPLOAD}, or use \"builtin:NAME\""
        )
    } else {
        let dirs: Vec<String> = data_dirs.iter().map(|d| d.display().to_string()).collect();
        format!(
            "a dataset path must name a file inside the data directories ([api] data_dirs): {}; or {HOW_TO_UPLOAD}, or use \"builtin:NAME\"",
            dirs.join(", ")
        )
    };
    Problem::forbidden("dataset-forbidden", detail)
}

/// A path inside one of `data_dirs` (absolute, or relative to each data
/// dir in order) to its canonical form, which must be a regular file.
pub(super) fn resolve_path(data_dirs: &[PathBuf], raw: &str) -> Result<PathBuf, Problem> {
    let dirs: Vec<PathBuf> =
        data_dirs.iter().filter_map(|d| fs::canonicalize(d).ok()).filter(|d| d.is_dir()).collect();
    let inside = |real: &Path| dirs.iter().any(|d| real.starts_with(d));
    let asked = Path::new(raw);
    let candidates: Vec<PathBuf> = if asked.is_absolute() {
        vec![asked.to_owned()]
    } else {
        dirs.iter().map(|d| d.join(asked)).collect()
    };
    let mut missing_inside = false;
    for c in &candidates {
        match fs::canonicalize(c) {
            Ok(real) if inside(&real) => return regular_file(real, raw),
            Ok(_) => {}
            Err(_) => missing_inside |= absent_inside(c, &inside),
        }
    }
    if missing_inside {
        return Err(Problem::invalid(
            "unknown-dataset",
            format!("no file '{raw}' in the data directories"),
        ));
    }
    Err(outside(data_dirs))
}

/// Whether `c` names nothing at all (not even a dangling symlink) in a
/// folder that is itself inside a data dir: saying so reveals nothing
/// outside the data dirs.
fn absent_inside(c: &Path, inside: &dyn Fn(&Path) -> bool) -> bool {
    let (Some(parent), Some(_)) = (c.parent(), c.file_name()) else { return false };
    matches!(fs::symlink_metadata(c), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        && fs::canonicalize(parent).is_ok_and(|p| inside(&p))
}

/// Metadata only, never `open`: a FIFO would block and a device never end.
fn regular_file(real: PathBuf, raw: &str) -> Result<PathBuf, Problem> {
    let meta = fs::metadata(&real).map_err(|e| {
        Problem::invalid("not-a-file", format!("'{raw}': cannot read its metadata: {e}"))
    })?;
    if meta.is_dir() {
        return Err(Problem::invalid(
            "not-a-file",
            format!("'{raw}' is a directory; name a CSV file inside it"),
        ));
    }
    if !meta.is_file() {
        return Err(Problem::invalid(
            "not-a-file",
            format!("'{raw}' is not a regular file (a FIFO, socket or device); name a CSV file"),
        ));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// (status, detail) of resolving `raw` against `dirs`.
    fn check(dirs: &[PathBuf], raw: &str) -> (u16, String) {
        match resolve_path(dirs, raw) {
            Ok(p) => (200, p.display().to_string()),
            Err(p) => (p.status().as_u16(), p.detail().to_owned()),
        }
    }

    #[test]
    fn paths_stay_inside_the_data_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        let (data, out) = (root.join("data"), root.join("out"));
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::create_dir_all(&out).unwrap();
        fs::write(data.join("a.csv"), "x,y\n1,2\n").unwrap();
        fs::write(out.join("secret.csv"), "s,t\n1,2\n").unwrap();
        symlink(out.join("secret.csv"), data.join("out.csv")).unwrap();
        symlink("a.csv", data.join("in.csv")).unwrap();
        let dirs = [data.clone()];
        let d = data.display();
        let a = data.join("a.csv").display().to_string();
        assert_eq!(check(&dirs, &format!("{d}/a.csv")), (200, a.clone()));
        assert_eq!(check(&dirs, "a.csv"), (200, a.clone()));
        assert_eq!(check(&dirs, "sub/../a.csv"), (200, a.clone()));
        assert_eq!(check(&dirs, &format!("{d}/in.csv")), (200, a));
        let refused = check(&dirs, "/etc/passwd");
        assert_eq!(refused.0, 403);
        assert!(refused.1.contains(&d.to_string()), "{}", refused.1);
        for raw in [
            format!("{d}/../out/secret.csv"),
            "../out/secret.csv".to_owned(),
            format!("{d}/out.csv"),
            format!("{d}/../out/missing.csv"),
            "/no/such/file.csv".to_owned(),
            "/dev/zero".to_owned(),
        ] {
            assert_eq!(check(&dirs, &raw), refused, "{raw}");
        }
        assert_eq!(check(&dirs, "sub").0, 422);
        assert!(check(&dirs, &format!("{d}/nope.csv")).1.starts_with("no file"));
        // Nothing configured: every path gets the one answer.
        let none = check(&[], "/etc/passwd");
        assert_eq!(none.0, 403);
        assert!(none.1.contains("[api] data_dirs is empty"), "{}", none.1);
        assert_eq!(check(&[], &format!("{d}/a.csv")), none);
    }

    #[test]
    fn uploads_are_named_by_id_in_answers() {
        let dir = Path::new("/srv/db/datasets");
        let id = "0123456789abcdef".repeat(4);
        let stored = format!("/srv/db/datasets/{id}.csv");
        assert_eq!(public_name(dir, &stored), Some(format!("dataset:{id}")));
        assert_eq!(public_name(dir, "/srv/db/other/x.csv"), None);
        assert_eq!(public_name(dir, &format!("/elsewhere/{id}.csv")), None);
        let detail = format!("cannot read run r's dataset again: {stored} changed since");
        assert_eq!(
            public_detail(dir, detail),
            format!("cannot read run r's dataset again: dataset:{id} changed since")
        );
        let elsewhere = format!("/elsewhere/{id}.csv: no column 'c'");
        assert_eq!(public_detail(dir, elsewhere.clone()), elsewhere);
    }
}
