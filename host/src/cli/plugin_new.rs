//! `mlhost plugin new PATH`: writes a standalone plugin crate (Cargo.toml
//! with the release profile plugins need, a working nearest-centroid
//! classifier with a test) that builds outside this repository.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::BadInput;

const CARGO_TOML: &str = include_str!("template/Cargo.toml");
const LIB_RS: &str = include_str!("template/lib.rs");

/// Where the plugin-api source of this build is, for `--api`'s default.
fn default_api() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api")
}

/// `my-model` -> `MyModel`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Writes the crate at `path`; the plugin is `name` (default: the folder's
/// name), depending on the plugin-api at `api` (default: this build's).
pub(super) fn run(
    path: &Path,
    name: Option<&str>,
    api: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let folder = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.map_or(folder, str::to_owned);
    let usable = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !usable {
        return Err(BadInput::Other(format!(
            "plugin name {name:?} is not usable: start with a letter, then lowercase letters, digits and '-' (pass --name)"
        ))
        .into());
    }
    if path.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(BadInput::Other(format!(
            "{} exists and is not empty; choose a new folder",
            path.display()
        ))
        .into());
    }
    let api = api.map_or_else(default_api, Path::to_path_buf);
    let api = std::fs::canonicalize(&api)
        .ok()
        .filter(|a| a.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            BadInput::Other(format!(
                "no plugin-api crate at {}; pass --api PATH/TO/mlhost/plugin-api",
                api.display()
            ))
        })?;
    let fill = |t: &str| {
        t.replace("{{name}}", &name)
            .replace("{{Type}}", &type_name(&name))
            .replace("{{api}}", &api.display().to_string())
    };
    std::fs::create_dir_all(path.join("src"))?;
    std::fs::write(path.join("Cargo.toml"), fill(CARGO_TOML))?;
    std::fs::write(path.join("src/lib.rs"), fill(LIB_RS))?;
    std::fs::write(path.join(".gitignore"), "/target\n")?;
    let lib = format!("libmlhost_plugin_{}.so", name.replace('-', "_"));
    writeln!(out, "created plugin '{name}' in {}", path.display())?;
    writeln!(out, "next:")?;
    writeln!(out, "  cd {} && cargo test && cargo build --release", path.display())?;
    writeln!(out, "  cp target/release/{lib} into one of the host's plugin_dirs")?;
    writeln!(out, "  mlhost registry --model {name}; mlhost eval --models {name}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types() {
        assert_eq!(type_name("nearest-centroid"), "NearestCentroid");
        assert_eq!(type_name("knn2"), "Knn2");
    }

    #[test]
    fn bad_names_and_full_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        let e = run(&dir.path().join("x"), Some("My Model"), None, &mut out).unwrap_err();
        assert!(e.to_string().contains("is not usable"), "{e}");
        std::fs::write(dir.path().join("f"), "").unwrap();
        let e = run(dir.path(), Some("ok"), None, &mut out).unwrap_err();
        assert!(e.to_string().contains("is not empty"), "{e}");
        let e = run(&dir.path().join("y"), None, Some(Path::new("/nope")), &mut out).unwrap_err();
        assert!(e.to_string().contains("no plugin-api crate at /nope"), "{e}");
        run(&dir.path().join("good-one"), None, None, &mut out).unwrap();
        let lib = std::fs::read_to_string(dir.path().join("good-one/src/lib.rs")).unwrap();
        assert!(lib.contains("pub struct GoodOne;") && !lib.contains("{{"), "{lib}");
    }
}
