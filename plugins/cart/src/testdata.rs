//! The generated data of `tests/fixtures/sklearn/mid.py` (20 features in
//! [-1, 1), a binary label, a three-class label and a real target) and
//! scikit-learn's cross-validated scores on it, for the plugins' accuracy
//! tests.

use mlhost_plugin_api::SeededRng;

/// `sklearn_mid.json`: rows, folds, the first row and the positives (to
/// check the generator), and scikit-learn's per-fold scores.
pub const SKLEARN_MID: &str = include_str!("sklearn_mid.json");

/// `n` rows of 20 features in [-1, 1) (row-major) and their labels.
pub fn mid(n: usize) -> (Vec<f64>, Vec<u32>) {
    let mut rng = SeededRng::new(7);
    let (mut x, mut y) = (Vec::with_capacity(n * 20), Vec::with_capacity(n));
    for _ in 0..n {
        let u: Vec<f64> = (0..20).map(|_| rng.uniform() * 2.0 - 1.0).collect();
        let mut label = u32::from(signal(&u) > 0.0);
        if rng.uniform() < 0.05 {
            label = 1 - label;
        }
        x.extend(u);
        y.push(label);
    }
    (x, y)
}

/// The noiseless score behind the labels.
fn signal(u: &[f64]) -> f64 {
    u[0] * u[1] + 0.6 * u[2] - 0.3 * u[3] * u[3]
}

/// Three classes of the rows `x`: 0, 1 or 2 as the signal passes -0.15
/// and 0.25 (no flipped labels).
pub fn three_classes(x: &[f64]) -> Vec<u32> {
    x.chunks_exact(20).map(|u| u32::from(signal(u) > -0.15) + u32::from(signal(u) > 0.25)).collect()
}

/// A real target for the rows `x`: the signal + 0.5·u4·u5 + uniform noise
/// in [-0.3, 0.3) from a second generator seeded 11.
pub fn regression_target(x: &[f64]) -> Vec<f64> {
    let mut rng = SeededRng::new(11);
    x.chunks_exact(20)
        .map(|u| signal(u) + 0.5 * u[4] * u[5] + 0.3 * (rng.uniform() * 2.0 - 1.0))
        .collect()
}

/// The fixture's rows and folds, after checking the generator against it.
fn fixture() -> (serde_json::Value, Vec<f64>, Vec<u32>, usize) {
    let doc: serde_json::Value = serde_json::from_str(SKLEARN_MID).expect("fixture");
    let n = doc["rows"].as_u64().expect("rows") as usize;
    let k = doc["folds"].as_u64().expect("folds") as usize;
    let (x, y) = mid(n);
    let first: Vec<f64> = serde_json::from_value(doc["first_row"].clone()).expect("row");
    assert_eq!(&x[..20], &first[..], "the generator matches the fixture's");
    assert_eq!(y.iter().sum::<u32>() as u64, doc["positives"].as_u64().expect("positives"));
    (doc, x, y, k)
}

/// The mean over the fixture's unshuffled KFold of `score(train, test)`
/// (row indices), and scikit-learn's mean for `model`.
fn kfold(
    doc: &serde_json::Value,
    n: usize,
    k: usize,
    model: &str,
    score: impl Fn(&[usize], &[usize]) -> f64,
) -> (f64, f64) {
    let mut ours = 0.0;
    for f in 0..k {
        let test: Vec<usize> = (f * n / k..(f + 1) * n / k).collect();
        let train: Vec<usize> = (0..n).filter(|i| !test.contains(i)).collect();
        ours += score(&train, &test) / k as f64;
    }
    let theirs: Vec<f64> = serde_json::from_value(doc[model].clone()).expect("model");
    (ours, theirs.iter().sum::<f64>() / theirs.len() as f64)
}

fn rows(x: &[f64], idx: &[usize]) -> Vec<f64> {
    idx.iter().flat_map(|&i| x[i * 20..(i + 1) * 20].iter().copied()).collect()
}

/// Mean cross-validated accuracy of `fit_predict(train_x, train_y,
/// test_x) -> predictions` over the fixture's unshuffled KFold, and
/// scikit-learn's mean for `model` ("random_forest_100",
/// "decision_tree", "hist_gradient_boosting"; "hist_gradient_boosting_3class"
/// is scored on [`three_classes`] instead of the binary labels).
pub fn cross_validate(
    model: &str,
    fit_predict: impl Fn(&[f64], &[u32], &[f64]) -> Vec<u32>,
) -> (f64, f64) {
    let (doc, x, binary, k) = fixture();
    let y = if model.ends_with("_3class") { three_classes(&x) } else { binary };
    kfold(&doc, y.len(), k, model, |train, test| {
        let labels: Vec<u32> = train.iter().map(|&i| y[i]).collect();
        let pred = fit_predict(&rows(&x, train), &labels, &rows(&x, test));
        let right = test.iter().zip(&pred).filter(|(i, p)| y[**i] == **p).count();
        right as f64 / test.len() as f64
    })
}

/// Mean cross-validated R² of `fit_predict(train_x, train_y, test_x)` on
/// [`regression_target`] over the fixture's KFold, and scikit-learn's mean
/// for `model` ("hist_gradient_boosting_regressor").
pub fn cross_validate_regression(
    model: &str,
    fit_predict: impl Fn(&[f64], &[f64], &[f64]) -> Vec<f64>,
) -> (f64, f64) {
    let (doc, x, _, k) = fixture();
    let y = regression_target(&x);
    kfold(&doc, y.len(), k, model, |train, test| {
        let targets: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let pred = fit_predict(&rows(&x, train), &targets, &rows(&x, test));
        let truth: Vec<f64> = test.iter().map(|&i| y[i]).collect();
        let mean = truth.iter().sum::<f64>() / truth.len() as f64;
        let residual: f64 = truth.iter().zip(&pred).map(|(t, p)| (t - p) * (t - p)).sum();
        let total: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
        1.0 - residual / total
    })
}
