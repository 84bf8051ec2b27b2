//! The `models.toml` format: `[[model]]` entries, validated for shape
//! (unknown keys, duplicate ids, a malformed pin) with file and line.
//! Parameter values are checked per candidate against the plugin's schema.

use std::collections::BTreeMap;
use std::path::Path;

use mlhost_plugin_api::ParamValue;
use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::data::prep::{Encode, Impute, PrepSpec};
use crate::data::scale::Scale;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    model: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    plugin: String,
    params: Option<Spanned<toml::Table>>,
    sha256: Option<Spanned<String>>,
    #[serde(default = "enabled_default")]
    enabled: bool,
    #[serde(default)]
    description: String,
    #[serde(default)]
    scale: Scale,
    #[serde(default)]
    encode: Encode,
    #[serde(default)]
    impute: Impute,
}

fn enabled_default() -> bool {
    true
}

/// One `[[model]]` entry of `models.toml`, validated for shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Candidate id, unique in the registry.
    pub id: String,
    /// The plugin name (its `info().name`) that backs it.
    pub plugin: String,
    /// Parameters as written; checked against the plugin's schema later.
    pub params: Vec<(String, ParamValue)>,
    /// Expected sha256 of the plugin file.
    pub sha256: Option<String>,
    /// Disabled entries are listed but never evaluated.
    pub enabled: bool,
    /// Free text for the report.
    pub description: String,
    /// Data preparation (scaling, encoding, imputing) the host applies
    /// before the plugin sees the data.
    pub prep: PrepSpec,
    /// Line of the entry's `id` in the file.
    pub line: usize,
    /// Line of its `params` (its `id` line when it has none).
    pub params_line: usize,
}

/// Reads `models.toml`. Shape errors (unknown keys, duplicate ids, a
/// malformed pin) are errors; parameter values are checked per candidate.
pub fn read_entries(path: &Path) -> Result<Vec<Entry>, ConfigError> {
    let src = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::Read { path: path.to_owned(), error })?;
    parse_entries(path, &src)
}

/// Parses the text of a `models.toml`.
pub fn parse_entries(path: &Path, src: &str) -> Result<Vec<Entry>, ConfigError> {
    let raw: RawRegistry =
        toml::from_str(src).map_err(|e| ConfigError::from_toml(path, src, &e))?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut entries = Vec::with_capacity(raw.model.len());
    for e in raw.model {
        let span = e.id.span();
        let err = |msg: String| ConfigError::at(path, src, Some(span.clone()), msg);
        let line = src[..span.start.min(src.len())].matches('\n').count() + 1;
        let id = e.id.into_inner();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(err(format!(
                "id {id:?} is not usable: use letters, digits, '-', '_' and '.'"
            )));
        }
        if let Some(first) = seen.insert(id.clone(), line) {
            return Err(err(format!(
                "duplicate id '{id}': entries at lines {first} and {line} both use it; rename one"
            )));
        }
        let sha256 = match e.sha256 {
            Some(pin) => {
                let pin_span = pin.span();
                let pin = pin.into_inner().to_ascii_lowercase();
                if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(ConfigError::at(
                        path,
                        src,
                        Some(pin_span),
                        format!("sha256 of '{id}' must be 64 hex digits (`sha256sum FILE.so`)"),
                    ));
                }
                Some(pin)
            }
            None => None,
        };
        let (params_span, table) = match e.params {
            Some(p) => (p.span(), p.into_inner()),
            None => (span.clone(), toml::Table::new()),
        };
        let params_line = src[..params_span.start.min(src.len())].matches('\n').count() + 1;
        let mut params = Vec::with_capacity(table.len());
        for (name, value) in table {
            let value = match value {
                toml::Value::Integer(i) => ParamValue::Int(i),
                toml::Value::Float(f) => ParamValue::Float(f),
                toml::Value::Boolean(b) => ParamValue::Bool(b),
                toml::Value::String(s) => ParamValue::Choice(s),
                other => {
                    let kind = other.type_str();
                    return Err(ConfigError::at(
                        path,
                        src,
                        Some(params_span),
                        format!(
                            "model '{id}': parameter '{name}' is {} {kind}; use a number, a bool or a string",
                            if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" },
                        ),
                    ));
                }
            };
            params.push((name, value));
        }
        entries.push(Entry {
            id,
            plugin: e.plugin,
            params,
            sha256,
            enabled: e.enabled,
            description: e.description,
            prep: PrepSpec { scale: e.scale, encode: e.encode, impute: e.impute },
            line,
            params_line,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &str) {
        let got = match parse_entries(Path::new("models.toml"), src) {
            Ok(entries) => entries
                .iter()
                .map(|e| format!("{}@{}:{}:{:?}:{}", e.id, e.line, e.plugin, e.params, e.enabled))
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn entries() {
        check("", "");
        check(
            "[[model]]\nid = \"forest-100\"\nplugin = \"forest\"\nparams = { trees = 100, alpha = 0.5 }\n\n[[model]]\nid = \"b\"\nplugin = \"baseline\"\nenabled = false\n",
            "forest-100@2:forest:[(\"alpha\", Float(0.5)), (\"trees\", Int(100))]:true b@7:baseline:[]:false",
        );
    }

    #[test]
    fn shape_errors_name_the_line() {
        check(
            "[[model]]\nid = \"a\"\nplugin = \"p\"\n[[model]]\nid = \"a\"\nplugin = \"q\"\n",
            "models.toml:5: key `id`: duplicate id 'a': entries at lines 2 and 5 both use it; rename one",
        );
        check(
            "[[model]]\nid = \"a\"\nplugin = \"p\"\nsha256 = \"abc\"\n",
            "models.toml:4: key `sha256`: sha256 of 'a' must be 64 hex digits (`sha256sum FILE.so`)",
        );
        check(
            "[[model]]\nid = \"a\"\nplugin = \"p\"\nparms = {}\n",
            "models.toml:4: key `parms`: unknown field `parms`, expected one of `id`, `plugin`, `params`, `sha256`, `enabled`, `description`, `scale`, `encode`, `impute`",
        );
        check(
            "[[model]]\nid = \"a b\"\nplugin = \"p\"\n",
            "models.toml:2: key `id`: id \"a b\" is not usable: use letters, digits, '-', '_' and '.'",
        );
        check(
            "[[model]]\nid = \"a\"\nplugin = \"p\"\nparams = { k = [1] }\n",
            "models.toml:4: key `params`: model 'a': parameter 'k' is an array; use a number, a bool or a string",
        );
        check("[[model]]\nplugin = \"p\"\n", "models.toml:1: missing field `id`");
        check(
            "[[model]]\nid = \"a\"\nplugin = \"p\"\nscale = \"log\"\n",
            "models.toml:4: key `scale`: unknown variant `log`, expected one of `none`, `standard`, `minmax`, `robust`",
        );
    }
}
