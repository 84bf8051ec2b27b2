//! Fit time on the generated `mid` data (`mlhost_cart::testdata`, 20
//! features, standardized as the host does for this candidate) at 10,000 and
//! 60,000 rows, two and three classes; scikit-learn's side is
//! `bench/linear_sklearn.py`. Measures, never asserts.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mlhost_cart::testdata::{COLS, generate, standardize};
use mlhost_plugin_api::{Classifier, Matrix, StandaloneContext};
use mlhost_plugin_logistic::{Logistic, LogisticParams};

fn fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("logistic_fit_mid");
    g.sample_size(10);
    for n in [10_000, 60_000] {
        let mut m = generate(n);
        standardize(&mut m.x, &mut []);
        let x = Matrix::new(&m.x, n, COLS).unwrap();
        let p = LogisticParams { c: 1.0, max_iter: 100, fit_intercept: true };
        for (name, y, k) in [("binary", &m.y, 2), ("3class", &m.y3, 3)] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                let mut ctx = StandaloneContext::new(0, k);
                b.iter(|| Logistic::fit(&p, x, y, &mut ctx.context()).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
