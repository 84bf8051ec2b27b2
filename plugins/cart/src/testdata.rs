//! The generated `mid` dataset of `tests/fixtures/sklearn/mid.py` and what
//! scikit-learn scored on it (`sklearn_mid.json`), for the plugins' accuracy
//! tests and benchmarks. Test support only: nothing here runs in a plugin.
//!
//! Folds are the fixture's unshuffled KFold; scaling, when a candidate needs
//! it, is the test's closure's business ([`standardize`]), as it is the
//! host's per fold.

use mlhost_plugin_api::SeededRng;

/// `sklearn_mid.json`: rows, folds, the first row, the positives and the
/// target sum (to check the generator), and scikit-learn's per-fold scores.
pub const SKLEARN_MID: &str = include_str!("sklearn_mid.json");

/// Features per row.
pub const COLS: usize = 20;

/// One generated dataset (see the script's docstring for the definitions).
#[derive(Debug, Clone)]
pub struct Mid {
    /// Row-major features in [-1, 1), [`COLS`] per row.
    pub x: Vec<f64>,
    /// The binary label.
    pub y: Vec<u32>,
    /// The three-class label.
    pub y3: Vec<u32>,
    /// The regression target.
    pub target: Vec<f64>,
}

/// Which label a classification check uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// `y`: two classes.
    Binary,
    /// `y3`: three classes (the binary label + whether u4 > 0).
    ThreeClass,
    /// [`three_classes`]: three bands of the noiseless signal.
    Banded,
}

/// `n` generated rows.
pub fn generate(n: usize) -> Mid {
    let mut rng = SeededRng::new(7);
    let mut m = Mid {
        x: Vec::with_capacity(n * COLS),
        y: Vec::with_capacity(n),
        y3: Vec::with_capacity(n),
        target: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let u: Vec<f64> = (0..COLS).map(|_| rng.uniform() * 2.0 - 1.0).collect();
        let v = rng.uniform();
        let mut label = u32::from(u[0] * u[1] + 0.6 * u[2] - 0.3 * u[3] * u[3] > 0.0);
        if v < 0.05 {
            label = 1 - label;
        }
        m.y.push(label);
        m.y3.push(label + u32::from(u[4] > 0.0));
        m.target.push(3.0 * u[0] - 2.0 * u[1] + u[2] * u[3] + (2.0 * v - 1.0));
        m.x.extend(u);
    }
    m
}

/// `n` rows of 20 features in [-1, 1) (row-major) and their binary labels.
pub fn mid(n: usize) -> (Vec<f64>, Vec<u32>) {
    let m = generate(n);
    (m.x, m.y)
}

/// The noiseless score behind the labels.
fn signal(u: &[f64]) -> f64 {
    u[0] * u[1] + 0.6 * u[2] - 0.3 * u[3] * u[3]
}

/// Three classes of the rows `x`: 0, 1 or 2 as the signal passes -0.15
/// and 0.25 (no flipped labels).
pub fn three_classes(x: &[f64]) -> Vec<u32> {
    x.chunks_exact(COLS)
        .map(|u| u32::from(signal(u) > -0.15) + u32::from(signal(u) > 0.25))
        .collect()
}

/// A real target for the rows `x`: the signal + 0.5·u4·u5 + uniform noise
/// in [-0.3, 0.3) from a second generator seeded 11 (the gradient boosting
/// regressor's; [`Mid::target`] is the linear models').
pub fn regression_target(x: &[f64]) -> Vec<f64> {
    let mut rng = SeededRng::new(11);
    x.chunks_exact(COLS)
        .map(|u| signal(u) + 0.5 * u[4] * u[5] + 0.3 * (rng.uniform() * 2.0 - 1.0))
        .collect()
}

/// The fixture's JSON and its dataset, checked against each other.
fn fixture() -> (serde_json::Value, Mid, usize) {
    let doc: serde_json::Value = serde_json::from_str(SKLEARN_MID).expect("fixture");
    let m = generate(doc["rows"].as_u64().expect("rows") as usize);
    let first: Vec<f64> = serde_json::from_value(doc["first_row"].clone()).expect("row");
    assert_eq!(&m.x[..COLS], &first[..], "the generator matches the fixture's");
    assert_eq!(m.y.iter().sum::<u32>() as u64, doc["positives"].as_u64().expect("positives"));
    assert_eq!(m.target.iter().sum::<f64>(), doc["target_sum"].as_f64().expect("target_sum"));
    let k = doc["folds"].as_u64().expect("folds") as usize;
    (doc, m, k)
}

/// scikit-learn's mean score for `model`.
fn their_mean(doc: &serde_json::Value, model: &str) -> f64 {
    let theirs: Vec<f64> = serde_json::from_value(doc[model].clone()).expect("model");
    theirs.iter().sum::<f64>() / theirs.len() as f64
}

/// Rows `idx` of `x`.
fn rows(x: &[f64], idx: &[usize]) -> Vec<f64> {
    idx.iter().flat_map(|&i| x[i * COLS..(i + 1) * COLS].iter().copied()).collect()
}

/// The train and test row indices of fold `f` of an unshuffled KFold(k).
fn fold(n: usize, k: usize, f: usize) -> (Vec<usize>, Vec<usize>) {
    let test = f * n / k..(f + 1) * n / k;
    ((0..n).filter(|i| !test.contains(i)).collect(), test.collect())
}

