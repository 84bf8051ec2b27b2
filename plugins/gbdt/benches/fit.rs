//! Fit time of the gbdt plugin's defaults on the first 8,000 rows of the
//! generated `mid` data (20 features, binary labels), called as a Rust
//! library; `bench/gbdt_sklearn.py` times scikit-learn's
//! HistGradientBoostingClassifier() on the same rows. Measures, never
//! asserts.

use criterion::{Criterion, criterion_group, criterion_main};
use mlhost_plugin_api::{Classifier, Matrix, ParamSet, Regressor, StandaloneContext};
use mlhost_plugin_gbdt::{Gbdt, GbdtParams};

fn fit(c: &mut Criterion) {
    let (x, y) = mlhost_cart::testdata::mid(8000);
    let target = mlhost_cart::testdata::regression_target(&x);
    let three = mlhost_cart::testdata::three_classes(&x);
    let m = Matrix::new(&x, 8000, 20).unwrap();
    let p = GbdtParams::defaults();
    let mut g = c.benchmark_group("gbdt_fit_mid_8000x20");
    g.sample_size(10);
    g.bench_function("binary", |b| {
        b.iter(|| {
            let mut ctx = StandaloneContext::new(0, 2);
            <Gbdt as Classifier>::fit(&p, m, &y, &mut ctx.context()).unwrap()
        })
    });
    g.bench_function("three_classes", |b| {
        b.iter(|| {
            let mut ctx = StandaloneContext::new(0, 3);
            <Gbdt as Classifier>::fit(&p, m, &three, &mut ctx.context()).unwrap()
        })
    });
    g.bench_function("regression", |b| {
        b.iter(|| {
            let mut ctx = StandaloneContext::new(0, 0);
            <Gbdt as Regressor>::fit(&p, m, &target, &mut ctx.context()).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
