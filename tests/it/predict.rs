//! `mlhost predict`: a trained version's predictions streamed from a CSV,
//! equal to the model trained in memory; a damaged artifact, a missing
//! column, a bad cell or an unknown alias refused in one line, exit 2.

use std::path::Path;

use mlhost_tests::{Sandbox, plugin_so};

const MODELS: &str = "[[model]]\nid = \"logistic\"\nplugin = \"logistic\"\nscale = \"standard\"\n\n\
    [[model]]\nid = \"strict\"\nplugin = \"logistic\"\nimpute = \"none\"\n\n\
    [[model]]\nid = \"linear\"\nplugin = \"linear\"\n";

/// `n` generated rows: two numbers (x1 missing in every 17th row), a
/// colour (empty in every 23rd), a noisy class and a noisy value.
struct Row {
    x1: Option<f64>,
    x2: f64,
    colour: &'static str,
    label: &'static str,
    target: f64,
}

fn rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let x1 = (i * 37 % 101) as f64 / 10.0 - 5.0;
            let x2 = (i * 53 % 97) as f64 / 10.0 - 4.8;
            let c = i * 7 % 3;
            let noise = (i * 7919 % 13) as f64 / 3.0 - 2.0;
            let effect = [1.5, -1.0, 0.0][c];
            Row {
                x1: (i % 17 != 5).then_some(x1),
                x2,
                colour: if i % 23 == 4 { "" } else { ["red", "green", "blue"][c] },
                label: if x1 + 0.5 * x2 + effect + noise > 0.0 { "yes" } else { "no" },
                target: 2.0 * x1 - x2 + effect + noise,
            }
        })
        .collect()
}

fn x1(r: &Row) -> String {
    r.x1.map_or("NA".into(), |v| v.to_string())
}

/// The training file of one task: x1, colour, x2, then the label column.
fn training_csv(rows: &[Row], classes: bool) -> String {
    let mut text = format!("x1,colour,x2,{}\n", if classes { "label" } else { "target" });
    for r in rows {
        let y = if classes { r.label.to_owned() } else { r.target.to_string() };
        text.push_str(&format!("{},{},{},{y}\n", x1(r), r.colour, r.x2));
    }
    text
}

/// The same rows with an id first, the columns in another order and both
/// labels (ignored by the models).
fn input_csv(rows: &[Row]) -> String {
    let mut text = "id,x2,label,target,colour,x1\n".to_owned();
    for (i, r) in rows.iter().enumerate() {
        let line = format!("{i},{},{},{},{},{}\n", r.x2, r.label, r.target, r.colour, x1(r));
        text.push_str(&line);
    }
    text
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.add_plugin(plugin_so("logistic"), "liblogistic.so");
    sb.add_plugin(plugin_so("linear"), "liblinear.so");
    sb.write("config/models.toml", MODELS);
    sb
}

