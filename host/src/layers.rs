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
    ("search", 2),
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
            // Module depth: `store/results.rs` 2, `store/mod.rs` 1.
            let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
            let named = named_modules(&text, depth);
            out.push((rel.display().to_string(), module, named));
        }
    }

    /// The crate's items at the root re-exported from a module, by module.
    const ROOT_REEXPORTS: &[(&str, &str)] = &[
        ("Config", "config"),
        ("ConfigError", "config"),
        ("Registry", "registry"),
        ("Candidate", "registry"),
        ("State", "registry"),
    ];

    /// The top-level modules `text` names through `crate::` (single paths
    /// and `crate::{a, b::c}` groups, over several lines too), comments
    /// left out. A `super::` chain that climbs past the top-level module of
    /// a file `depth` modules deep (`api/tests/openapi.rs`: 3) is reported
    /// as the module `super::super`.
    fn named_modules(text: &str, depth: usize) -> Vec<String> {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let ident = |s: &str| {
            let s = s.trim_start();
            let end = s.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(s.len());
            s[..end].to_owned()
        };
        let mut named = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Top-level items of the group: split on commas at depth 0.
                let (mut depth, mut start) = (0usize, 0usize);
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            named.push(ident(&group[start..j]));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            named.push(ident(&group[start..j]));
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
            } else {
                named.push(ident(rest));
            }
        }
        // A lone `super::` is the usual `mod tests { use super::*; }`; a
        // chain of two or more is counted against the file's depth.
        let climb = (2..=depth.max(2)).rev().find(|k| code.contains(&"super::".repeat(*k)));
        if climb.is_some_and(|k| k >= depth) {
            named.push("super::super".to_owned());
        }
        named
            .into_iter()
            .filter(|n| !n.is_empty())
            .map(|n| {
                let module = ROOT_REEXPORTS.iter().find(|(item, _)| *item == n).map(|(_, m)| *m);
                module.map_or(n, str::to_owned)
            })
            .collect()
    }

    #[test]
    fn the_scan_sees_groups_reexports_and_super_super() {
        let text = "use crate::{\n    domain::RunId,\n    engine::{self, run},\n};\n// crate::api in a comment\nuse crate::Registry;\nuse super::super::x;";
        assert_eq!(named_modules(text, 2), ["domain", "engine", "registry", "super::super"]);
        // Two levels up from three deep stays inside the top-level module.
        assert_eq!(named_modules("use super::super::x;", 3), Vec::<String>::new());
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
                if used == "super::super" {
                    wrong.push(format!(
                        "{file}: a super:: chain leaves {module}; name the module by crate::"
                    ));
                    continue;
                }
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
