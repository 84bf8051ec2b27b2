//! The scikit-learn fixture the diagnostics are tested against
//! (`tests/fixtures/sklearn/confusion.json`, made by `confusion.py` beside
//! it: `PYTHONPATH=/tmp/pylib python3 tests/fixtures/sklearn/confusion.py`).

use serde_json::Value;

/// Every case of the fixture.
pub(super) fn cases() -> Vec<Value> {
    let text = include_str!("../../../tests/fixtures/sklearn/confusion.json");
    let doc: Value = serde_json::from_str(text).expect("fixture is JSON");
    doc["cases"].as_array().expect("cases").clone()
}

/// Equal to 1e-12.
pub(super) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

/// Class codes.
pub(super) fn codes(v: &Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("code") as u32).collect()
}
