//! `mlhost importance`: permutation importance on a run's held-out folds,
//! with real plugins on data whose label depends on one feature only.

use mlhost_tests::{Sandbox, plugin_so};
use serde_json::Value;

#[test]
fn the_one_feature_that_decides_the_label_is_the_important_one() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("tree"), "libtree.so");
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.write(
        "config/models.toml",
        "[[model]]\nid = \"tree\"\nplugin = \"tree\"\nencode = \"ordinal\"\n\n[[model]]\nid = \"logistic\"\nplugin = \"logistic\"\nscale = \"standard\"\n",
    );
    // label = (signal > 0); noise is unrelated (a fixed pseudo-random walk).
    let mut csv = String::from("noise,signal,label\n");
    for i in 0..200u32 {
        let signal = f64::from(i % 17) - 8.0 + f64::from(i % 3) * 0.1;
        let noise = f64::from((i * 7919) % 101) / 10.0;
        csv.push_str(&format!("{noise},{signal},{}\n", u8::from(signal > 0.0)));
    }
    sb.write("data.csv", &csv);
    let out = sb.mlhost(&["eval", "--json", "--dataset", "data.csv", "--folds", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = run["runId"].as_str().unwrap();
    for model in ["tree", "logistic"] {
        let out = sb.mlhost(&["importance", run_id, "--model", model, "--repeats", "3", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (r["metric"].as_str(), r["folds"].as_u64(), r["repeats"].as_u64()),
            (Some("f1"), Some(4), Some(3))
        );
        let f = r["features"].as_array().unwrap();
        let (noise, signal) = (&f[0], &f[1]);
        assert_eq!(
            (noise["name"].as_str(), signal["name"].as_str()),
            (Some("noise"), Some("signal"))
        );
        let imp = |v: &Value| v["importanceMean"].as_f64().unwrap();
        assert!(imp(signal) > 0.3, "{model}: shuffling the signal loses most of f1: {r}");
        assert!(imp(noise).abs() < 0.05, "{model}: the noise matters little: {r}");
        // Seeded: the same request gives the same numbers.
        let again =
            sb.mlhost(&["importance", run_id, "--model", model, "--repeats", "3", "--json"]);
        assert_eq!(again.stdout, out.stdout);
    }
    let tree: Value = serde_json::from_slice(
        &sb.mlhost(&["importance", run_id, "--model", "tree", "--json"]).stdout,
    )
    .unwrap();
    let own = |i: usize| tree["features"][i]["pluginImportance"].as_f64().unwrap();
    assert!(own(1) > own(0), "the tree's own importances agree: {tree}");
    for (args, expected) in [
        (vec!["importance", run_id, "--model", "knn"], "no succeeded job of 'knn'"),
        (vec!["importance", "nope", "--model", "tree"], "no run 'nope'"),
        (
            vec!["importance", run_id, "--model", "tree", "--metric", "r2"],
            "--metric r2: not a score of this run",
        ),
    ] {
        let out = sb.mlhost(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "{err}");
    }
}
