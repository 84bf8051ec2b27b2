//! The plugin against scikit-learn on the generated `mid` data (binary,
//! three classes, regression), and its contract: tree limits, reporting,
//! early stopping, the stop request, NaN, save and load.

use super::*;
use mlhost_cart::testdata;

fn params() -> GbdtParams {
    GbdtParams::defaults()
}

fn classify(
    p: &GbdtParams,
    x: &[f64],
    cols: usize,
    y: &[u32],
    ctx: &mut StandaloneContext,
) -> GbdtClassifier {
    let x = Matrix::new(x, y.len(), cols).unwrap();
    <Gbdt as Classifier>::fit(p, x, y, &mut ctx.context()).unwrap()
}

fn fit_predict(p: &GbdtParams, k: usize, x: &[f64], y: &[u32], q: &[f64]) -> Vec<u32> {
    let m = classify(p, x, 20, y, &mut StandaloneContext::new(0, k));
    let mut pred = vec![0; q.len() / 20];
    m.predict(Matrix::new(q, pred.len(), 20).unwrap(), &mut pred, k).unwrap();
    pred
}

/// Cross-validated accuracy within 0.01 of HistGradientBoostingClassifier()
/// on the same generated rows and unshuffled KFold(3).
#[test]
fn binary_accuracy_matches_scikit_learn() {
    let (ours, theirs) = testdata::cross_validate("hist_gradient_boosting", |x, y, q| {
        fit_predict(&params(), 2, x, y, q)
    });
    assert!((ours - theirs).abs() <= 0.01, "gbdt {ours:.4} vs scikit-learn {theirs:.4}");
}

/// Three classes: one tree per class per iteration, softmax probabilities.
#[test]
fn multiclass_accuracy_matches_scikit_learn() {
    let (ours, theirs) =
        testdata::classify("hist_gradient_boosting_3class", testdata::Labels::Banded, |x, y, q| {
            fit_predict(&params(), 3, x, y, q)
        });
    assert!((ours - theirs).abs() <= 0.01, "gbdt {ours:.4} vs scikit-learn {theirs:.4}");
}

/// Cross-validated R² within 0.01 of HistGradientBoostingRegressor().
#[test]
fn regression_r2_matches_scikit_learn() {
    let (ours, theirs) =
        testdata::cross_validate_regression("hist_gradient_boosting_regressor", |x, y, q| {
            let x = Matrix::new(x, y.len(), 20).unwrap();
            let mut ctx = StandaloneContext::new(0, 0);
            let m = <Gbdt as Regressor>::fit(&params(), x, y, &mut ctx.context()).unwrap();
            let mut pred = vec![0.0; q.len() / 20];
            m.predict(Matrix::new(q, pred.len(), 20).unwrap(), &mut pred).unwrap();
            pred
        });
    assert!((ours - theirs).abs() <= 0.01, "gbdt R² {ours:.4} vs scikit-learn {theirs:.4}");
}

#[test]
fn trees_keep_to_the_leaf_depth_and_row_limits() {
    let (x, y) = testdata::mid(600);
    let p = GbdtParams { max_iter: 5, max_leaf_nodes: 7, ..params() };
    let m = classify(&p, &x, 20, &y, &mut StandaloneContext::new(0, 2));
    assert!(m.0.trees().iter().all(|t| t.leaves() <= 7) && m.0.trees()[0].leaves() == 7);
    let p = GbdtParams { max_iter: 5, max_leaf_nodes: 0, max_depth: 2, ..params() };
    let m = classify(&p, &x, 20, &y, &mut StandaloneContext::new(0, 2));
    assert!(m.0.trees().iter().all(|t| t.depth() <= 2 && t.leaves() <= 4));
    // 600 rows and at least 200 per leaf: at most 3 leaves.
    let p = GbdtParams { max_iter: 5, min_samples_leaf: 200, ..params() };
    let m = classify(&p, &x, 20, &y, &mut StandaloneContext::new(0, 2));
    assert!(m.0.trees().iter().all(|t| t.leaves() <= 3));
}

