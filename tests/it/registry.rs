//! `mlhost registry` against real plugin files, good and broken on purpose.

use mlhost::plugin::loader::sha256_hex;
use mlhost_tests::{Sandbox, altered_api_so, baseline_so, fixture_so, old_api_so};
use serde_json::Value;

fn row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["models"]
        .as_array()
        .expect("models array")
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no row {id} in {report:#}"))
}

fn reason(report: &Value, id: &str) -> String {
    let r = row(report, id);
    assert_eq!(r["state"], "rejected", "{id} should be rejected: {r:#}");
    r["reason"].as_str().expect("a reason").to_owned()
}

#[test]
fn baseline_is_ready_with_version_and_sha256() {
    let sb = Sandbox::new();
    let so = sb.add_plugin(baseline_so(), "libmlhost_plugin_baseline.so");
    let report = sb.registry_json();
    let b = row(&report, "baseline");
    assert_eq!(b["state"], "ready");
    assert_eq!(b["plugin"], "baseline");
    assert_eq!(b["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(b["task"], "classification|regression");
    assert_eq!(b["reason"], Value::Null);
    assert_eq!(b["path"], so.display().to_string());
    assert_eq!(b["sha256"], sha256_hex(&std::fs::read(&so).unwrap()));
    assert_eq!(b["params"], serde_json::json!({"smoothing": 0.0, "statistic": "mean"}));
    assert_eq!(report["models"].as_array().unwrap().len(), 1);
}

#[test]
fn every_broken_file_is_rejected_with_its_own_reason_while_the_good_one_loads() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.write("plugins/notes.so", "these are my notes, not a library\n");
    sb.write("plugins/empty.so", "");
    let full = std::fs::read(baseline_so()).unwrap();
    std::fs::write(sb.path().join("plugins/half.so"), &full[..full.len() / 3]).unwrap();
    sb.add_plugin(fixture_so("no-root"), "libno_root.so");
    sb.add_plugin(fixture_so("panic-ctor"), "libpanic_ctor.so");
    sb.add_plugin(&old_api_so("0.1.0"), "libold_api.so");
    sb.add_plugin(
        &altered_api_so("api-wide-control", &mlhost_tests::plugin_api_version(), widen_control),
        "libwide.so",
    );
    let ww = sb.add_plugin(baseline_so(), "libshared.so");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ww, std::fs::Permissions::from_mode(0o777)).unwrap();
    let gw = sb.add_plugin(baseline_so(), "libgroup.so");
    std::fs::set_permissions(&gw, std::fs::Permissions::from_mode(0o775)).unwrap();
    sb.write("plugins/README.txt", "not a .so: never looked at");

    let report = sb.registry_json();
    assert_eq!(row(&report, "baseline")["state"], "ready");
    let cases = [
        (
            "notes",
            "not a shared object: a text file; build the plugin as a cdylib and copy its .so",
        ),
        (
            "empty",
            "not a shared object: the file is empty (a failed build or copy?); rebuild it and copy it again",
        ),
        ("half", "truncated: its structure ends at byte"),
        (
            "no_root",
            "no mlhost root module: a shared library, but not an mlhost plugin (add `mlhost_plugin_api::export_plugin!(YourModel);` and rebuild)",
        ),
        (
            "old_api",
            "built against plugin-api 0.1.0 but host has 0.3.0; rebuild the plugin against mlhost-plugin-api 0.3",
        ),
        ("wide", "layout mismatch in type Control: "),
        ("panic-ctor", "constructor panicked: fixture: constructor exploded"),
        (
            "shared",
            "file is world-writable (mode 777): anyone could replace the code; run `chmod go-w",
        ),
        ("group", "file is group-writable (mode 775)"),
    ];
    for (id, expected) in cases {
        let got = reason(&report, id);
        assert!(
            got.starts_with(expected),
            "{id}: got {got:?}, expected it to start with {expected:?}"
        );
        assert!(!got.contains('\n'), "{id}: reason must be one line: {got:?}");
    }
    assert_eq!(report["models"].as_array().unwrap().len(), cases.len() + 1);

    // The table says the same, and a broken plugin is not a failed command.
    let out = sb.mlhost(&["registry"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 ready, 9 rejected, 0 disabled"), "{text}");
    assert!(text.contains("rejected old_api: built against plugin-api 0.1.0"), "{text}");
}

/// Same version number, different layout: `Control` becomes 4 bytes wide.
fn widen_control(ffi: String) -> String {
    let from =
        "#[repr(u8)]\n#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]\npub enum Control";
    assert!(ffi.contains(from), "ffi.rs changed: update this fixture edit");
    ffi.replace(from, &from.replace("u8", "u32"))
}

#[test]
fn registry_entries_validate_params_pins_and_plugin_names() {
    let sb = Sandbox::new();
    let so = sb.add_plugin(baseline_so(), "libbaseline.so");
    let sha = sha256_hex(&std::fs::read(&so).unwrap());
    sb.write(
        "config/models.toml",
        &format!(
            r#"
[[model]]
id = "smooth"
plugin = "baseline"
params = {{ smoothing = 1 }}
sha256 = "{sha}"

[[model]]
id = "median"
plugin = "baseline"
params = {{ statistic = "median" }}

[[model]]
id = "negative"
plugin = "baseline"
params = {{ smoothing = -1.0 }}

[[model]]
id = "typo"
plugin = "baseline"
params = {{ smothing = 1.0 }}

[[model]]
id = "bad-choice"
plugin = "baseline"
params = {{ statistic = "mode" }}

[[model]]
id = "pinned-other"
plugin = "baseline"
sha256 = "{zeros}"

[[model]]
id = "ghost"
plugin = "forest"

[[model]]
id = "off"
plugin = "baseline"
enabled = false

[[model]]
id = "string-float"
plugin = "baseline"
params = {{ smoothing = "0.2" }}
"#,
            zeros = "0".repeat(64)
        ),
    );
    let report = sb.registry_json();
    assert_eq!(row(&report, "smooth")["state"], "ready");
    assert_eq!(row(&report, "smooth")["params"]["smoothing"], 1.0);
    assert_eq!(row(&report, "median")["params"]["statistic"], "median");
    let cases = [
        ("negative", "parameters invalid: parameter 'smoothing': expected a float in [0, 1000000], got -1; fix `params` at models.toml line 16".to_owned()),
        ("typo", "parameters invalid: parameter 'smothing': unknown to plugin 'baseline' (known: smoothing, statistic); fix `params` at models.toml line 21".to_owned()),
        ("bad-choice", "parameters invalid: parameter 'statistic': expected one of mean, median, got \"mode\"; fix `params` at models.toml line 26".to_owned()),
        ("string-float", "parameters invalid: parameter 'smoothing': expected a float in [0, 1000000], got the string \"0.2\"; fix `params` at models.toml line 45".to_owned()),
        ("pinned-other", format!("sha256 does not match the registry pin: pinned {}…, file has {}…; rebuild the pinned version or update the pin to the file's sha256", "0".repeat(12), &sha[..12])),
        ("ghost", format!("plugin 'forest' not found in {} (loaded: baseline); fix `plugin` at models.toml line 34 or build the plugin", sb.path().join("plugins").display())),
    ];
    for (id, expected) in cases {
        assert_eq!(reason(&report, id), expected, "{id}");
    }
    // Entries name the plugin, so it gets no default candidate of its own.
    assert!(report["models"].as_array().unwrap().iter().all(|m| m["id"] != "baseline"));
    assert_eq!(report["disabled"], serde_json::json!(["off"]));
}

#[test]
fn invalid_config_exits_2_naming_file_line_and_key() {
    let sb = Sandbox::new();
    sb.write("config/mlhost.toml", "plugin_dirs = [\"../plugins\"]\n[eval]\nworkers = 0\n");
    let out = sb.mlhost(&["registry"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("config/mlhost.toml:3: key `workers`: must be between 1 and 256, got 0"),
        "{err}"
    );

    let sb = Sandbox::new();
    sb.write("config/models.toml", "[[model]]\nid = \"a\"\nplugin = \"baseline\"\n\n[[model]]\nid = \"a\"\nplugin = \"baseline\"\n");
    let out = sb.mlhost(&["registry", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("models.toml:6: key `id`: duplicate id 'a': entries at lines 2 and 6 both use it; rename one"), "{err}");
    assert!(out.stdout.is_empty());

    let out = sb.mlhost(&["registry", "--config", "nowhere.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("nowhere.toml: cannot read"));
    assert_eq!(sb.mlhost(&["registry", "--jsn"]).status.code(), Some(2));
}

#[test]
fn empty_plugin_dir_says_how_to_get_plugins() {
    let sb = Sandbox::new();
    let out = sb.mlhost(&["registry"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let tail = text
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&sb.path().display().to_string(), "$SANDBOX");
    expect_test::expect![[r#"

        0 ready, 0 rejected, 0 disabled (plugin-api 0.3.0)
        warning: no *.so plugin files in $SANDBOX/plugins; build the plugins (`cargo build --release`) or drop a .so there"#]]
    .assert_eq(&tail);
}

#[test]
fn a_dropped_file_shows_up_without_any_config_edit() {
    let sb = Sandbox::new();
    assert_eq!(sb.registry_json()["models"].as_array().unwrap().len(), 0);
    sb.add_plugin(baseline_so(), "libbaseline.so");
    assert_eq!(row(&sb.registry_json(), "baseline")["state"], "ready");
}

#[test]
fn the_report_carries_each_candidates_parameter_schema() {
    let sb = Sandbox::new();
    sb.add_plugin(baseline_so(), "libbaseline.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"smooth\"\nplugin = \"baseline\"\nparams = { smoothing = 2.5 }\n\n[[model]]\nid = \"off\"\nplugin = \"baseline\"\nenabled = false\n",
    );
    let report = sb.registry_json();
    let schema = &row(&report, "smooth")["paramsSchema"];
    assert_eq!(
        schema[0],
        serde_json::json!({"name": "smoothing", "kind": "float", "default": 0.0, "min": 0.0,
            "max": 1_000_000.0, "logScale": false, "choices": [],
            "description": "additive smoothing of class counts for probabilities"})
    );
    assert_eq!(schema[1]["kind"], "choice");
    assert_eq!(schema[1]["choices"], serde_json::json!(["mean", "median"]));

    let out = sb.mlhost(&["registry", "--model", "smooth"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = expect_test::expect![[r#"
        PARAM      KIND    VALUE  DEFAULT  RANGE         SCALE  CHOICES      DESCRIPTION
        smoothing  float   2.5    0.0      [0, 1000000]  -      -            additive smoothing of class counts for probabilities
        statistic  choice  mean   mean     -             -      mean|median  regression: predict the mean or the median
    "#]];
    expected.assert_eq(&text[text.find("PARAM").unwrap()..]);
    assert!(text.starts_with("id          smooth\nplugin      baseline "), "{text}");
    let one: Value =
        serde_json::from_slice(&sb.mlhost(&["registry", "--model", "smooth", "--json"]).stdout)
            .unwrap();
    assert_eq!(one["id"], "smooth");
    assert_eq!(one["paramsSchema"], *schema);
    for (id, says) in [("nope", "no candidate 'nope'"), ("off", "is disabled in models.toml")] {
        let out = sb.mlhost(&["registry", "--model", id]);
        assert_eq!(out.status.code(), Some(2), "{id}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{id}");
    }
}

/// cargo puts a workspace's proc-macro libraries beside the plugins it
/// builds (the default config scans `target/release`): such a library is
/// skipped, neither a candidate nor a rejection.
#[test]
fn a_proc_macro_library_beside_the_plugins_is_skipped() {
    let sb = Sandbox::new();
    let base = baseline_so();
    sb.add_plugin(base, "libbaseline.so");
    let deps = base.parent().unwrap().join("deps");
    let derive = std::fs::read_dir(&deps)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("libmlhost_plugin_derive-") && name.ends_with(".so")
        })
        .expect("plugin-derive is built with the plugins");
    sb.add_plugin(&derive, "libmlhost_plugin_derive.so");
    let report = sb.registry_json();
    let ids: Vec<&str> =
        report["models"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["baseline"], "{report}");
    assert_eq!(row(&report, "baseline")["state"], "ready");
}
