//! The layering rule of ARCHITECTURE.md, checked: each top-level module may
//! use only modules of a lower layer, so dependencies point down and there
//! are no cycles.

/// Top-level modules from the bottom up; a module may use only modules of
/// a strictly lower layer (and itself).
const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("config", 1),
    ("plugin", 2),
    ("data", 2),
    ("metrics", 2),
    ("store", 2),
    ("registry", 3),
    ("engine", 4),
    ("service", 5),
    ("api", 6),
    ("cli", 7),
];

#[cfg(test)]
mod tests {
    use super::LAYERS;
    use std::path::Path;

    fn layer(module: &str) -> Option<u8> {
        LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
    }

    /// `(file, module it belongs to, crate modules it names)` for every
    /// source file, comments left out.
    fn uses(dir: &Path, out: &mut Vec<(String, String, Vec<String>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                uses(&path, out);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
            let module = first.trim_end_matches(".rs").to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut named = Vec::new();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    let end = rest.find(|c: char| !c.is_alphanumeric() && c != '_');
                    named.push(rest[..end.unwrap_or(rest.len())].to_owned());
                }
            }
            out.push((rel.display().to_string(), module, named));
        }
    }

    #[test]
    fn every_module_uses_only_lower_layers() {
        let mut files = Vec::new();
        uses(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut wrong = Vec::new();
        for (file, module, named) in &files {
            let Some(own) = layer(module) else {
                assert!(
                    ["lib", "main", "layers"].contains(&module.as_str()),
                    "{file}: top-level module '{module}' has no layer in layers.rs"
                );
                continue;
            };
            for used in named {
                // Re-exports at the crate root (`crate::Config`) are not modules.
                let Some(theirs) = layer(used) else { continue };
                if used != module && theirs >= own {
                    wrong.push(format!(
                        "{file}: {module} (layer {own}) uses {used} (layer {theirs})"
                    ));
                }
            }
        }
        assert!(files.len() > 50, "the scan found the sources");
        assert!(wrong.is_empty(), "dependencies must point down:\n{}", wrong.join("\n"));
    }
}