fn ok(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.mlhost(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

/// Exit 2 and the stderr line that starts with "error: ".
fn refused(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.mlhost(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    lines[0].to_owned()
}

fn train(sb: &Sandbox, model: &str, data: &str, label: &str, name: &str) -> serde_json::Value {
    let args = ["train", "--model", model, "--dataset", data, "--label", label, "--name", name];
    let out = ok(sb, &[&args[..], &["--json"]].concat());
    serde_json::from_str(&out).unwrap()
}

fn training_metric(sb: &Sandbox, name: &str, metric: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(&ok(sb, &["models", "show", name, "--json"]))
        .expect("models show prints JSON");
    v["metrics"]["training"][metric].as_f64().unwrap_or_else(|| panic!("{metric} in {v}"))
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).expect("predictions CSV");
    let head = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    (head, rows)
}

#[test]
fn predictions_equal_the_model_trained_in_memory() {
    let sb = sandbox();
    let data = rows(400);
    sb.write("clf.csv", &training_csv(&data, true));
    sb.write("reg.csv", &training_csv(&data, false));
    sb.write("input.csv", &input_csv(&data));
    train(&sb, "logistic", "clf.csv", "label", "clf");
    let out = sb.mlhost(&["predict", "--model", "clf", "--input", "input.csv", "--proba"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("ignored input columns the model does not use: id, label, target"),
        "{err}"
    );
    assert!(err.contains("predicted 400 rows with clf:1 (1.0.0) in "), "{err}");
    sb.write("p.csv", std::str::from_utf8(&out.stdout).unwrap());
    let (head, pred) = read_csv(&sb.path().join("p.csv"));
    assert_eq!(head, ["prediction", "proba_no", "proba_yes"]);
    assert_eq!(pred.len(), 400);
    let hits = pred.iter().zip(&data).filter(|(p, r)| p[0] == r.label).count();
    let accuracy = hits as f64 / 400.0;
    let stored = training_metric(&sb, "clf", "train_accuracy");
    assert!((accuracy - stored).abs() < 1e-12, "accuracy {accuracy} vs stored {stored}");
    assert!(stored > 0.6 && stored < 1.0, "a model that errs sometimes: {stored}");
    for p in &pred {
        let (no, yes): (f64, f64) = (p[1].parse().unwrap(), p[2].parse().unwrap());
        assert!((no + yes - 1.0).abs() < 1e-12, "{p:?}");
        assert_eq!(p[0], if yes > no { "yes" } else { "no" }, "{p:?}");
    }
    // A regressor: the same rows, values written so they read back exactly.
    train(&sb, "linear", "reg.csv", "target", "reg");
    ok(&sb, &["predict", "--model", "reg:1", "--input", "input.csv", "--output", "r.csv"]);
    let (head, pred) = read_csv(&sb.path().join("r.csv"));
    assert_eq!(head, ["prediction"]);
    let abs: f64 =
        pred.iter().zip(&data).map(|(p, r)| (p[0].parse::<f64>().unwrap() - r.target).abs()).sum();
    let mae = abs / data.len() as f64;
    let stored = training_metric(&sb, "reg", "train_mae");
    assert!((mae - stored).abs() < 1e-12 * stored.max(1.0), "mae {mae} vs stored {stored}");
    let line = refused(&sb, &["predict", "--model", "reg", "--input", "input.csv", "--proba"]);
    assert!(line.contains("reg:1 is a regression model"), "{line}");
}

#[test]
fn a_damaged_or_missing_artifact_is_refused_naming_the_file() {
    let sb = sandbox();
    let data = rows(120);
    sb.write("clf.csv", &training_csv(&data, true));
    sb.write("input.csv", &input_csv(&data));
    let report = train(&sb, "logistic", "clf.csv", "label", "clf");
    let artifact = report["artifactPath"].as_str().expect("artifactPath").to_owned();
    assert!(Path::new(&artifact).starts_with(sb.path()), "{artifact}");
    ok(&sb, &["predict", "--model", "clf", "--input", "input.csv", "--output", "p.csv"]);
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&artifact, &bytes).unwrap();
    let args = ["predict", "--model", "clf", "--input", "input.csv", "--output", "q.csv"];
    let line = refused(&sb, &args);
    assert!(
        line.starts_with(&format!("error: artifact {artifact} does not match its checksum")),
        "{line}"
    );
    assert!(!sb.path().join("q.csv").exists());
    std::fs::remove_file(&artifact).unwrap();
    let line = refused(&sb, &args);
    assert!(line.starts_with(&format!("error: artifact {artifact} is missing")), "{line}");
}

#[test]
fn bad_input_is_one_line_exit_2_and_leaves_no_file() {
    let sb = sandbox();
    let data = rows(60);
    sb.write("clf.csv", &training_csv(&data, true));
    train(&sb, "logistic", "clf.csv", "label", "clf");
    let predict = |input: &str, more: &[&str]| {
        sb.write("in.csv", input);
        let args = ["predict", "--model", "clf", "--input", "in.csv", "--output", "p.csv"];
        let line = refused(&sb, &[&args[..], more].concat());
        assert!(!sb.path().join("p.csv").exists(), "no file after: {line}");
        line
    };
    let line = predict("x1,colour\n1,red\n", &[]);
    assert_eq!(line, "error: in.csv: the input has no column 'x2'; the model needs x1, colour, x2");
    // Rows 2 to 6 are fine and already predicted in chunks of 2; row 7 is not.
    let mut text = "x2,colour,x1\n".to_owned();
    text.push_str(&"1,red,2\n".repeat(5));
    text.push_str("1,blue,abc\n");
    let line = predict(&text, &["--chunk-rows", "2"]);
    assert!(line.starts_with("error: in.csv: row 7, column 'x1': 'abc' is not a number"), "{line}");
    let leftovers: Vec<_> = std::fs::read_dir(sb.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let line = predict("", &[]);
    assert!(line.starts_with("error: in.csv: the file is empty"), "{line}");
    let line = predict("x2,colour,x1\n", &[]);
    assert!(line.starts_with("error: in.csv: no data rows after the header"), "{line}");
    // Names: an unknown alias, then the same alias once set.
    let unknown = ["predict", "--model", "clf@champion", "--input", "in.csv"];
    let line = refused(&sb, &unknown);
    assert!(line.starts_with("error: model 'clf' has no alias 'champion'"), "{line}");
    let line = refused(&sb, &["predict", "--model", "clf:3", "--input", "in.csv"]);
    assert!(line.starts_with("error: model 'clf' has no version 3"), "{line}");
    let line = refused(&sb, &["predict", "--model", "nope", "--input", "in.csv"]);
    assert!(line.starts_with("error: no model 'nope'"), "{line}");
    ok(&sb, &["models", "alias", "clf", "1", "champion"]);
    sb.write("in.csv", "x2,colour,x1\n1,red,2\n3,blue,\n");
    let out = ok(&sb, &["predict", "--model", "clf@champion", "--input", "in.csv"]);
    assert_eq!(out.lines().count(), 3, "header and two rows: {out}");
    // A model without an imputer names the missing cell's line.
    sb.write(
        "clean.csv",
        &training_csv(
            &rows(60)
                .into_iter()
                .filter(|r| r.x1.is_some() && !r.colour.is_empty())
                .collect::<Vec<_>>(),
            true,
        ),
    );
    train(&sb, "strict", "clean.csv", "label", "strict");
    let line = refused(&sb, &["predict", "--model", "strict", "--input", "in.csv"]);
    assert_eq!(
        line,
        "error: in.csv: row 3, column 'x1': missing value, and the model was trained without imputing one; fill the cell in"
    );
}
