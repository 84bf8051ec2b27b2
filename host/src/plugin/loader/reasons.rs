//! Reasons a person can act on: abi_stable's and the dynamic loader's
//! errors (multi-line dumps, Debug output) mapped to one line of at most
//! [`MAX_REASON_CHARS`] characters that says what to do.

use abi_stable::library::{LibraryError, RootModuleError};

use super::PLUGIN_API_VERSION;

/// The longest reason, in characters; longer ones end in an ellipsis.
pub const MAX_REASON_CHARS: usize = 200;

/// Folds `text` into one line of at most [`MAX_REASON_CHARS`] characters:
/// whitespace runs (newlines too) become one space, control characters go.
/// Reasons quote foreign text (dlerror, a plugin's error message); this keeps
/// the report a table and an API error a line.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REASON_CHARS + 4));
    let mut count = 0;
    for word in text.split_whitespace() {
        let word: String = word.chars().filter(|c| !c.is_control()).collect();
        if word.is_empty() {
            continue;
        }
        let sep = usize::from(count > 0);
        let len = word.chars().count();
        if count + sep + len > MAX_REASON_CHARS {
            let room = MAX_REASON_CHARS.saturating_sub(count + sep + 1);
            if sep == 1 && room > 0 {
                out.push(' ');
            }
            out.extend(word.chars().take(room));
            out.push('…');
            return out;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(&word);
        count += sep + len;
    }
    out
}

pub(super) fn dlopen_reason(err: &str) -> String {
    if let Some(pos) = err.find("undefined symbol: ") {
        let symbol = err[pos + 18..].split_whitespace().next().unwrap_or("?");
        return format!(
            "cannot be loaded: undefined symbol {symbol}; it was linked against a library this host lacks: rebuild it"
        );
    }
    // dlerror says "PATH: what"; the report already shows the path.
    let line = err.lines().next().unwrap_or(err);
    let what = line.split_once(".so: ").map_or(line, |(_, what)| what);
    if what.contains("position-independent executable") {
        return "not a shared object: an executable; build the plugin with crate-type = [\"cdylib\"]"
            .to_owned();
    }
    format!("cannot be loaded: {what}")
}

pub(super) fn library_reason(err: &LibraryError) -> String {
    let host = PLUGIN_API_VERSION;
    match err {
        LibraryError::GetSymbolError { .. } => "no mlhost root module: a shared library, but not an mlhost plugin (add `mlhost_plugin_api::export_plugin!(YourModel);` and rebuild)".to_owned(),
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => format!(
            "built against plugin-api {actual_version} but host has {host}; rebuild the plugin against mlhost-plugin-api {}",
            compatible_req(host)
        ),
        LibraryError::ParseVersionError(e) => format!("its plugin-api version cannot be read ({e}); rebuild against mlhost-plugin-api {}", compatible_req(host)),
        LibraryError::RootModule { err: RootModuleError::Unwound, .. } => "its root module panicked while loading; fix the plugin's initialization".to_owned(),
        LibraryError::RootModule { err, .. } => format!("its root module failed to load: {}", first_line(&err.to_string())),
        LibraryError::AbiInstability(e) => layout_reason(&e.to_string()),
        LibraryError::InvalidAbiHeader(_) => format!("its abi_stable header is not one this host reads (another abi_stable, or a damaged file); rebuild against mlhost-plugin-api {}", compatible_req(host)),
        LibraryError::InvalidCAbi { .. } => "built with a compiler whose C ABI differs from the host's; rebuild with the host's toolchain".to_owned(),
        LibraryError::OpenError { err, .. } => dlopen_reason(&err.to_string()),
        other => format!("cannot be loaded: {}", first_line(&other.to_string())),
    }
}

/// `0.1` for `0.1.3` (0.x minors are breaking), `1` for `1.4.0`.
fn compatible_req(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        _ => version.to_owned(),
    }
}

fn first_line(s: &str) -> String {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_owned()
}

/// abi_stable's layout errors are dumps of a hundred lines. Keep the type
/// that differs and the first difference; a different plugin-api version
/// shows up here as "incompatible package versions" on the root module.
fn layout_reason(dump: &str) -> String {
    let lines: Vec<&str> = dump.lines().map(str::trim).collect();
    // The dump is a series of blocks, each opened by "N error(s)"; the first
    // with N > 0 is the innermost type that differs.
    let block = lines
        .iter()
        .position(|l| {
            l.split_once(" error(s)").is_some_and(|(n, _)| n.parse::<u32>().is_ok_and(|n| n > 0))
        })
        .map_or(&lines[..], |i| &lines[i..]);
    let found_type = block
        .iter()
        .position(|l| *l == "Layout of found type:")
        .and_then(|i| block[i..].iter().find_map(|l| l.strip_prefix("type:")))
        .unwrap_or("a plugin-api type");
    let error_at = block.iter().position(|l| l.starts_with("Error:"));
    let error = error_at.map_or("layout differs", |i| &block[i]["Error:".len()..]);
    let found = error_at.and_then(|i| {
        let rest = &block[i..];
        let at = rest.iter().position(|l| *l == "Found:")?;
        rest.get(at + 1).copied()
    });
    let host = PLUGIN_API_VERSION;
    let req = compatible_req(host);
    match (error, found) {
        ("incompatible package versions", Some(found)) => format!(
            "built against plugin-api {found} but host has {host}; rebuild the plugin against mlhost-plugin-api {req}"
        ),
        _ => format!(
            "layout mismatch in type {found_type}: {error}; rebuild the plugin against mlhost-plugin-api {req}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlopen_errors_lose_the_repeated_path() {
        assert_eq!(
            dlopen_reason("/p/ls.so: cannot dynamically load position-independent executable"),
            "not a shared object: an executable; build the plugin with crate-type = [\"cdylib\"]"
        );
        assert_eq!(
            dlopen_reason(
                "/p/a.so: libfoo.so.1: cannot open shared object file: No such file or directory"
            ),
            "cannot be loaded: libfoo.so.1: cannot open shared object file: No such file or directory"
        );
        assert!(
            dlopen_reason("/p/a.so: undefined symbol: zzz_missing")
                .contains("undefined symbol zzz_missing")
        );
    }

    #[test]
    fn a_garbage_abi_header_is_one_readable_line() {
        let mut header = abi_stable::library::AbiHeader::VALUE;
        header.magic_string = *b"tttttttttttttttttttttttttttttttt";
        let reason = library_reason(&LibraryError::InvalidAbiHeader(header));
        assert!(reason.starts_with("its abi_stable header is not one this host reads"), "{reason}");
        assert!(!reason.contains("AbiHeader") && !reason.contains('['), "{reason}");
    }

    #[test]
    fn reasons_are_one_short_line() {
        assert_eq!(one_line("  a\n\tb  c\u{7}d "), "a b cd");
        let long = one_line(&"word ".repeat(100));
        assert_eq!(long.chars().count(), MAX_REASON_CHARS);
        assert!(long.ends_with('…'));
        let r = crate::plugin::loader::Rejection::new(None, format!("x{}", "y".repeat(500)));
        assert_eq!(r.reason.chars().count(), MAX_REASON_CHARS);
    }

    #[test]
    fn version_requirements() {
        assert_eq!(compatible_req("0.1.3"), "0.1");
        assert_eq!(compatible_req("2.4.0"), "2");
    }
}