/// Mean of `score(truth, predicted)` over the folds of `fit_predict(train_x,
/// train_y, test_x) -> predictions`.
fn folds_mean<T: Copy>(
    x: &[f64],
    y: &[T],
    k: usize,
    fit_predict: impl Fn(&[f64], &[T], &[f64]) -> Vec<T>,
    score: impl Fn(&[T], &[T]) -> f64,
) -> f64 {
    let n = y.len();
    let mut mean = 0.0;
    for f in 0..k {
        let (train, test) = fold(n, k, f);
        let train_y: Vec<T> = train.iter().map(|&i| y[i]).collect();
        let test_y: Vec<T> = test.iter().map(|&i| y[i]).collect();
        let pred = fit_predict(&rows(x, &train), &train_y, &rows(x, &test));
        mean += score(&test_y, &pred) / k as f64;
    }
    mean
}

/// Mean cross-validated accuracy of `fit_predict(train_x, train_y, test_x)
/// -> predictions` on the binary label, and scikit-learn's mean for `model`
/// ("random_forest_100", "decision_tree", "gaussian_nb", ...).
pub fn cross_validate(
    model: &str,
    fit_predict: impl Fn(&[f64], &[u32], &[f64]) -> Vec<u32>,
) -> (f64, f64) {
    classify(model, Labels::Binary, fit_predict)
}

/// [`cross_validate`] on the chosen labels.
pub fn classify(
    model: &str,
    labels: Labels,
    fit_predict: impl Fn(&[f64], &[u32], &[f64]) -> Vec<u32>,
) -> (f64, f64) {
    let (doc, m, k) = fixture();
    let y = &labels_of(&m, labels);
    let accuracy = |truth: &[u32], pred: &[u32]| {
        truth.iter().zip(pred).filter(|(t, p)| t == p).count() as f64 / truth.len() as f64
    };
    (folds_mean(&m.x, y, k, fit_predict, accuracy), their_mean(&doc, model))
}

/// Mean cross-validated R² of `fit_predict` on the regression target, and
/// scikit-learn's mean for `model` ("linear_regression_r2").
pub fn regress(
    model: &str,
    fit_predict: impl Fn(&[f64], &[f64], &[f64]) -> Vec<f64>,
) -> (f64, f64) {
    let (doc, m, k) = fixture();
    (folds_mean(&m.x, &m.target, k, fit_predict, r2), their_mean(&doc, model))
}

/// Mean cross-validated R² of `fit_predict` on [`regression_target`], and
/// scikit-learn's mean for `model` ("hist_gradient_boosting_regressor").
pub fn cross_validate_regression(
    model: &str,
    fit_predict: impl Fn(&[f64], &[f64], &[f64]) -> Vec<f64>,
) -> (f64, f64) {
    let (doc, m, k) = fixture();
    let target = regression_target(&m.x);
    (folds_mean(&m.x, &target, k, fit_predict, r2), their_mean(&doc, model))
}

fn labels_of(m: &Mid, labels: Labels) -> Vec<u32> {
    match labels {
        Labels::Binary => m.y.clone(),
        Labels::ThreeClass => m.y3.clone(),
        Labels::Banded => three_classes(&m.x),
    }
}

/// Coefficient of determination, as scikit-learn's `r2_score`.
pub fn r2(truth: &[f64], pred: &[f64]) -> f64 {
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let total: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    let residual: f64 = truth.iter().zip(pred).map(|(t, p)| (t - p) * (t - p)).sum();
    1.0 - residual / total
}

/// Fold 0's training rows, its first test rows, and scikit-learn's
/// probabilities for them.
#[derive(Debug, Clone)]
pub struct Fold0 {
    /// Training rows, row-major.
    pub train_x: Vec<f64>,
    /// Their labels.
    pub train_y: Vec<u32>,
    /// The first test rows, as many as `proba` has.
    pub test_x: Vec<f64>,
    /// scikit-learn's probabilities (`"{model}_proba"`), a row per test row.
    pub proba: Vec<Vec<f64>>,
}

/// [`Fold0`] for `model` on the chosen labels.
pub fn fold0_proba(model: &str, labels: Labels) -> Fold0 {
    let (doc, m, k) = fixture();
    let y = &labels_of(&m, labels);
    let proba: Vec<Vec<f64>> =
        serde_json::from_value(doc[format!("{model}_proba")].clone()).expect("proba");
    let (train, test) = fold(y.len(), k, 0);
    Fold0 {
        train_x: rows(&m.x, &train),
        train_y: train.iter().map(|&i| y[i]).collect(),
        test_x: rows(&m.x, &test[..proba.len()]),
        proba,
    }
}

/// Standardizes `train` in place with its own column means and population
/// standard deviations, and `others` with the same ones (scikit-learn's
/// `StandardScaler`, as the host's `scale = "standard"`).
pub fn standardize(train: &mut [f64], others: &mut [&mut [f64]]) {
    let n = (train.len() / COLS) as f64;
    for j in 0..COLS {
        let column = || train.iter().skip(j).step_by(COLS);
        let mean = column().sum::<f64>() / n;
        let var = column().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let sd = if var.sqrt() < 10.0 * f64::EPSILON { 1.0 } else { var.sqrt() };
        let rescale = |x: &mut [f64]| {
            x.iter_mut().skip(j).step_by(COLS).for_each(|v| *v = (*v - mean) / sd);
        };
        rescale(train);
        others.iter_mut().for_each(|x| rescale(x));
    }
}