#[test]
fn reports_every_iteration_and_stops_early_on_the_validation_loss() {
    let (x, y) = testdata::mid(1500);
    let mut ctx = StandaloneContext::new(0, 2);
    let m = classify(&GbdtParams { max_iter: 20, ..params() }, &x, 20, &y, &mut ctx);
    assert_eq!((ctx.reports.len(), m.iterations()), (20, 20));
    let names: Vec<&str> = ctx.reports[0].1.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["train_loss"], "auto: no validation below 10,000 rows");
    let first = ctx.reports[0].1[0].1;
    assert!(ctx.reports[19].1[0].1 < first && first < 2f64.ln());

    // A high learning rate overfits fast: the held-out loss stalls.
    let p = GbdtParams { learning_rate: 1.0, early_stopping: EarlyStopping::On, ..params() };
    let mut ctx = StandaloneContext::new(0, 2);
    let m = classify(&p, &x, 20, &y, &mut ctx);
    assert!(m.iterations() < 100 && m.iterations() == ctx.reports.len(), "{}", m.iterations());
    let (epochs, last) = (ctx.reports.len() as u32, &ctx.reports[ctx.reports.len() - 1]);
    assert_eq!(last.0, epochs);
    assert_eq!(
        last.1.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["train_loss", "val_loss"]
    );
}

#[test]
fn a_stop_request_ends_the_fit_with_stopped() {
    let (x, y) = testdata::mid(300);
    let mut ctx = StandaloneContext { stop: true, ..StandaloneContext::new(0, 2) };
    let x = Matrix::new(&x, 300, 20).unwrap();
    let err = <Gbdt as Classifier>::fit(&params(), x, &y, &mut ctx.context()).unwrap_err();
    assert_eq!((err.kind(), ctx.reports.len()), (ErrorKind::Stopped, 0));
}

#[test]
fn nan_does_not_crash_fit_or_predict() {
    let (mut x, y) = testdata::mid(400);
    x.iter_mut().step_by(7).for_each(|v| *v = f64::NAN);
    let m = classify(
        &GbdtParams { max_iter: 10, ..params() },
        &x,
        20,
        &y,
        &mut StandaloneContext::new(0, 2),
    );
    let mut p = vec![0.0; 800];
    m.predict_proba(Matrix::new(&x, 400, 20).unwrap(), &mut Proba::new(&mut p, 2).unwrap())
        .unwrap();
    assert!(p.chunks(2).all(|r| r[0].is_finite() && (r[0] + r[1] - 1.0).abs() < 1e-12));
    let bad = [f64::NAN, 1.0];
    let err = <Gbdt as Regressor>::fit(
        &params(),
        Matrix::new(&[0.0, 1.0], 2, 1).unwrap(),
        &bad,
        &mut StandaloneContext::new(0, 0).context(),
    );
    assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn importances_favour_the_informative_features_and_sum_to_one() {
    let (x, y) = testdata::mid(1000);
    let m = classify(
        &GbdtParams { max_iter: 30, ..params() },
        &x,
        20,
        &y,
        &mut StandaloneContext::new(0, 2),
    );
    let imp = m.feature_importances().unwrap();
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // The label depends on features 0 to 3 only.
    let signal: f64 = imp[..4].iter().sum();
    assert!(signal > 0.6 && imp[2] > imp[10], "{imp:?}");
}

#[test]
fn models_round_trip_through_postcard() {
    let (x, y) = testdata::mid(300);
    let three = testdata::three_classes(&x);
    let p = GbdtParams { max_iter: 10, ..params() };
    let m = classify(&p, &x, 20, &three, &mut StandaloneContext::new(0, 3));
    let back: GbdtClassifier = postcard::from_bytes(&postcard::to_allocvec(&m).unwrap()).unwrap();
    let (mut a, mut b) = (vec![0.0; 900], vec![0.0; 900]);
    let q = Matrix::new(&x, 300, 20).unwrap();
    m.predict_proba(q, &mut Proba::new(&mut a, 3).unwrap()).unwrap();
    back.predict_proba(q, &mut Proba::new(&mut b, 3).unwrap()).unwrap();
    assert_eq!(a, b);
    assert!(a.chunks(3).all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));

    let t: Vec<f64> = y.iter().map(|&l| f64::from(l) * 3.0 - 1.0).collect();
    let r =
        <Gbdt as Regressor>::fit(&p, q, &t, &mut StandaloneContext::new(0, 0).context()).unwrap();
    let back: GbdtRegressor = postcard::from_bytes(&postcard::to_allocvec(&r).unwrap()).unwrap();
    let (mut a, mut b) = (vec![0.0; 300], vec![0.0; 300]);
    r.predict(q, &mut a).unwrap();
    back.predict(q, &mut b).unwrap();
    assert_eq!(a, b);
}
