//! Every metric against scikit-learn's value for the same input
//! (`host/tests/data/metrics_sklearn.json`, made by `gen_metrics.py`).

use super::*;
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = include_str!("../../tests/data/metrics_sklearn.json");
    let doc: Value = serde_json::from_str(text).expect("fixture is JSON");
    doc["cases"].as_array().expect("cases").clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn compare(name: &str, scores: &Scores, expected: &Value) {
    let expected = expected.as_object().expect("expected map");
    let got: BTreeMap<String, Option<f64>> = scores.to_map();
    let got_keys: Vec<&String> = got.keys().collect();
    let want_keys: Vec<&String> = expected.keys().collect();
    assert_eq!(got_keys, want_keys, "{name}: metric names");
    for (key, want) in expected {
        let have = got[key];
        match (have, want.as_f64()) {
            (None, None) => {}
            (Some(h), Some(w)) if close(h, w) => {}
            (h, w) => panic!("{name}: {key} = {h:?}, scikit-learn says {w:?}"),
        }
        if have.is_none() {
            assert!(
                scores.warnings.iter().any(|w| w.starts_with(&format!("{key} is undefined"))),
                "{name}: an undefined {key} needs a warning"
            );
        }
    }
}

#[test]
fn every_metric_equals_scikit_learn() {
    let cases = cases();
    assert!(cases.len() >= 30);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let scores = match case["task"].as_str().unwrap() {
            "classification" => {
                let codes = |v: &Value| -> Vec<u32> {
                    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
                };
                let (y_true, y_pred) = (codes(&case["y_true"]), codes(&case["y_pred"]));
                let proba = (!case["proba"].is_null()).then(|| floats(&case["proba"]));
                classification(ClassInput {
                    y_true: &y_true,
                    y_pred: &y_pred,
                    proba: proba.as_deref(),
                    n_classes: case["n_classes"].as_u64().unwrap() as usize,
                    pos_label: case["pos_label"].as_u64().unwrap() as u32,
                })
                .unwrap()
            }
            _ => {
                let (t, p) = (floats(&case["y_true"]), floats(&case["y_pred"]));
                regression(RegInput { y_true: &t, y_pred: &p }).unwrap()
            }
        };
        compare(name, &scores, &case["expected"]);
    }
}

#[test]
fn bad_inputs_are_errors_not_numbers() {
    let input = |t: &'static [u32], p: &'static [u32]| ClassInput {
        y_true: t,
        y_pred: p,
        proba: None,
        n_classes: 2,
        pos_label: 1,
    };
    assert_eq!(
        classification(input(&[0, 1], &[0])).unwrap_err(),
        "2 true labels but 1 predictions"
    );
    assert_eq!(classification(input(&[], &[])).unwrap_err(), "no predictions to score");
    assert_eq!(classification(input(&[0, 5], &[0, 1])).unwrap_err(), "label code 5 outside 0..2");
    let e = regression(RegInput { y_true: &[1.0], y_pred: &[] }).unwrap_err();
    assert_eq!(e, "1 true values but 0 predictions");
}

#[test]
fn mean_and_population_std_skip_undefined_folds() {
    assert_eq!(mean_std(&[Some(1.0), None, Some(3.0)]), (Some(2.0), Some(1.0)));
    assert_eq!(mean_std(&[None, None]), (None, None));
}
