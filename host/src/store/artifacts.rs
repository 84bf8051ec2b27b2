//! Content-addressed model artifacts: `<dir>/<sha256>` holds a trained
//! model (a header with its preprocessing state, then the plugin's saved
//! bytes) and `<dir>/<sha256>.json` its manifest. A file is written to a
//! temporary name, synced, then renamed, so a reader never sees half of
//! one; every read checks the bytes against their name.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::domain::hex;

/// The first bytes of every artifact, and its format version.
const MAGIC: &[u8; 8] = b"MLHOSTA1";

/// Why an artifact cannot be used; the message names the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArtifactError {
    /// No such file.
    #[error(
        "artifact {0} is missing: restore it from a backup or train the model again (`mlhost train`)"
    )]
    Missing(String),
    /// The bytes are not the ones registered.
    #[error(
        "artifact {path} does not match its checksum (sha256 {actual}, registered {expected}): the file was changed or damaged; restore it or train the model again"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// Its name.
        expected: String,
        /// What its bytes hash to.
        actual: String,
    },
    /// Not an artifact of this format.
    #[error("artifact {0} is not an mlhost model artifact (format MLHOSTA1)")]
    Format(String),
    /// Reading or writing failed.
    #[error("artifact {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        message: String,
    },
}

/// The folder of artifacts.
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
}

/// The sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl Artifacts {
    /// Artifacts in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Artifacts { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where artifact `sha` lives.
    pub fn path(&self, sha: &str) -> PathBuf {
        self.dir.join(sha)
    }

    /// Packs `header` (JSON) and the plugin's `model` bytes into one
    /// artifact, writes it and its `manifest`; returns its sha256.
    pub fn put(
        &self,
        header: &serde_json::Value,
        model: &[u8],
        manifest: &serde_json::Value,
    ) -> Result<String, ArtifactError> {
        let head = serde_json::to_vec(header).expect("JSON values serialize");
        let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + head.len() + model.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(head.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(model);
        let sha = sha256_hex(&bytes);
        self.write_atomic(&sha, &bytes)?;
        let manifest = serde_json::to_vec_pretty(manifest).expect("JSON values serialize");
        self.write_atomic(&format!("{sha}.json"), &manifest)?;
        Ok(sha)
    }

    /// Reads artifact `sha`, checks its bytes against the name and splits
    /// it into the header and the plugin's bytes.
    pub fn get(&self, sha: &str) -> Result<(serde_json::Value, Vec<u8>), ArtifactError> {
        let path = self.path(sha);
        let shown = path.display().to_string();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ArtifactError::Missing(shown));
            }
            Err(e) => return Err(ArtifactError::Io { path: shown, message: e.to_string() }),
        };
        let actual = sha256_hex(&bytes);
        if actual != sha {
            return Err(ArtifactError::Corrupt { path: shown, expected: sha.to_owned(), actual });
        }
        let bad = || ArtifactError::Format(shown.clone());
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(bad)?;
        let len = u32::from_le_bytes(rest.get(..4).ok_or_else(bad)?.try_into().expect("4 bytes"));
        let head = rest.get(4..4 + len as usize).ok_or_else(bad)?;
        let header = serde_json::from_slice(head).map_err(|_| bad())?;
        Ok((header, rest[4 + len as usize..].to_vec()))
    }

    /// The sha256 names of every artifact in the folder (not manifests,
    /// not temporary files).
    pub fn list(&self) -> Result<Vec<String>, ArtifactError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&self.dir, e)),
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Removes artifact `sha` and its manifest.
    pub fn remove(&self, sha: &str) -> Result<(), ArtifactError> {
        for name in [sha.to_owned(), format!("{sha}.json")] {
            let path = self.dir.join(&name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io(&path, e)),
            }
        }
        Ok(())
    }

    fn io(&self, path: &Path, e: std::io::Error) -> ArtifactError {
        ArtifactError::Io { path: path.display().to_string(), message: e.to_string() }
    }

    /// Writes `name` whole or not at all: a temporary file in the same
    /// folder, synced, renamed over the name, and the folder synced.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), ArtifactError> {
        fs::create_dir_all(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            self.io(&path, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_a_changed_or_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = Artifacts::new(dir.path().join("artifacts"));
        let header = serde_json::json!({"prep": null, "labels": ["a", "b"]});
        let sha = a.put(&header, b"model bytes", &serde_json::json!({"plugin": "p"})).unwrap();
        assert_eq!(a.list().unwrap(), std::slice::from_ref(&sha));
        assert_eq!(a.get(&sha).unwrap(), (header, b"model bytes".to_vec()));
        let manifest = fs::read_to_string(a.path(&format!("{sha}.json"))).unwrap();
        assert!(manifest.contains("\"plugin\": \"p\""));
        let mut bytes = fs::read(a.path(&sha)).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        fs::write(a.path(&sha), bytes).unwrap();
        let err = a.get(&sha).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "artifact {} does not match its checksum",
                a.path(&sha).display()
            )),
            "{err}"
        );
        a.remove(&sha).unwrap();
        assert!(matches!(a.get(&sha), Err(ArtifactError::Missing(_))));
        assert!(a.list().unwrap().is_empty());
    }
}
