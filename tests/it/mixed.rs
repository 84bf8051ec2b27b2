//! A CSV with a text column, empty cells and text labels evaluates end to
//! end: each candidate prepares the data on its training folds (impute,
//! one-hot or ordinal codes, scale), in both isolation modes, and a
//! candidate with `impute = "none"` fails naming the row and column.

use mlhost_tests::{Sandbox, plugin_so};
use serde_json::Value;

/// 240 rows: `age` (every 7th empty), `city` (text, every 11th `NA`),
/// `noise`, and a text label that depends on city and age only.
fn mixed_csv() -> String {
    let cities = ["lyon", "nice", "paris"];
    let mut csv = String::from("age,city,noise,label\n");
    for i in 0..240u32 {
        let age = 20 + (i * 37) % 50;
        let city = cities[(i as usize * 7) % 3];
        let label = if city == "paris" || age >= 55 { "buys" } else { "browses" };
        let age_cell = if i % 7 == 3 { String::new() } else { age.to_string() };
        let city_cell = if i % 11 == 5 { "NA" } else { city };
        let noise = (i * 13 % 17) as f64 / 17.0;
        csv.push_str(&format!("{age_cell},{city_cell},{noise:.3},{label}\n"));
    }
    csv
}

const MODELS: &str = r#"
[[model]]
id = "tree"
plugin = "tree"
encode = "ordinal"

[[model]]
id = "logistic"
plugin = "logistic"
scale = "standard"
params = { c = 100.0 }

[[model]]
id = "strict"
plugin = "logistic"
impute = "none"
"#;

#[test]
fn a_mixed_csv_evaluates_end_to_end() {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("tree"), "libtree.so");
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.write("config/models.toml", MODELS);
    sb.write("mixed.csv", &mixed_csv());
    for isolation in ["thread", "process"] {
        let args = ["eval", "--json", "--dataset", "mixed.csv", "--folds", "3"];
        let out = sb.mlhost(&[&args[..], &["--isolation", isolation]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{isolation}: {err}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let model = |id: &str| {
            report["models"].as_array().unwrap().iter().find(|m| m["modelId"] == id).unwrap()
        };
        for id in ["tree", "logistic"] {
            let m = model(id);
            assert_eq!(m["status"], "succeeded", "{isolation} {id}: {m}");
            let accuracy = m["metrics"]["accuracy"].as_f64().unwrap();
            // The label is a rule on city and age, blurred only where a
            // cell was imputed: a model that ignored `city` (or read its
            // codes as noise) would sit near the 0.6 majority.
            assert!(accuracy > 0.85, "{isolation} {id}: accuracy {accuracy}");
        }
        let strict = model("strict");
        assert_eq!(strict["status"], "failed", "{isolation}: {strict}");
        let error = strict["error"].as_str().unwrap();
        assert!(
            error.contains("column 'age': missing value") && error.contains("impute = \"none\""),
            "{isolation}: {error}"
        );
    }
}
