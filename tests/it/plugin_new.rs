//! `mlhost plugin new`: the crate it writes builds, passes its own test and
//! evaluates in a host, outside this repository and offline.

use mlhost_tests::{Sandbox, cargo_build_offline, cargo_test_offline, root};
use serde_json::Value;

#[test]
fn a_new_plugin_builds_tests_and_evaluates_outside_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    let dir = outside.path().join("nearest-centroid");
    let sb = Sandbox::new();
    let out = sb.mlhost(&["plugin", "new", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created plugin 'nearest-centroid'"));
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.lines().count() <= 80, "the example stays short: {} lines", lib.lines().count());
    // The same dependency versions as this workspace, so it builds offline.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let test = cargo_test_offline(&dir);
    assert!(test.status.success(), "its own test: {}", String::from_utf8_lossy(&test.stderr));
    assert!(
        String::from_utf8_lossy(&test.stdout).contains("each_row_goes_to_the_nearest_mean ... ok")
    );

    let built = cargo_build_offline(&dir);
    let so = built.get("mlhost_plugin_nearest_centroid").expect("the .so was built");
    sb.add_plugin(so, "libmlhost_plugin_nearest_centroid.so");
    let report = sb.registry_json();
    let row = &report["models"][0];
    assert_eq!(
        (&row["id"], &row["state"]),
        (&Value::from("nearest-centroid"), &Value::from("ready"))
    );
    assert_eq!(row["paramsSchema"][0]["name"], "temperature");
    assert_eq!(row["paramsSchema"][0]["logScale"], true);

    let out = sb.mlhost(&["eval", "--json", "--dataset", "builtin:iris", "--folds", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let model = &run["models"][0];
    assert_eq!(model["status"], "succeeded", "{run:#}");
    // Nearest centroid on iris is a real classifier (scikit-learn's
    // NearestCentroid scores about 0.93 there).
    assert!(model["metrics"]["accuracy"].as_f64().unwrap() > 0.85, "{model:#}");
    assert!(model["metrics"]["log_loss"].is_number(), "probabilities reach the host");
}

#[test]
fn plugin_new_refuses_a_folder_in_use_and_a_bad_name() {
    let sb = Sandbox::new();
    let out = sb.mlhost(&["plugin", "new", sb.path().to_str().unwrap(), "--name", "ok"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    let dir = sb.path().join("x");
    let out = sb.mlhost(&["plugin", "new", dir.to_str().unwrap(), "--name", "Bad Name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not usable"));
}
